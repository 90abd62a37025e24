"""Clients of the S3 endpoint as one caller sees it: an agency (its keys from `agency credentials --json`) or
an anonymous citizen (no keys, unsigned). Only what a client of the endpoint has: the suite runs unchanged
against another target."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import boto3
import botocore
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials


class Refused(Exception):  # noqa: N818 - what the server did, as the suite's `denied` exceptions say
    """The server answered a raw request (or a 200 carrying per-key errors) with a refusal."""

    def __init__(self, status: int, text: str = "") -> None:
        super().__init__(f"HTTP {status} {text[:120]}")
        self.status = status


@dataclass
class Caller:
    """One caller of the S3 endpoint. `creds` is the `storage` part of `agency credentials`; None with
    `endpoint`/`ca_file` for an anonymous caller."""

    name: str
    endpoint: str
    ca_file: str
    access_key: str | None = None
    secret_key: str | None = None
    home: str | None = None  # the caller's own bucket (None: anonymous)
    session: requests.Session = field(default_factory=requests.Session, repr=False)

    def __post_init__(self) -> None:
        self.session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify=

    @classmethod
    def agency(cls, name: str, creds: dict[str, Any]) -> Caller:
        return cls(name, creds["endpoint"], creds["ca_file"], creds["access_key"], creds["secret_key"], creds["bucket"])

    @classmethod
    def anonymous(cls, like: Caller) -> Caller:
        return cls("anonymous", like.endpoint, like.ca_file)

    def client(self, service: str, signature: str = "s3v4") -> Any:
        cfg = Config(
            s3={"addressing_style": "path"}, request_checksum_calculation="when_required",
            response_checksum_validation="when_required", retries={"max_attempts": 1},
            signature_version=botocore.UNSIGNED if self.access_key is None else signature,
        )
        return boto3.session.Session().client(
            service, endpoint_url=self.endpoint, aws_access_key_id=self.access_key or "-",
            aws_secret_access_key=self.secret_key or "-", region_name="us-east-1", verify=self.ca_file, config=cfg)

    @cached_property
    def s3(self) -> Any:
        return self.client("s3")

    @cached_property
    def s3v2(self) -> Any:
        """The legacy signature (SigV2), header and query-string forms."""
        return self.client("s3", signature="s3")

    def raw(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
            service: str = "s3") -> requests.Response:
        """One request as the caller: SigV4-signed for `service` with its keys, or unsigned if anonymous."""
        url = self.endpoint + path
        hdrs = dict(headers or {})
        if self.access_key is not None:
            req = AWSRequest(method=method, url=url, data=body, headers=hdrs)
            req.headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD"
            SigV4Auth(Credentials(self.access_key, self.secret_key or ""), service, "us-east-1").add_auth(req)
            prepared = req.prepare()
            url, hdrs = prepared.url, dict(prepared.headers)
        return self.session.request(method, url, data=body, headers=hdrs, verify=self.ca_file, timeout=15)

    def ok(self, resp: requests.Response) -> requests.Response:
        """The response if 2xx, else Refused: a raw request's refusal as an exception, like boto3's."""
        if not 200 <= resp.status_code < 300:
            raise Refused(resp.status_code, resp.text)
        return resp

    def get_url(self, url: str) -> requests.Response:
        return self.ok(self.session.get(url, verify=self.ca_file, timeout=15))

    def put_url(self, url: str, body: bytes) -> requests.Response:
        return self.ok(self.session.put(url, data=body, verify=self.ca_file, timeout=15))

    def post_form(self, service: str, params: dict[str, str]) -> requests.Response:
        """An IAM/STS-style call (form-encoded POST to /), signed for `service`."""
        body = urllib.parse.urlencode(params).encode()
        return self.ok(self.raw("POST", "/", body, {"Content-Type": "application/x-www-form-urlencoded"}, service))
