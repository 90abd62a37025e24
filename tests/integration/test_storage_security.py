"""SeaweedFS is reachable only through the S3 gateway: a local process without the box's keys (an agency's app
runs as a local user) gets nothing from the filer, master and volume server HTTP ports, the gRPC ports or
`weed shell`. Proven with plain clients against the session box; agencies' own S3 access still works."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from botocore.exceptions import ClientError

from govcloud_platform.box.context import Box
from govcloud_platform.box.ports import GRPC_PORTS, GRPC_SHIFT
from govcloud_platform.box.services import weed_security
from govcloud_platform.box.services.storage import dynamic_identities, weed_binary, weed_shell
from tests.conftest import BoxHandle
from tests.integration.test_agencies import s3_for

pytestmark = pytest.mark.integration
SLUG = "revenue"
BUCKET = f"ag-{SLUG}"
KEY = "payroll.csv"
BODY = b"name,salary\nalice,123456\n"
REFUSED = (401, 403, 404)  # 401: no or bad JWT; 404: the master's and filer's HTTP APIs are off


@pytest.fixture(scope="module")
def agency(box: BoxHandle) -> Iterator[dict[str, Any]]:
    result = box.cli("--json", "apply")
    assert result.rc == 0, result.stderr
    creds = box.cli("--json", "agency", "credentials", SLUG, "--show-secrets")
    assert creds.rc == 0, creds.stderr
    storage: dict[str, Any] = creds.json()["storage"]
    s3_for(storage).put_object(Bucket=BUCKET, Key=KEY, Body=BODY)
    yield storage


def http(
    url: str, method: str = "GET", data: bytes | None = None, token: str | None = None,
    context: ssl.SSLContext | None = None,
) -> tuple[int, bytes]:
    req = urllib.request.Request(url, method=method, data=data)  # noqa: S310 - loopback URLs of the test
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10, context=context) as resp:  # noqa: S310
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def own_object(storage: dict[str, Any]) -> bytes:
    body: bytes = s3_for(storage).get_object(Bucket=BUCKET, Key=KEY)["Body"].read()
    return body


def test_agency_s3_keys_still_work(agency: dict[str, Any]) -> None:
    s3 = s3_for(agency)
    s3.put_object(Bucket=BUCKET, Key="hello.txt", Body=b"hello")
    assert s3.get_object(Bucket=BUCKET, Key="hello.txt")["Body"].read() == b"hello"
    assert {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]} >= {KEY, "hello.txt"}
    s3.delete_object(Bucket=BUCKET, Key="hello.txt")
    with pytest.raises(ClientError):
        s3.get_object(Bucket="ag-health", Key=KEY)


@pytest.mark.parametrize(("method", "path"), [
    ("GET", f"/buckets/{BUCKET}/{KEY}"),
    ("GET", f"/buckets/{BUCKET}/{KEY}?metadata=true"),
    ("GET", f"/buckets/{BUCKET}/"),
    ("PUT", f"/buckets/{BUCKET}/{KEY}"),
    ("POST", f"/buckets/{BUCKET}/planted.txt"),
    ("DELETE", f"/buckets/{BUCKET}/{KEY}"),
    ("GET", f"/etc/iam/identities/{BUCKET}.json"),
    ("GET", "/etc/iam/identities/"),
    ("PUT", "/etc/iam/identities/intruder.json"),
])
def test_filer_http_refuses_anonymous_clients(box: BoxHandle, agency: dict[str, Any], method: str, path: str) -> None:
    b = box.box()
    data = b"tampered" if method in ("PUT", "POST") else None
    status, body = http(f"http://{b.address}:{b.ports.weed_filer}{path}", method, data)
    assert status in REFUSED, (status, body[:200])
    assert b"salary" not in body and agency["secret_key"].encode() not in body
    assert own_object(agency) == BODY
    assert "intruder" not in dynamic_identities(b)


def test_filer_http_refuses_a_token_signed_with_another_key(box: BoxHandle, agency: dict[str, Any]) -> None:
    b = box.box()
    forged = jwt.encode({"exp": int(time.time()) + 10}, "x" * 32, algorithm="HS256")
    status, body = http(f"http://{b.address}:{b.ports.weed_filer}/etc/iam/identities/{BUCKET}.json", token=forged)
    assert status in REFUSED and agency["secret_key"].encode() not in body


@pytest.mark.parametrize("path", [
    "/dir/assign", "/dir/lookup?volumeId=1", "/vol/status", "/dir/status", f"/col/delete?collection={BUCKET}",
])
def test_master_http_api_is_off(box: BoxHandle, agency: dict[str, Any], path: str) -> None:
    """Open, it hands out write JWTs (/dir/assign) and deletes a whole bucket's volumes (/col/delete)."""
    status, body = http(f"http://{box.box().address}:{box.box().ports.weed_master}{path}")
    assert status in REFUSED, (status, body[:200])
    assert own_object(agency) == BODY


