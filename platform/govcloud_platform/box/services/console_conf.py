"""What the web console runs with, rendered from the box alone (pure): its nginx server block (TLS from the box CA,
in front of the console's gunicorn on loopback), the gunicorn command line, its OIDC client at the box's IdP, and
the settings document the console process reads (`console.settings`). The console service
(box/services/console.py) writes them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govcloud_platform.box.oidc_clients import oidc_client
from govcloud_platform.box.oidc_policy import access_rule

if TYPE_CHECKING:
    from govcloud_platform.box.context import Box

CLIENT_ID = "platform-console"  # not an agency's client (names.parse_client: None): the policy leaves its rule alone
CLIENT_SECRET = "console-oidc-secret"
SESSION_KEY = "console-session-key"
SMTP_PASSWORD = "console-smtp-password"  # the console's SMTP login (mail_conf.CONSOLE_LOGIN): it mails invitations
#: who may sign in at the IdP through the console's client: the operators, and a member of any agency; which
#: agency each sees is the console's own decision (console/authz.py)
ADMIT_PREFIXES = ("agency-",)
CALLBACK = "/auth/callback"
WORKERS = 1  # one process: pages take a few ms; a second would double the memory (bench_console.py)
THREADS = 8  # a page that shows `status` probes the console itself through nginx: never one thread per process


def public_url(box: Box) -> str:
    """Where browsers and scripts reach the console (its HTTPS URL: `status`'s endpoint): the box's nginx, on the
    hosts target the placed identity host's (`Box.fronts_console`), whichever home asks."""
    return f"https://{box.name_of('identity')}:{box.ports.console_https}"


def settings_file(box: Box) -> Path:
    return box.home / "console" / "console.json"


def settings_document(box: Box) -> dict[str, Any]:
    """What the console process needs and cannot derive: the box's home and the spec `up` ran with (its platform
    part: the agencies come from the registry only). No secret: the process reads them from the box's secrets."""
    spec = box.spec.model_dump(mode="json", include={"version", "platform", "quota_classes"})
    return {"home": str(box.home), "spec": spec, "public_url": public_url(box), "issuer": box.issuer,
            "client_id": CLIENT_ID, "ca_file": str(box.ca_file)}


def client_body(box: Box, secret: str, operator_groups: tuple[str, ...]) -> dict[str, Any]:
    """The console's confidential client: code flow (with PKCE), RS256 JWT access tokens with the groups claim."""
    return oidc_client(box, CLIENT_ID, secret, [public_url(box) + CALLBACK], "govcloud console",
                       admit=list(operator_groups),
                       options={"requirePKCE": True, "rule": access_rule(operator_groups, prefixes=ADMIT_PREFIXES)})


def gunicorn_argv(box: Box, settings: Path) -> list[str]:
    """gunicorn from the platform's own venv, on loopback; logs to supervisord's console.log."""
    return [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{box.ports.console_app}",
            "--workers", str(WORKERS), "--threads", str(THREADS), "--worker-class", "gthread",
            "--access-logfile", "-", "--error-logfile", "-", "--timeout", "30", "--graceful-timeout", "5",
            "--env", f"GOVCLOUD_CONSOLE_SETTINGS={settings}", "govcloud_platform.console.wsgi:app"]


TUNNEL_PROGRAM = "console-tunnel"
TUNNEL_ALIVE_S = 5  # ssh's keep-alive: a front host lost is noticed within 3 of these, and the tunnel made again


def tunnel_argv(ssh_config: Path, host: str, port: int) -> list[str]:
    """The control's SSH tunnel to the console's front (the hosts target): the front host's loopback `port`, where
    its nginx passes the console's requests, reaches the console's gunicorn on the control's loopback `port`. Its
    own connection (never a shared master, which `down` and the brokers close), host keys checked by the
    topology's ssh_config; it fails at once when the port is taken there, and supervisord makes it again."""
    return ["ssh", "-F", str(ssh_config), "-N", "-T", "-o", "ControlMaster=no", "-o", "ControlPath=none",
            "-o", "ExitOnForwardFailure=yes", "-o", f"ServerAliveInterval={TUNNEL_ALIVE_S}",
            "-o", "ServerAliveCountMax=3", "-o", "ConnectTimeout=10",
            "-R", f"127.0.0.1:{port}:127.0.0.1:{port}", host]


def nginx_server(box: Box, cert: Path, key: Path) -> str:
    """The console's server block in the front door's nginx.conf (box/services/nginx.py)."""
    return f"""
    # The web console (docs/console.md): TLS here, the console's gunicorn on loopback behind it.
    server {{
        listen {box.bind_address("console_https")}:{box.ports.console_https} ssl;
        server_name {box.host_name};
        ssl_certificate {cert};
        ssl_certificate_key {key};
        client_max_body_size 64k;
        add_header Strict-Transport-Security "max-age=31536000" always;
        location ~ ^/(en|ur)/join$ {{
            access_log off;  # an invitation's link: its token is in the query string, which no log may hold
            proxy_pass http://127.0.0.1:{box.ports.console_app};
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-Proto https;
            proxy_set_header X-Forwarded-For $govcloud_client;
        }}
        location / {{
            proxy_pass http://127.0.0.1:{box.ports.console_app};
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-Proto https;
            proxy_set_header X-Forwarded-For $govcloud_client;
            proxy_read_timeout 60s;
        }}
    }}
"""
