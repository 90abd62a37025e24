"""Where Pulumi keeps state and secrets: a file:// backend in the box directory by default, or an s3://
bucket on the cloud's object storage; a passphrase secrets provider with the passphrase in a 0600 file."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from govcloud_platform.spec import Spec


@dataclass(frozen=True)
class Backend:
    url: str
    passphrase_file: Path
    work_root: Path

    def work_dir(self, stack: str) -> Path:
        return self.work_root / stack


def backend_for(spec: Spec, home: Path) -> Backend:
    root = home.resolve() / "pulumi"
    from govcloud_platform.iaas.providers import iaas_settings

    url = iaas_settings(spec).backend_url or f"file://{root / 'state'}"
    if url.startswith("file://"):
        Path(url.removeprefix("file://")).mkdir(parents=True, exist_ok=True)
    return Backend(url=url, passphrase_file=root / "passphrase", work_root=root / "work")


def passphrase(backend: Backend) -> str:
    """Read the passphrase, creating it (0600) on first use. Losing it loses the stacks' secrets."""
    path = backend.passphrase_file
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(secrets.token_urlsafe(32) + "\n")
    return path.read_text(encoding="utf-8").strip()


def ensure_s3_bucket(url: str, endpoint: str | None) -> None:
    """Create the state bucket of an s3:// backend if it does not exist (boto3, credentials from the env)."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    bucket = url.removeprefix("s3://").split("/", 1)[0].split("?", 1)[0]
    client = boto3.client(
        "s3", endpoint_url=endpoint,
        config=Config(request_checksum_calculation="when_required", response_checksum_validation="when_required"),
    )
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError:
        client.create_bucket(Bucket=bucket)