def first_fid(b: Box, path: str) -> str:
    meta = weed_shell(b, [f"fs.meta.cat {path}"])
    doc = json.loads(meta[meta.index("{"): meta.rindex("}") + 1])
    fid: str = doc["chunks"][0]["fileId"]
    return fid


def tls_client(b: Box, cert: Path | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(b.ca_file))
    ctx.check_hostname = False
    if cert is not None:
        ctx.load_cert_chain(cert, cert.with_suffix(".key"))
    return ctx


def test_volume_server_needs_the_client_certificate_and_then_a_jwt(box: BoxHandle, agency: dict[str, Any]) -> None:
    b = box.box()
    fid = first_fid(b, f"/buckets/{BUCKET}/{KEY}")
    # plain HTTP, and HTTPS without a client certificate: refused before any request is read
    status, body = http(f"http://{b.address}:{b.ports.weed_volume}/{fid}")
    assert status == 400 and b"salary" not in body
    for path in (fid, "status", "ui/index.html"):
        with pytest.raises(OSError):  # URLError, or the TLS alert itself
            http(f"https://{b.address}:{b.ports.weed_volume}/{path}", context=tls_client(b, None))
    # with the box's client certificate (which only root can read): every needle still wants a JWT
    url, ctx = f"https://{b.address}:{b.ports.weed_volume}/{fid}", tls_client(b, certs(b) / "weed-client.pem")
    forged = jwt.encode({"fid": fid, "exp": int(time.time()) + 10}, "x" * 32, algorithm="HS256")
    for method, data, token in [("GET", None, None), ("GET", None, forged), ("DELETE", None, None),
                                ("DELETE", None, forged), ("POST", b"tampered", None), ("PUT", b"tampered", forged)]:
        status, body = http(url, method, data, token, ctx)
        assert status in (401, 403), (method, status, body[:200])
        assert b"salary" not in body
    status, _ = http(f"https://{b.address}:{b.ports.weed_volume}/ui/index.html", context=ctx)
    assert status in (401, 403)
    # the fid is real: a token signed with the box's read key gets the object
    read = jwt.encode({"fid": fid, "exp": int(time.time()) + 10},
                      weed_security.jwt_key(b, "jwt.signing.read"), algorithm="HS256")
    assert http(url, token=read, context=ctx) == (200, BODY)
    assert own_object(agency) == BODY


def certs(b: Box) -> Path:
    return b.ca.directory / "certs"


def grpc_handshake(address: str, port: int, ca: Path, cert: Path | None) -> bool:
    """True if a TLS client (presenting `cert`, if any) gets the server's HTTP/2 SETTINGS frame."""
    ctx = ssl.create_default_context(cafile=str(ca))
    ctx.check_hostname = False
    ctx.set_alpn_protocols(["h2"])
    if cert is not None:
        ctx.load_cert_chain(cert, cert.with_suffix(".key"))
    with socket.create_connection((address, port), timeout=5) as raw:
        try:
            with ctx.wrap_socket(raw) as tls:
                tls.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes.fromhex("000000040000000000"))
                return tls.recv(9)[3:4] == b"\x04"
        except (ssl.SSLError, ConnectionError):
            return False


