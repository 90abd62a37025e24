"""The walking skeleton on real servers: every service healthy, real clients, idempotent up, clean down."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import psycopg
import pytest
import requests

from govcloud_platform.box.services.backups import pgbackrest
from tests.conftest import GOVCLOUD, BoxHandle, assert_one_error, make_box, run_cli, teardown_box

pytestmark = pytest.mark.integration


def test_status_json_reports_every_service_healthy(box: BoxHandle) -> None:
    result = box.cli("--json", "status")
    assert result.rc == 0, result.stderr
    doc = result.json()
    assert os.path.exists(doc["ca_file"])
    names = {s["name"]: s for s in doc["services"]}
    assert set(names) == {"storage", "database", "identity", "backups", "mail", "signing"}
    for svc in doc["services"]:
        assert svc["healthy"] is True, svc
        assert set(svc) >= {"name", "healthy", "endpoint", "pid"}
    assert isinstance(names["database"]["pid"], int)


def test_s3_admin_put_and_get_over_https_verifying_box_ca(box: BoxHandle) -> None:
    s3 = box.box().s3_client()
    bucket = f"smoke-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="hello.txt", Body=b"hello govcloud")
    assert s3.get_object(Bucket=bucket, Key="hello.txt")["Body"].read() == b"hello govcloud"
    s3.delete_object(Bucket=bucket, Key="hello.txt")
    s3.delete_bucket(Bucket=bucket)


def test_s3_refuses_a_client_that_does_not_trust_the_box_ca(box: BoxHandle) -> None:
    b = box.box()
    with pytest.raises(requests.exceptions.SSLError):
        s = requests.Session()
        s.trust_env = False
        s.get(b.s3_endpoint, verify=True, timeout=5)


def test_postgres_over_tls_verify_full(box: BoxHandle) -> None:
    b = box.box()
    with psycopg.connect(**b.pg_conninfo()) as conn:
        ssl = conn.execute("select ssl, version from pg_stat_ssl where pid = pg_backend_pid()").fetchone()
        assert ssl is not None and ssl[0] is True
        assert conn.execute("show listen_addresses").fetchone() == (b.address,) == ("127.0.0.1",)
        assert conn.execute("show archive_mode").fetchone() == ("on",)


def test_postgres_refuses_plaintext_and_wrong_password(box: BoxHandle) -> None:
    b = box.box()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(**{**b.pg_conninfo(), "sslmode": "disable"})
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(**{**b.pg_conninfo(), "password": "wrong"})


def test_pgbackrest_check_passes(box: BoxHandle) -> None:
    result = pgbackrest(box.box(), "check")
    assert result.returncode == 0, result.stderr


def test_secrets_are_private_files_and_never_printed(box: BoxHandle) -> None:
    b = box.box()
    secret_dir = b.home / "secrets"
    assert oct(secret_dir.stat().st_mode & 0o777) == "0o700"
    values = []
    for f in secret_dir.iterdir():
        assert f.stat().st_mode & 0o077 == 0, f"{f} is readable by others"
        values.append(f.read_text().strip())
    for f in (b.home / "s3" / "s3.json", b.home / "pgbackrest" / "pgbackrest.conf", b.home / "ca" / "ca.key"):
        assert f.stat().st_mode & 0o077 == 0, f"{f} is readable by others"
    out = box.cli("--json", "status")
    out2 = box.cli("status")
    for value in values:
        if len(value) >= 12:
            assert value not in out.stdout + out.stderr + out2.stdout + out2.stderr


def test_up_twice_is_a_noop(box: BoxHandle) -> None:
    before = {s["name"]: s["pid"] for s in box.cli("--json", "status").json()["services"]}
    result = box.cli("--json", "up")
    assert result.rc == 0, result.stderr
    doc = result.json()
    assert doc["changed"] is False
    assert {s["name"]: s["pid"] for s in doc["services"]} == before


def test_logs_shows_a_service_log(box: BoxHandle) -> None:
    result = box.cli("logs", "database", "--lines", "5")
    assert result.rc == 0
    assert "database:" in result.stdout
    bad = box.cli("logs", "nosuch")
    assert bad.rc == 2 and "unknown service" in bad.stderr


def test_logs_follow_streams_new_lines(box: BoxHandle) -> None:
    proc = subprocess.Popen([GOVCLOUD, *box.args("logs", "database", "--follow", "--lines", "1")],
                            stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(1.5)
        marker = f"follow-marker-{uuid.uuid4().hex[:8]}"
        with psycopg.connect(**box.box().pg_conninfo()) as conn:  # an error line PostgreSQL logs
            with pytest.raises(psycopg.Error):
                conn.execute(f"select * from \"{marker}\"")
        # A thread reads lines: a non-blocking read on a text pipe can raise inside the decoder (CPython).
        lines: queue.Queue[str] = queue.Queue()
        stdout = proc.stdout
        assert stdout is not None
        threading.Thread(target=lambda: [lines.put(line) for line in stdout], daemon=True).start()
        deadline = time.monotonic() + 10
        seen = ""
        while time.monotonic() < deadline and marker not in seen:
            try:
                seen += lines.get(timeout=0.2)
            except queue.Empty:
                pass
        assert marker in seen
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)


def _box_processes(home: str) -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if home in line]


@pytest.mark.slow
def test_lifecycle_interrupted_up_dead_service_and_clean_down() -> None:
    """`up` killed half-way converges on re-run; a dead service shows in status and `up` restarts it;
    `down` leaves no process and no listening port."""
    handle = make_box("lifecycle")
    try:
        proc = subprocess.Popen(
            [GOVCLOUD, *handle.args("up", "--port-base", str(handle.port_base))],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        assert proc.stderr is not None
        for line in proc.stderr:  # kill it while supervisord is still starting PostgreSQL (state STARTING)
            if "database: starting" in line:
                break
        time.sleep(0.6)  # PostgreSQL has bound its port; supervisord waits startsecs=1 before RUNNING
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        result = handle.cli("--json", "up")
        assert result.rc == 0, result.stderr
        assert all(s["healthy"] for s in result.json()["services"])

        db_pid = next(s["pid"] for s in result.json()["services"] if s["name"] == "database")
        os.kill(db_pid, signal.SIGKILL)
        time.sleep(1)
        status = handle.cli("--json", "status")
        assert status.rc == 1
        database = next(s for s in status.json()["services"] if s["name"] == "database")
        assert database["healthy"] is False
        healed = handle.cli("--json", "up")
        assert healed.rc == 0, healed.stderr
        assert all(s["healthy"] for s in healed.json()["services"])

        down = handle.cli("--json", "down", timeout=300)
        assert down.rc == 0, down.stderr
        assert down.json()["listening_ports"] == []
        assert _box_processes(str(handle.home)) == []
        box = handle.box()
        for _, label, port in box.ports.all():
            with socket.socket() as s:
                assert s.connect_ex((box.bind_address(label), port)) != 0, f"{label} port {port} still open"

        refused = handle.cli("box", "destroy")  # no terminal, no --yes: refuse, keep everything
        assert refused.rc == 2 and "--yes" in refused.stderr
        assert (handle.home / "pg" / "data" / "PG_VERSION").exists()
        destroyed = handle.cli("--json", "box", "destroy", "--yes")
        assert destroyed.rc == 0, destroyed.stderr
        assert not handle.home.exists()
    finally:
        teardown_box(handle)


def test_port_in_use_names_port_and_service_and_starts_nothing() -> None:
    handle = make_box("portbusy")
    sock = socket.socket()
    sock.bind(("127.0.0.1", handle.port_base))  # the database port
    sock.listen()
    try:
        result = handle.cli("up", "--port-base", str(handle.port_base))
        assert result.rc == 2
        assert f"port {handle.port_base}" in result.stderr and "database" in result.stderr
        assert_one_error(result)
        assert _box_processes(str(handle.home)) == []
    finally:
        sock.close()
        teardown_box(handle)


def test_missing_binary_names_the_debian_package() -> None:
    handle = make_box("nobin")
    try:
        result = handle.cli("up", "--port-base", str(handle.port_base), env={"GOVCLOUD_PG_BINDIR": "/nonexistent"})
        assert result.rc == 1
        assert "postgresql-15" in result.stderr
        assert_one_error(result)
    finally:
        teardown_box(handle)


def test_unwritable_box_directory_is_bad_input(tmp_path) -> None:  # type: ignore[no-untyped-def]
    spec = tmp_path / "govcloud.yaml"
    assert run_cli("--spec", str(spec), "init").rc == 0
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run_cli("--spec", str(spec), "--home", str(blocker / "box"), "up")
    assert result.rc == 2
    assert "not writable" in result.stderr and "--home" in result.stderr


def test_spec_with_errors_is_bad_input_with_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    spec = tmp_path / "govcloud.yaml"
    assert run_cli("--spec", str(spec), "init").rc == 0
    spec.write_text(spec.read_text().replace("port_base: 18000", "port_base: 12"))
    result = run_cli("--spec", str(spec), "--home", str(tmp_path / "box"), "up")
    assert result.rc == 2
    assert f"{spec}:9: platform.port_base" in result.stderr
    assert not (tmp_path / "box").exists()


def test_operator_logs_in_headless_with_authorization_code(box: BoxHandle) -> None:
    """OIDC discovery answers with the issuer; the operator account created on first `up` completes a full
    authorization-code login (form post, code exchange, id_token signature checked against the JWKS)."""
    from govcloud_platform.box import idp_api
    from tests import oidc

    b = box.box()
    s = oidc.browser(b)
    discovery = s.get(f"{b.issuer}/.well-known/openid-configuration", timeout=10).json()
    assert discovery["issuer"] == b.issuer
    client_id, secret = "box-login-test", uuid.uuid4().hex
    redirect = "https://app.test.example/callback"
    idp_api.add_oidc_client(b, client_id, secret, [redirect], "login test", admit=["platform-operators"])
    try:
        operator = b.spec.platform.services.identity.operator_user
        password = b.secrets.get("idp-operator-password")
        assert password
        resp = oidc.login(s, b, client_id, redirect, operator, password)
        code = oidc.code_from(resp, redirect)
        assert code, f"no code after login: HTTP {resp.status_code}"
        tokens = oidc.token(b, code, redirect, client_id, secret)
        assert tokens.status_code == 200, tokens.text[:300]
        claims = oidc.verify_id_token(b, tokens.json()["id_token"], client_id)
        assert claims["sub"] == operator or claims.get("preferred_username") == operator
        wrong = oidc.login(oidc.browser(b), b, client_id, redirect, operator, "not-the-password")
        assert oidc.code_from(wrong, redirect) is None
    finally:
        idp_api.remove_oidc_client(b, client_id)


@pytest.mark.slow
def test_objects_written_just_before_down_are_there_after_the_next_up() -> None:
    """`down` lets SeaweedFS close cleanly (SIGTERM: the filer flushes and closes its store, the volume server
    syncs and closes its volumes) however long that takes: what S3 acknowledged is readable after `up`. And it
    leaves nothing in /tmp and reports nothing to SeaweedFS's telemetry server."""
    handle = make_box("durable")
    try:
        ports = [port for _, label, port in handle.box().ports.all() if label.startswith(("s3", "weed"))]

        def tmp_sockets() -> set[str]:
            return {str(path) for port in ports for path in Path("/tmp").glob(f"seaweedfs-*-{port}.sock")}

        stale = tmp_sockets()  # an older box of this host may have used these ports before sockets were cleaned
        up = handle.cli("up", "--port-base", str(handle.port_base))
        assert up.rc == 0, up.stderr
        s3 = handle.box().s3_client()
        s3.create_bucket(Bucket="durable")
        objects = {"small.txt": b"written just before down\n", "big.bin": os.urandom(9 * 1024 * 1024)}  # > 4 MB: chunks
        for key, body in objects.items():
            s3.put_object(Bucket="durable", Key=key, Body=body)

        down = handle.cli("--json", "down", timeout=300)
        assert down.rc == 0, down.stderr
        assert down.json()["listening_ports"] == [] and _box_processes(str(handle.home)) == []
        supervisord_log = (handle.home / "logs" / "supervisord.log").read_text()
        assert "stopped: storage (exit status 0)" in supervisord_log  # its own exit, not supervisord's SIGKILL
        assert tmp_sockets() - stale == set()
        assert "anonymous cluster statistics" not in (handle.home / "logs" / "storage.log").read_text()

        again = handle.cli("up")
        assert again.rc == 0, again.stderr
        s3 = handle.box().s3_client()
        for key, body in objects.items():
            assert s3.get_object(Bucket="durable", Key=key)["Body"].read() == body, key

        # `box destroy` of a running box: storage is SIGKILLed (its data goes next), the rest stops cleanly;
        # nothing is left running, listening, in /tmp or on disk
        every_port = list(handle.box().ports.all())
        destroyed = handle.cli("--json", "box", "destroy", "--yes", timeout=300)
        assert destroyed.rc == 0, destroyed.stderr
        assert not handle.home.exists() and _box_processes(str(handle.home)) == []
        for _, label, port in every_port:
            with socket.socket() as sock:
                assert sock.connect_ex(("127.0.0.1", port)) != 0, f"{label} port {port} still open"
        assert tmp_sockets() - stale == set()
    finally:
        teardown_box(handle)


