"""The agency's bucket (S3, boto3): a thin adapter. The centre writes only under `centre/` (documents) and the
two open data files under `opendata/`; objects are private (no ACL is ever set: SeaweedFS serves nothing to an
anonymous request, and another agency's keys are confined to their own bucket). The keys come from the 0600
env file, never from the command line or the process environment."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class BucketSettings:
    endpoint: str
    bucket: str
    access_key: str
    secret_key: str
    ca_file: str | None = None  # verifies an https endpoint (the box CA)


class Bucket:
    def __init__(self, settings: BucketSettings) -> None:
        import boto3
        from botocore.config import Config

        self.name = settings.bucket
        config = Config(s3={"addressing_style": "path"}, signature_version="s3v4", retries={"max_attempts": 2},
                        request_checksum_calculation="when_required", response_checksum_validation="when_required",
                        connect_timeout=5, read_timeout=30)
        self.client: Any = boto3.session.Session().client(
            "s3", endpoint_url=settings.endpoint, aws_access_key_id=settings.access_key,
            aws_secret_access_key=settings.secret_key, region_name="us-east-1",
            verify=settings.ca_file if settings.endpoint.startswith("https:") and settings.ca_file else True,
            config=config)

    def put(self, key: str, body: bytes, media_type: str, sha256: str) -> None:
        self.client.put_object(Bucket=self.name, Key=key, Body=body, ContentType=media_type,
                               Metadata={"sha256": sha256})

    def get(self, key: str) -> bytes:
        body: bytes = self.client.get_object(Bucket=self.name, Key=key)["Body"].read()
        return body

    def sha256_of(self, key: str) -> str | None:
        """The SHA-256 recorded with the object, or None when there is no such object."""
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self.name, Key=key)
        except ClientError as exc:
            if _missing(exc):
                return None
            raise
        value = head.get("Metadata", {}).get("sha256")
        return str(value) if value else ""

    def copy(self, source: str, target: str, tags: Mapping[str, str] | None = None) -> None:
        """Server-side copy (metadata kept); `tags` become the target's object tags (e.g. its retention class)."""
        extra: dict[str, Any] = {}
        if tags:
            extra = {"Tagging": "&".join(f"{k}={v}" for k, v in tags.items()), "TaggingDirective": "REPLACE"}
        self.client.copy_object(Bucket=self.name, Key=target, CopySource={"Bucket": self.name, "Key": source},
                                MetadataDirective="COPY", **extra)

    def tags(self, key: str) -> dict[str, str] | None:
        """The object's tags, or None when there is no such object."""
        from botocore.exceptions import ClientError

        try:
            found = self.client.get_object_tagging(Bucket=self.name, Key=key)["TagSet"]
        except ClientError as exc:
            if _missing(exc):
                return None
            raise
        return {t["Key"]: t["Value"] for t in found}

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.name, Key=key)

    def listed(self, prefix: str) -> Iterator[tuple[str, datetime]]:
        """(key, last modified) of every object under `prefix`."""
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix):
            for item in page.get("Contents", []):
                yield str(item["Key"]), item["LastModified"]


def _missing(exc: Any) -> bool:
    return exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")
