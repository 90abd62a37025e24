"""Where an agency's app lives (its public name and URL, its instance directory, the shared virtualenvs) and
what its Ansible role is told: the role's variables, computed from the box and the deployment alone."""

from __future__ import annotations

import os
import secrets as _secrets
from pathlib import Path
from typing import Any

from govcloud_platform.apps.manifests import AppManifest
from govcloud_platform.apps.store import Deployment
from govcloud_platform.box.context import Box
from govcloud_platform.box.secrets import new_password
from govcloud_platform.box.services import nginx
from govcloud_platform.box.supervisor import Supervisor
from govcloud_platform.names import (
    admins_group,
    agency_host,
    app_host,
    app_program,
    group,
    oidc_app_client,
    pg_app,
    system_user,
    system_user_mark,
)

SYSTEM_PYTHON = "/usr/bin/python3"
DEFAULT_VENV_CACHE = "/var/cache/govcloud/apps"


def system_ca_bundle() -> str:
    """The bundle that verifies PyPI: what this machine points clients at, else Debian's."""
    for var in ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        value = os.environ.get(var)
        if value and Path(value).is_file():
            return value
    return "/etc/ssl/certs/ca-certificates.crt"


def venv_cache() -> Path | None:
    """Where the apps' virtualenvs are shared by every box of this host (one per app, packages and interpreter,
    built once): GOVCLOUD_APPS_CACHE, or /var/cache/govcloud/apps; an empty GOVCLOUD_APPS_CACHE builds each
    box's own under <home>/apps/venvs."""
    value = os.environ.get("GOVCLOUD_APPS_CACHE", DEFAULT_VENV_CACHE)
    return Path(value) if value else None



# --- names (every server-side name comes from govcloud_platform.names) ------------------------------
def public_host(box: Box, slug: str, app: str) -> str:
    return app_host(slug, app, box.spec.platform.domain)


def public_url(box: Box, slug: str, app: str) -> str:
    return f"https://{public_host(box, slug, app)}:{box.ports.proxy_https}"


def instance_dir(box: Box, slug: str, app: str) -> Path:
    return box.home / "apps" / "instances" / slug / app


# --- the app's own secrets ---------------------------------------------------------------------------
def new_secrets(m: AppManifest) -> dict[str, str]:
    """Fresh secrets for a new deployment (the registry keeps them; a re-deploy adds only missing ones): the
    database password, the OIDC client secret, Django's secret key, and the keys the manifest asks for."""
    out = {"db_password": new_password(), "oidc_secret": new_password(32), "secret_key": new_password(40)}
    if "tracking_key" in m.keys:
        out["tracking_key"] = _secrets.token_hex(32)
    return out


def key_vars(m: AppManifest, secrets: dict[str, Any]) -> dict[str, Any]:
    """Pure: the role variables (without the role's prefix) that carry the app's own keys. Django's secret key
    goes to apps with SSO (their sessions) and to those whose manifest lists it."""
    out: dict[str, Any] = {}
    if "identity" in m.services or "secret_key" in m.keys:
        out["secret_key"] = secrets["secret_key"]
    if "tracking_key" in m.keys:
        out["tracking_key"] = secrets["tracking_key"]
    return out


# The certificate of the proxy's default server: issued for the platform domain itself, so it is valid for no
# app's name and a client that asks for an unknown name cannot mistake the answer for an app.
PROXY_DEFAULT_CERT = "apps-proxy"


def role_vars(box: Box, slug: str, agency_name: str, m: AppManifest, deployment: Deployment,
              secrets: dict[str, Any] | None, storage: dict[str, Any] | None, cert: Path | None,
              key: Path | None, action: str, purge: bool = False, last_app: bool = False) -> dict[str, Any]:
    """The role's public variables (`<role>_*`); secrets only for deploy. `last_app`: on remove, no other app of
    the agency runs as its system user any more (the role removes the user)."""
    sup, front = Supervisor(box), nginx.paths(box)
    common: dict[str, Any] = {
        "action": action,
        "purge_data": purge,
        "python": SYSTEM_PYTHON,
        "pip_ca_bundle": system_ca_bundle(),
        "venv": str(box.home / "apps" / "venvs" / m.name),
        "venv_cache": str(venv_cache() or ""),
        "agency": slug,
        "agency_name": agency_name,
        "agency_group": group(slug),
        "agency_admins_group": admins_group(slug),
        "run_user": system_user(slug),
        "run_user_comment": system_user_mark(str(box.home)),
        "instance_dir": str(instance_dir(box, slug, m.name)),
        "listen_port": deployment.port,
        "public_host": public_host(box, slug, m.name),
        "proxy_port": box.ports.proxy_https,
        "ca_file": str(box.ca_file),
        "program": app_program(slug, m.name),
        "log_dir": str(box.log_dir),
        "supervisor_conf": str(sup.conf),
        "supervisor_programs_dir": str(sup.programs_dir),
        "nginx_conf": str(front.conf),
        "nginx_prefix": str(front.root),
        "nginx_vhost_dir": str(front.apps),
    }
    common["code_dir"] = str(box.home / "apps" / "code" / m.name)
    if m.name == "portal":
        common["static_root"] = str(box.home / "apps" / "static" / m.name)
    elif "identity" not in m.services:
        common.pop("agency_group")
    if m.name != "portal":
        common.pop("agency_admins_group")
    if m.name == "messaging":
        common["server_name"] = agency_host(slug, box.spec.platform.domain)
    if cert is not None and key is not None:
        common["tls_cert"], common["tls_key"] = str(cert), str(key)
    if action == "deploy" and secrets is not None:
        if storage and "storage" in m.services:  # an agency's S3 keys only go to an app that uses its bucket
            common["s3"] = {k: storage[k] for k in ("endpoint", "bucket", "access_key", "secret_key")}
        if "database" in m.services:
            common["db"] = {"host": box.address_of("database"), "port": box.ports.postgres,
                            "name": pg_app(slug, m.name), "user": pg_app(slug, m.name),
                            "password": secrets["db_password"]}
        if "identity" in m.services:
            common["oidc"] = {"issuer": box.issuer, "client_id": oidc_app_client(slug, m.name),
                              "client_secret": secrets["oidc_secret"]}
        common.update(key_vars(m, secrets))
    if action == "remove":
        common["remove_run_user"] = last_app
    variables = {f"{m.role}_{k}": v for k, v in common.items()}
    if action == "deploy":
        variables.update(default_vhost_vars(box))
    elif action == "remove":
        variables.update(app_common_run_user=system_user(slug),
                         app_common_agency_instances_dir=str(instance_dir(box, slug, m.name).parent))
    return variables


def default_vhost_vars(box: Box) -> dict[str, Any]:
    """Variables of app_common's default_vhost, which every app role includes (the proxy's default server)."""
    front = nginx.paths(box)
    cert, key = box.ca.issue(PROXY_DEFAULT_CERT, [box.spec.platform.domain])
    return {
        "app_common_proxy_port": box.ports.proxy_https,
        "app_common_default_tls_cert": str(cert),
        "app_common_default_tls_key": str(key),
        "app_common_log_dir": str(box.log_dir),
        "app_common_nginx_conf": str(front.conf),
        "app_common_nginx_prefix": str(front.root),
        "app_common_nginx_vhost_dir": str(front.apps),
    }