def plaintext_grpc_answers(address: str, port: int) -> bool:
    with socket.create_connection((address, port), timeout=5) as raw:
        raw.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes.fromhex("000000040000000000"))
        try:
            return raw.recv(9)[3:4] == b"\x04"
        except ConnectionError:
            return False


@pytest.mark.parametrize("label", GRPC_PORTS)
def test_grpc_ports_need_the_box_client_certificate(box: BoxHandle, agency: dict[str, Any], label: str) -> None:
    b = box.box()
    port = getattr(b.ports, label) + GRPC_SHIFT
    assert not plaintext_grpc_answers(b.address, port)
    assert not grpc_handshake(b.address, port, b.ca_file, None)
    assert not grpc_handshake(b.address, port, b.ca_file, certs(b) / "s3.pem")  # a box certificate, but no client usage
    assert grpc_handshake(b.address, port, b.ca_file, certs(b) / f"{weed_security.CLIENT}.pem")  # the control


def shell_as_outsider(b: Box, workdir: Path, commands: list[str]) -> subprocess.CompletedProcess[str] | None:
    """`weed shell` from a directory of our choosing (and HOME there: no ~/.seaweedfs); None if it hung
    (it retries the master forever when refused)."""
    env = {**os.environ, "HOME": str(workdir)}
    try:
        return subprocess.run(
            [weed_binary(), "shell", f"-master={b.address}:{b.ports.weed_master}"], cwd=workdir, env=env,
            input="\n".join([*commands, "exit"]) + "\n", capture_output=True, text=True, timeout=10, check=False,
        )
    except subprocess.TimeoutExpired:
        return None


def intruder_commands(bucket: str) -> list[str]:
    return [f"s3.configure -user=intruder -access_key=INTRUDERKEY -secret_key=intrudersecret0123456789 "
            f"-buckets={bucket} -actions=Read,Write,List -apply",
            "s3.iam.export", f"fs.cat /etc/iam/identities/{bucket}.json"]


def assert_shell_got_nothing(b: Box, agency: dict[str, Any], result: subprocess.CompletedProcess[str] | None) -> None:
    if result is not None:
        assert agency["secret_key"] not in result.stdout + result.stderr
        assert '"identities"' not in result.stdout
    assert "intruder" not in dynamic_identities(b)


def test_weed_shell_without_the_client_certificate_is_refused(
    box: BoxHandle, agency: dict[str, Any], tmp_path: Path
) -> None:
    b = box.box()
    assert_shell_got_nothing(b, agency, shell_as_outsider(b, tmp_path, intruder_commands(BUCKET)))


def test_weed_shell_with_a_box_certificate_of_another_name_is_refused(
    box: BoxHandle, agency: dict[str, Any], tmp_path: Path
) -> None:
    """allowed_commonNames: a certificate of the box CA that is not one of SeaweedFS's own gets nothing."""
    b = box.box()
    cert, key = b.ca.issue("weed-test-intruder", ["intruder"], [b.address], client=True)
    try:
        (tmp_path / "security.toml").write_text(
            f'[grpc]\nca = "{b.ca_file}"\n[grpc.client]\ncert = "{cert}"\nkey = "{key}"\n')
        assert_shell_got_nothing(b, agency, shell_as_outsider(b, tmp_path, intruder_commands(BUCKET)))
    finally:
        cert.unlink()
        key.unlink()


def test_unix_sockets_refuse_other_users(box: BoxHandle, agency: dict[str, Any]) -> None:
    """weed also serves gRPC on /tmp/seaweedfs-*.sock and the S3 gateway and filer on sockets in the box, without
    TLS: root's only."""
    b = box.box()
    ports = [p for _, label, p in b.ports.all() if label.startswith(("weed_", "s3_http"))]
    sockets = [s for s in Path("/tmp").glob("seaweedfs-*.sock") if int(s.stem.rsplit("-", 1)[1]) in ports]
    in_box = sorted((b.home / "s3").glob("*.sock"))
    assert sockets and [s.name for s in in_box] == ["filer.sock", "s3.sock"]
    sockets += in_box
    probe = "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ntry:\n s.connect(sys.argv[1]); print('open')\n" \
            "except PermissionError:\n print('denied')\n"
    for path in sockets:
        assert path.stat().st_mode & 0o002 == 0, path
        out = subprocess.run(["python3", "-c", probe, str(path)], user=65534, group=65534, capture_output=True,
                             text=True, timeout=10, check=False, cwd="/")
        assert out.stdout.strip() == "denied", (path, out.stdout, out.stderr)


