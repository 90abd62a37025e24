"""The attacker's S3 kit: callers of the S3 endpoint as each sees it, an agency (its keys from `agency
credentials --json`) or an anonymous citizen (no keys, unsigned), and the pieces of class s3's table (a
target, a row, the requests that take more than one call). Only what a client of the endpoint has: the suite
runs unchanged against another target."""

from __future__ import annotations

import json
import os
import urllib.parse
from collections.abc import Callable
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
from botocore.exceptions import ClientError

from govcloud_platform.names import bucket as bucket_of


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
        session: Any = boto3.session.Session()  # any service name: s3, s3tables
        return session.client(
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


DENIED = (ClientError, Refused)
OWN_KEY = "own.txt"  # an object each agency holds in its own bucket: the source of copies INTO the victim
# what an owner's read of an unset configuration answers: allowed, nothing there
EMPTY = {"NoSuchBucketPolicy", "NoSuchTagSet", "NoSuchLifecycleConfiguration", "NoSuchCORSConfiguration",
         "NoSuchTagSetError"}
PUBLIC = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": ["s3:*"],
                                                  "Resource": ["arn:aws:s3:::{b}", "arn:aws:s3:::{b}/*"]}]}


@dataclass(frozen=True)
class Target:
    """A fresh object of the victim and an open multipart upload of it (part 1 uploaded), made for one row;
    `owner` (the victim) answers what a request did to them."""

    owner: Caller
    bucket: str
    key: str
    body: bytes
    upload_key: str
    upload: str
    part_etag: str

    def exists(self, key: str) -> bool:
        try:
            self.owner.s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError:
            return False
        return True

    def upload_alive(self) -> bool:
        try:
            self.owner.s3.list_parts(Bucket=self.bucket, Key=self.upload_key, UploadId=self.upload)
        except ClientError:
            return False
        return True

    def listed(self, answer: dict[str, Any]) -> bool:
        """A listing answer names one of the target's keys."""
        keys = {o.get("Key") for o in [*answer.get("Contents", []), *answer.get("Versions", [])]}
        return bool(keys & {self.key, self.upload_key})


Op = Callable[[Caller, Target], Any]


@dataclass(frozen=True)
class Row:
    name: str
    op: Op
    owner: bool | None  # A on its own bucket: True must succeed, False must be refused, None: not asserted
    anonymous: bool = False  # also tried without any keys
    leak: Callable[[Any, Target], bool] | None = None  # for answers that are not refusals (listings)


def public_policy(b: str) -> str:
    return json.dumps(PUBLIC).replace("{b}", b)


def stolen_key(c: Caller) -> str:
    return f"stolen/{os.urandom(4).hex()}"


def delete_objects(c: Caller, t: Target, key: str | None = None, bucket: str | None = None) -> Any:
    out = c.s3.delete_objects(Bucket=bucket or t.bucket, Delete={"Objects": [{"Key": key or t.key}]})
    if out.get("Errors"):  # 200 with a refusal per key
        raise Refused(200, json.dumps(out["Errors"]))
    return out


def upload_part_copy(c: Caller, t: Target) -> Any:
    """A's object copied as a part of an upload into the caller's own bucket, completed."""
    assert c.home is not None
    key = stolen_key(c)
    upload = c.s3.create_multipart_upload(Bucket=c.home, Key=key)["UploadId"]
    try:
        part = c.s3.upload_part_copy(Bucket=c.home, Key=key, UploadId=upload, PartNumber=1,
                                     CopySource={"Bucket": t.bucket, "Key": t.key})
        parts = [{"PartNumber": 1, "ETag": part["CopyPartResult"]["ETag"]}]
        return c.s3.complete_multipart_upload(Bucket=c.home, Key=key, UploadId=upload,
                                              MultipartUpload={"Parts": parts})
    except BaseException:
        c.s3.abort_multipart_upload(Bucket=c.home, Key=key, UploadId=upload)
        raise


def presigned_post(c: Caller, t: Target, key: str | None = None, bucket: str | None = None,
                   fields: dict[str, str] | None = None, url_bucket: str | None = None) -> Any:
    """A browser form upload (POST policy) signed by `c` for `bucket`; `fields` added to the form, sent to
    `url_bucket`'s URL if given."""
    post = c.s3.generate_presigned_post(Bucket=bucket or t.bucket, Key=key or t.key + ".posted")
    url = f"{c.endpoint}/{url_bucket}" if url_bucket else post["url"]
    return c.ok(c.session.post(url, data={**post["fields"], **(fields or {})}, files={"file": ("f", b"posted")},
                               verify=c.ca_file, timeout=15))


def head_oracle(c: Caller, t: Target) -> tuple[int, int]:
    """HeadBucket's status on A's bucket and on one that does not exist: different answers tell which
    agencies exist."""
    def status(b: str) -> int:
        try:
            return int(c.s3.head_bucket(Bucket=b)["ResponseMetadata"]["HTTPStatusCode"])
        except ClientError as exc:
            return int(exc.response["ResponseMetadata"]["HTTPStatusCode"])
    return status(t.bucket), status(bucket_of("sec-nobody-here"))


def tables(c: Caller) -> Any:
    return c.client("s3tables")


def table_arn(t: Target) -> str:
    return f"arn:aws:s3tables:us-east-1:000000000000:bucket/{t.bucket}"


def form(service: str, action: str, **params: str) -> Op:
    version = "2011-06-15" if service == "sts" else "2010-05-08"
    return lambda c, t: c.post_form(service, {"Action": action, "Version": version, **params})


def traversal(t: Target) -> str:
    return f"../{t.bucket}/{t.key}"


TAGS = {"TagSet": [{"Key": "owner", "Value": "intruder"}]}
LIFECYCLE = {"Rules": [{"ID": "x", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 1}}]}
CORS = {"CORSRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}]}
SSE = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
LOCK = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 3650}}}
RETAIN = {"Mode": "COMPLIANCE", "RetainUntilDate": "2036-01-01T00:00:00Z"}
BLOCK = {"BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": False,
         "RestrictPublicBuckets": False}
WEB_TOKEN = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJpbnRydWRlciJ9."
