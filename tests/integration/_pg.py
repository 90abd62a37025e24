"""A throwaway PostgreSQL 15 for integration tests: TLS from the box CA, the box's address and port.

Kept small on purpose: the shared box fixture will replace it."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from govcloud_platform.box.context import Box

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def open_path_for_others(path: Path) -> None:
    """postgres and www-data must traverse to the box: pytest's tmp dirs are 0700."""
    for parent in [path, *path.parents]:
        if parent == Path("/"):
            break
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod((mode & 0o7777) | 0o711)


def _as_postgres(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True, text=True,
                          capture_output=True, **kw)  # type: ignore[call-overload]


@contextmanager
def running_postgres(box: Box) -> Iterator[None]:
    """initdb (once), start, yield, stop (fast shutdown) — always."""
    box.ensure_home()
    open_path_for_others(box.home)
    data = box.home / "pg" / "data"
    run = box.home / "pg" / "run"
    for d in (data.parent, run):
        d.mkdir(parents=True, exist_ok=True)
        shutil.chown(d, "postgres", "postgres")
    data.mkdir(mode=0o700, exist_ok=True)
    shutil.chown(data, "postgres", "postgres")
    if not (data / "PG_VERSION").exists():
        pwfile = data.parent / "pwfile"
        pwfile.write_text(box.secrets.get_or_create("postgres-superuser") + "\n")
        pwfile.chmod(0o600)
        shutil.chown(pwfile, "postgres", "postgres")
        try:
            _as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", f"--pwfile={pwfile}",
                         "--auth-local=peer", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8")
        finally:
            pwfile.unlink()
        cert, key = box.ca.issue("postgres", *box.certificate_names())
        for src, name in ((cert, "server.crt"), (key, "server.key")):
            shutil.copy(src, data / name)
            (data / name).chmod(0o600)
            shutil.chown(data / name, "postgres", "postgres")
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = '{box.address}'\nunix_socket_directories = '{run}'\n"
                "ssl = on\nssl_cert_file = 'server.crt'\n"
                "ssl_key_file = 'server.key'\nmax_connections = 50\nfsync = off\n"
            )
    log = data.parent / "postgres.log"  # postgres's own directory: the box's logs/ is root's (0700)
    log.touch()
    shutil.chown(log, "postgres", "postgres")
    _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", f"-p {box.ports.postgres}",
                 "-w", "-t", "30", "start")
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                box.pg_admin().close()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield
    finally:
        subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D", str(data),
                        "-m", "fast", "-w", "-t", "30", "stop"], capture_output=True, check=False)