def test_security_configuration_is_private(box: BoxHandle) -> None:
    b = box.box()
    toml = weed_security.security_file(b)
    assert toml.stat().st_mode & 0o777 == 0o600
    text = toml.read_text()
    assert all(f"[{s}]" in text for s in weed_security.JWT_KEYS) and "[grpc.client]" in text
    for name in [*weed_security.COMPONENTS.values(), weed_security.CLIENT]:
        assert (b.ca.directory / "certs" / f"{name}.key").stat().st_mode & 0o077 == 0


def test_the_s3_port_serves_no_iam_api(box: BoxHandle, agency: dict[str, Any]) -> None:
    """SeaweedFS embeds an IAM API in the S3 port (on by default, read-only by default). Identities are the
    platform's business (weed shell), so it is off: not even the admin identity can list users or mint keys."""
    import boto3
    from botocore.exceptions import BotoCoreError
    from botocore.parsers import ResponseParserError  # what the S3 port answers an IAM call with: an empty error

    handle_box = box.box()
    admin = handle_box.s3_client()._request_signer._credentials
    for access_key, secret_key in ((admin.access_key, admin.secret_key), (agency["access_key"], agency["secret_key"])):
        iam = boto3.session.Session().client(
            "iam", endpoint_url=handle_box.s3_endpoint, aws_access_key_id=access_key,
            aws_secret_access_key=secret_key, region_name="us-east-1", verify=str(handle_box.ca_file))
        for call in (lambda: iam.list_users(), lambda: iam.get_user(UserName=BUCKET),
                     lambda: iam.list_access_keys(UserName=BUCKET), lambda: iam.create_access_key(UserName=BUCKET)):
            with pytest.raises((ClientError, BotoCoreError, ResponseParserError)):
                call()
    assert [c["accessKey"] for c in dynamic_identities(handle_box)[BUCKET]["credentials"]] == [agency["access_key"]]


def test_seaweedfs_honours_a_public_policy_or_acl_so_no_agency_may_set_one(box: BoxHandle) -> None:
    """Why the agencies' identities carry no PutBucketPolicy nor WriteAcp (tests/security/test_s3.py proves them
    refused): set by the admin identity, a public policy or a public-read ACL does open a bucket to anyone
    without keys. Open data is published through the opendata app, never by a public bucket."""
    import requests

    b = box.box()
    admin, bucket = b.s3_client(), "govcloud-test-public"
    admin.create_bucket(Bucket=bucket)
    try:
        admin.put_object(Bucket=bucket, Key="k.txt", Body=b"would be public")
        url = f"{b.s3_endpoint}/{bucket}/k.txt"

        def anonymous_get(expected: int) -> int:
            """The status an anonymous GET settles on (a bucket's configuration reaches the gateway within ~1 s)."""
            for _ in range(20):
                status = requests.get(url, verify=str(b.ca_file), timeout=10).status_code
                if status == expected:
                    break
                time.sleep(0.25)
            return status

        assert anonymous_get(403) == 403
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
                                                         "Action": "s3:GetObject",
                                                         "Resource": f"arn:aws:s3:::{bucket}/*"}]}
        admin.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
        assert anonymous_get(200) == 200
        admin.delete_bucket_policy(Bucket=bucket)
        assert anonymous_get(403) == 403
        admin.put_bucket_acl(Bucket=bucket, ACL="public-read")
        assert anonymous_get(200) == 200
        admin.put_bucket_acl(Bucket=bucket, ACL="private")
        assert anonymous_get(403) == 403
    finally:
        admin.delete_object(Bucket=bucket, Key="k.txt")
        admin.delete_bucket(Bucket=bucket)
