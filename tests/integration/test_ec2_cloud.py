"""The boto3 side of the `ec2` target (govcloud_platform.iaas.ec2_cloud) against moto's server on 127.0.0.1:
an EC2 emulator speaking the real wire protocol (a real HTTP server and the real boto3 client; not a cloud: it
checks our requests and our reading of the answers, not Eucalyptus' own behaviour).

What is asserted: the checks before `up` find a missing image (and name the image of the same name), a missing
instance type and a missing availability zone, each naming the spec key; a spec that matches the cloud passes;
the operator's key is imported once and never replaced; the state bucket of an s3:// backend is created on the
cloud's object storage."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from govcloud_platform.errors import InputError
from govcloud_platform.iaas.ec2_cloud import check, client, import_operator_key, lookup_image, prepare
from govcloud_platform.spec import Spec, load_spec_text
from govcloud_platform.spec.ec2 import Ec2Settings
from govcloud_platform.spec.example import EXAMPLE_SPEC

pytestmark = [pytest.mark.integration]
REGION = "us-east-1"  # moto's zones are us-east-1a..f


def _public_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    public = Ed25519PrivateKey.generate().public_key()
    return public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


KEY = _public_key()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    """moto in server mode on a free port of 127.0.0.1, for this module; stopped afterwards."""
    port = _free_port()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture(autouse=True)
def _credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")


def _settings(url: str, **changes: Any) -> Ec2Settings:
    raw: dict[str, Any] = {"region": REGION, "allowed_regions": [REGION], "allowed_availability_zones": ["us-east-1a"],
                           "endpoints": {k: url for k in ("ec2", "s3", "iam", "sts")}, **changes}
    return Ec2Settings.model_validate(raw)


@pytest.fixture(scope="module")
def images(moto_url: str) -> dict[str, str]:
    """Two images registered in the emulator under the names the spec uses (as an operator would upload them)."""
    with pytest.MonkeyPatch.context() as mp:  # before the per-test credentials fixture runs
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        ec2 = client(_settings(moto_url))
        base = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        instance = ec2.run_instances(ImageId=base, MinCount=1, MaxCount=1, InstanceType="t2.micro")
        instance_id = instance["Instances"][0]["InstanceId"]
        made = {name: ec2.create_image(InstanceId=instance_id, Name=name)["ImageId"]
                for name in ("Debian 12", "Ubuntu 24.04")}
        ec2.terminate_instances(InstanceIds=[instance_id])
    return made


def test_a_spec_that_matches_the_cloud_passes(moto_url: str, images: dict[str, str]) -> None:
    settings = _settings(moto_url, amis=images)
    assert check(client(settings), settings) == []


def test_a_missing_image_is_named_with_the_image_of_that_name(moto_url: str, images: dict[str, str]) -> None:
    settings = _settings(moto_url, amis={**images, "Debian 12": "emi-0000d012"})
    problems = check(client(settings), settings)
    assert problems == [f"platform.ec2.amis.Debian 12: image emi-0000d012 does not exist or is not available: an "
                        f"image named 'Debian 12' is {images['Debian 12']}"]
    assert lookup_image(client(settings), "Debian 12") == images["Debian 12"]
    assert lookup_image(client(settings), "Plan 9") is None


def test_a_missing_instance_type_and_zone_are_named(moto_url: str, images: dict[str, str]) -> None:
    settings = _settings(moto_url, amis=images, instance_types={
        "SCS-1V-2": "t2.small", "SCS-2V-4": "t2.medium", "SCS-2V-8": "m5.large", "SCS-4V-16": "euca.huge"},
        allowed_availability_zones=["us-east-1a", "atlantis-1a"])
    problems = check(client(settings), settings)
    assert any(p.startswith("platform.ec2: availability zone 'atlantis-1a' does not exist") for p in problems)
    assert "platform.ec2.instance_types.SCS-4V-16: instance type 'euca.huge' is not offered by the cloud" in problems
    assert len(problems) == 2, problems


def test_the_operator_key_is_imported_once_and_never_replaced(moto_url: str) -> None:
    ec2 = client(_settings(moto_url))
    with pytest.raises(InputError, match="platform.ec2.ssh_public_key: the cloud refuses it"):
        import_operator_key(ec2, "govcloud-test-operator", Ec2Settings().ssh_public_key)  # the placeholder
    assert import_operator_key(ec2, "govcloud-test-operator", KEY) is True
    assert import_operator_key(ec2, "govcloud-test-operator", KEY) is False
    pairs = ec2.describe_key_pairs(KeyNames=["govcloud-test-operator"])["KeyPairs"]
    assert len(pairs) == 1


def _spec(url: str, **ec2: Any) -> Spec:
    raw = load_spec_text(EXAMPLE_SPEC).model_dump()
    raw["platform"]["target"] = "ec2"
    raw["platform"]["ec2"] = _settings(url, ssh_public_key=KEY, **ec2).model_dump()
    return Spec.model_validate(raw)


def test_prepare_refuses_a_wrong_spec_and_imports_the_key_of_a_right_one(
        moto_url: str, images: dict[str, str]) -> None:
    with pytest.raises(InputError, match=r"amis\.Debian 12: image emi-0000d012 does not exist"):
        prepare(_spec(moto_url, amis={**images, "Debian 12": "emi-0000d012"}))
    ec2 = client(_settings(moto_url))
    assert not ec2.describe_key_pairs(Filters=[{"Name": "key-name", "Values": ["govcloud-demo-operator"]}])["KeyPairs"]
    said: list[str] = []
    prepare(_spec(moto_url, amis=images), said.append)
    assert said == ["imported key pair govcloud-demo-operator"]
    assert ec2.describe_key_pairs(KeyNames=["govcloud-demo-operator"])["KeyPairs"]


def test_the_state_bucket_is_made_on_the_clouds_object_storage(moto_url: str) -> None:
    from govcloud_platform.iaas.backend import ensure_s3_bucket

    ensure_s3_bucket("s3://govcloud-state/demo", moto_url)
    ensure_s3_bucket("s3://govcloud-state/demo", moto_url)  # idempotent
    s3 = client(_settings(moto_url), "s3")
    assert "govcloud-state" in {b["Name"] for b in s3.list_buckets()["Buckets"]}


def test_the_runner_checks_the_cloud_before_pulumi_runs(
        moto_url: str, images: dict[str, str], tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """`iaas preview` on the ec2 target: a spec naming an image the cloud lacks stops at the check, before any
    stack is touched (a stand-in `pulumi` on PATH that fails if it is ever run)."""
    from govcloud_platform.iaas.runner import run

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pulumi").write_text("#!/bin/sh\necho 'pulumi must not run' >&2\nexit 99\n")
    (bin_dir / "pulumi").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    events: list[str] = []
    with pytest.raises(InputError, match=r"platform\.ec2\.amis\.Debian 12"):
        run(_spec(moto_url, amis={**images, "Debian 12": "emi-0000d012"}), tmp_path / "home", "preview",
            progress=events.append)
    assert events == []  # no stack was started
    assert not (tmp_path / "home" / "pulumi" / "work" / "platform").exists()