def test_up_restores_a_stale_nginx_config_and_the_manager_password(box: BoxHandle) -> None:
    """An old box's nginx may run a configuration without the manager API's password (or a hand-edited one):
    its supervisord section is unchanged, yet `up` rewrites the file and restarts nginx."""
    from govcloud_platform.box.ports import port_in_use
    from govcloud_platform.box.supervisor import Supervisor

    b = box.box()
    conf, htpasswd = b.home / "nginx" / "nginx.conf", b.home / "nginx" / "manager.htpasswd"
    original, original_htpasswd = conf.read_text(), htpasswd.read_text()
    url = f"http://127.0.0.1:{b.ports.idp_manager}/api/v1/providers/oidc/rp/findByConfKey?pattern=*"
    password = b.secrets.get("idp-manager-password")
    assert password and "auth_basic " in original

    def status(auth: tuple[str, str] | None = None) -> int:
        with requests.Session() as s:
            s.trust_env = False
            return s.get(url, auth=auth, timeout=10).status_code

    def restart_nginx() -> None:
        sup = Supervisor(b)
        sup.stop("nginx")
        sup.ensure_running("nginx")
        deadline = time.monotonic() + 10
        while port_in_use(b.ports.idp_manager) is False and time.monotonic() < deadline:
            time.sleep(0.05)

    try:
        conf.write_text("".join(line for line in original.splitlines(keepends=True) if "auth_basic" not in line))
        htpasswd.write_text(original_htpasswd + "intruder:{PLAIN}open\n")
        restart_nginx()
        assert status() == 200  # nginx now runs the stale configuration: no password asked

        result = box.cli("--json", "up")
        assert result.rc == 0, result.stderr
        assert result.json()["changed"] is True
        assert conf.read_text() == original and "intruder" not in htpasswd.read_text()
        assert status() == 401 and status(("govcloud", "wrong")) == 401
        assert status(("govcloud", password)) == 200
        assert box.cli("--json", "up").json()["changed"] is False
    finally:
        if conf.read_text() != original:
            conf.write_text(original)
            htpasswd.write_text(original_htpasswd)
            restart_nginx()
