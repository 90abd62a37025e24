"""Where an agency's app lives (its public name and URL, its instance directory, the shared virtualenvs) and
what its Ansible role is told: the role's variables, computed from the box and the deployment alone."""

from __future__ import annotations

import os
import secrets as _secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from govcloud_platform.apps.manifests import AppManifest
from govcloud_platform.apps.store import Deployment
from govcloud_platform.box import oidc_clients
from govcloud_platform.box.context import Box
from govcloud_platform.box.network import LOOPBACK
from govcloud_platform.box.oidc_policy import admitted_groups
from govcloud_platform.box.placement import apps_listen_address
from govcloud_platform.box.secrets import new_password
from govcloud_platform.box.services import nginx
from govcloud_platform.box.supervisor import Supervisor
from govcloud_platform.errors import SpecError
from govcloud_platform.names import (
    admins_group,
    agency_host,
    app_host,
    app_program,
    desk_group_prefix,
    group,
    oidc_app_client,
    pg_app,
    system_user,
    system_user_mark,
)
from govcloud_platform.spec.brand import Brand
from govcloud_platform.spec.models import CentreSettings, Spec
from govcloud_platform.spec.sms import key_file_problem, read_key

SYSTEM_PYTHON = "/usr/bin/python3"
DESIGNED_APPS = ("portal", "centre")  # their citizen pages are on the shared design (docs/design.md)
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


def control_wheelhouse(box: Box) -> Path:
    """Where the control keeps the wheels it builds for apps hosts (hosts target): beside the shared virtualenvs,
    so that every control home of this machine builds an app's wheels once (under the same per-app lock); without
    a cache, in the control's own home."""
    cache = venv_cache()
    return cache / "wheels" if cache is not None else box.home / "apps" / "wheels"


def local_supervisorctl() -> str:
    """The supervisorctl of this machine's govcloud (beside its interpreter), else the one on PATH."""
    beside = Path(sys.executable).parent / "supervisorctl"
    return str(beside) if beside.exists() else "supervisorctl"


@dataclass(frozen=True)
class AppTarget:
    """Where an agency's apps run. On one machine: the box itself (its home, `connection: local`, its nginx on
    loopback). On the hosts target: the apps host (`host`, its box home `home` there), reached over SSH; the apps'
    virtual hosts listen on `listen` and clients reach them through the edge proxy at `connect`."""

    home: Path
    host: str | None = None
    listen: str = LOOPBACK
    connect: str = LOOPBACK
    supervisorctl: str = field(default_factory=local_supervisorctl)

    @property
    def remote(self) -> bool:
        return self.host is not None

    def rebase(self, box: Box, path: Path) -> Path:
        """Pure: `path` of the control's home as the same path of the target's home (the layout is the box's)."""
        return self.home / path.relative_to(box.home) if self.remote else path


def app_target(box: Box) -> AppTarget:
    """The box itself, or on the hosts target the host that runs the apps' front (`placement`'s `apps`): its home
    and govcloud from the deploy's record (`box.remote`). Raises InputError when the topology has no apps host."""
    placement = box.placement
    if placement is None:
        return AppTarget(box.home)
    host = placement.host_of("apps")
    if host is None:
        from govcloud_platform.errors import InputError

        raise InputError("no host of the topology serves the apps (group 'apps')",
                         hint="add 'apps' to a host's groups (and 'proxy' to one) in platform.topology, then run "
                              "`govcloud up`")
    from govcloud_platform.box.remote import remote_host, supervisorctl_of

    there = remote_host(box, host)
    return AppTarget(Path(there.home), host, apps_listen_address(placement), placement.address_of("proxy") or LOOPBACK,
                     supervisorctl_of(there.govcloud))


TLS_DIR = ("apps", "tls")  # on an apps host: the certificates the control issued for its apps (0700)


def app_tls(box: Box, slug: str, app: str) -> list[Path]:
    """The app's certificate and key as the control's CA issues them (`AppService._ensure_cert`)."""
    name = app_program(slug, app)
    return [box.ca.directory / "certs" / f"{name}.{ext}" for ext in ("pem", "key")]


def tls_files(target: AppTarget, files: list[Path]) -> tuple[list[Path], list[dict[str, str]]]:
    """Pure: the paths the role uses for the certificate files `files` of the control's CA, and what it copies:
    on the box the files themselves, nothing to copy; on an apps host `<home>/apps/tls/<name>`, copied there."""
    if not target.remote:
        return files, []
    dests = [target.home.joinpath(*TLS_DIR, f.name) for f in files]
    return dests, [{"src": str(f), "dest": str(d)} for f, d in zip(files, dests, strict=True)]


# --- names (every server-side name comes from govcloud_platform.names) ------------------------------
def public_host(box: Box, slug: str, app: str) -> str:
    return app_host(slug, app, box.spec.platform.domain)


def public_url(box: Box, slug: str, app: str) -> str:
    return f"https://{public_host(box, slug, app)}:{box.ports.proxy_https}"


def app_oidc_client(box: Box, slug: str, agency_name: str, m: AppManifest, secret: str) -> dict[str, Any]:
    """The app's OIDC client of the agency (the IdP's manager-API body): its redirect URI (the manifest's callback
    at the app's public URL), the agency's members only, and for an app that signs out at the IdP (RP-initiated
    logout: the centre's staff pages) its post-logout redirect URIs, which LemonLDAP::NG requires to be
    registered (exactly) before it sends a browser back; its logout confirmation is skipped for such a client, the
    sign-out being a form with a CSRF token in the app already."""
    client_id = oidc_app_client(slug, m.name)
    base = public_url(box, slug, m.name)
    back = [f"{base}{path}" for path in m.oidc_post_logout]
    return oidc_clients.oidc_client(box, client_id, secret, [f"{base}{m.oidc_callback}"], f"{agency_name}: {m.name}",
                                    admit=admitted_groups(client_id) or [],  # the agency's members only
                                    post_logout_redirect_uris=back,
                                    options={"logoutBypassConfirm": True} if back else None)


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


def centre_settings(spec: Spec, slug: str) -> dict[str, Any]:
    """Pure: the centre role's per-agency settings from the spec's `centre:` block (defaults without one): the
    catalogue to install (a file on the controller; "" = the sample catalogue the role ships), the time zone and
    the holidays its SLA working days count with."""
    agency = next((a for a in spec.agencies if a.slug == slug), None)
    settings = agency.centre if agency is not None and agency.centre is not None else CentreSettings()
    catalogue = spec.centre_catalogue(slug)
    return {"catalogue_src": str(catalogue) if catalogue else "", "time_zone": settings.time_zone,
            "holidays": list(settings.holidays)}


def centre_sms_vars(spec: Spec, slug: str) -> dict[str, Any]:
    """The role's `centre_sms` from the spec's `centre.sms` block: the provider's URL, sender, CA file and timeout,
    and its key read from the key file the spec names (checked when the spec was loaded). Only for a deploy's
    private variables (0600): never a command line, never printed. {} without a provider (the role's default:
    no text messages)."""
    agency = next((a for a in spec.agencies if a.slug == slug), None)
    files = spec.centre_sms_files(slug)
    if agency is None or agency.centre is None or agency.centre.sms is None or files is None:
        return {}
    sms, (key_file, ca_file) = agency.centre.sms, files
    key = read_key(key_file)
    if key is None:  # changed since the spec was loaded
        raise SpecError(f"agencies.{slug}.centre.sms.key_file: {key_file_problem(key_file) or 'not a key'}")
    return {"url": sms.url, "key": key, "sender": sms.sender, "ca_file": str(ca_file) if ca_file else "",
            "timeout_s": sms.timeout_s}


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


def brand_vars(box: Box, slug: str) -> dict[str, Any]:
    """The role variables of the agency's brand: its colour, and its logo file on the controller ("" for none;
    the role copies it to `/static/brand/<agency>.<ext>`)."""
    agency = box.spec.agency(slug)
    brand = agency.brand if agency is not None else Brand()
    logo = brand.logo_file
    return {"brand_colour": brand.colour, "brand_logo_src": str(logo) if logo else "",
            "brand_logo_ext": logo.suffix.lower().lstrip(".") if logo else ""}


MAIL_KEYS = ("host", "port", "username", "password", "from_address", "sender_domain", "starttls", "ca_file")


def mail_vars(mail: dict[str, Any], ca_file: str) -> dict[str, Any]:
    """Pure: the one shape of mail settings every app's role receives as `<role>_mail` (MAIL_KEYS), from the
    agency's SMTP login (its mail broker's credentials, docs/mail.md): `starttls` (verified against `ca_file`, the
    path on the app's host) unless the login says otherwise; `sender_domain`, any local part of which is the
    agency's (the domain of `from_address` when the broker names none). Each role picks its sender from it."""
    domain = mail.get("sender_domain") or str(mail["from_address"]).rpartition("@")[2]
    return {"host": mail["host"], "port": mail["port"], "username": mail["username"], "password": mail["password"],
            "from_address": mail["from_address"], "sender_domain": domain,
            "starttls": mail.get("tls", "starttls") == "starttls", "ca_file": ca_file}


def role_vars(box: Box, slug: str, agency_name: str, m: AppManifest, deployment: Deployment,
              secrets: dict[str, Any] | None, storage: dict[str, Any] | None, cert: Path | None,
              key: Path | None, action: str, purge: bool = False, last_app: bool = False,
              target: AppTarget | None = None, mail: dict[str, Any] | None = None,
              signing: dict[str, Any] | None = None, payments: dict[str, Any] | None = None) -> dict[str, Any]:
    """The role's public variables (`<role>_*`); secrets only for deploy. `last_app`: on remove, no other app of
    the agency runs as its system user any more (the role removes the user). `target`: where the app runs (the
    box itself by default); every path is the target's. `mail`: the agency's SMTP login (its mail broker's
    credentials), passed to an app that lists `mail` among its services or optional services. `signing`: the agency's
    signing credentials (brokers/signing.py), passed to the centre. `payments`: its merchant account at the box's demo
    payment provider (brokers/paydemo.py), the centre's `centre_payments`; its receipts are then signed by the signing
    service (the `signing` credentials above)."""
    target = target or AppTarget(box.home)
    sup, front = Supervisor(box), nginx.apps_paths(box)

    def at(path: Path) -> str:
        return str(target.rebase(box, path))

    common: dict[str, Any] = {
        "action": action,
        "purge_data": purge,
        "python": SYSTEM_PYTHON,
        "pip_ca_bundle": system_ca_bundle(),
        "venv": str(target.home / "apps" / "venvs" / m.name),
        "venv_cache": str(venv_cache() or ""),
        "agency": slug,
        "agency_name": agency_name,
        "agency_group": group(slug),
        "agency_admins_group": admins_group(slug),
        "run_user": system_user(slug),
        "run_user_comment": system_user_mark(str(target.home)),
        "instance_dir": at(instance_dir(box, slug, m.name)),
        "listen_port": deployment.port,
        "public_host": public_host(box, slug, m.name),
        "proxy_port": box.ports.proxy_https,
        "proxy_address": target.listen,
        "ca_file": at(box.ca_file),
        "program": app_program(slug, m.name),
        "log_dir": at(box.log_dir),
        "supervisor_conf": at(sup.conf),
        "supervisor_programs_dir": at(sup.programs_dir),
        "supervisorctl": target.supervisorctl,
        "nginx_conf": at(front.conf),
        "nginx_prefix": at(front.root),
        "nginx_vhost_dir": at(front.apps),
    }
    common["code_dir"] = str(target.home / "apps" / "code" / m.name)
    if m.name == "portal":
        common["static_root"] = str(target.home / "apps" / "static" / m.name)
    elif "identity" not in m.services:
        common.pop("agency_group")
    if m.name != "portal":
        common.pop("agency_admins_group")
    if m.name in DESIGNED_APPS and action == "deploy":  # the agency's brand on the shared design (spec `brand:`)
        common.update(brand_vars(box, slug))
    if m.name == "centre":  # staff tokens: desks from the agency's desk groups
        common["desk_group_prefix"] = desk_group_prefix(slug)
        common.update(centre_settings(box.spec, slug))
        if action == "deploy":  # data sharing between agencies: its directory, and its key (apps/g2g.py): the
            from govcloud_platform.apps.g2g import centre_g2g_vars  # signing service's where the box runs it

            common.update(centre_g2g_vars(box, slug, lambda agency: public_url(box, agency, "centre"), target.connect,
                                          key_in_service=box.runs("signing") and bool((signing or {}).get("sign_url"))))
    if m.name == "messaging":
        common["server_name"] = agency_host(slug, box.spec.platform.domain)
    copies: list[dict[str, str]] = []
    if cert is not None and key is not None:
        (role_cert, role_key), copies = tls_files(target, [cert, key])
        common["tls_cert"], common["tls_key"] = str(role_cert), str(role_key)
    if action == "deploy" and secrets is not None:
        if storage and "storage" in m.services:  # an agency's S3 keys only go to an app that uses its bucket
            common["s3"] = {k: storage[k] for k in ("endpoint", "bucket", "access_key", "secret_key")}
        if mail and "mail" in (*m.services, *m.optional_services):  # its mail (0600 env file only)
            common["mail"] = mail_vars(mail, at(Path(mail["ca_file"])))
        if "database" in m.services:
            # every database host under Patroni (libpq keeps the one that takes writes), else the one
            common["db"] = {"host": box.pg_hosts, "port": box.ports.postgres,
                            "target_session_attrs": box.pg_session_attrs or "any",
                            "name": pg_app(slug, m.name), "user": pg_app(slug, m.name),
                            "password": secrets["db_password"]}
        if "identity" in m.services:
            # the centre too: its staff pages sign staff in with the code flow of its client (the secret goes
            # only to the 0600 env file, as the portal's)
            common["oidc"] = {"issuer": box.issuer, "client_id": oidc_app_client(slug, m.name),
                              "client_secret": secrets["oidc_secret"]}
        common.update(key_vars(m, secrets))
        if m.name == "centre" and signing:  # its signing secret: a 0600 file of the app's user (docs/signing.md)
            common["signing"] = {"sign_url": signing["sign_url"], "secret": signing["secret"]}
        if m.name == "centre" and payments:  # the demo provider's webhook secret: the 0600 env file only
            common["payments"] = {"url": payments["url"], "secret": payments["secret"], "kind": payments["kind"],
                                  "ca_file": at(Path(payments["ca_file"]))}
        if m.name == "centre" and (sms := centre_sms_vars(box.spec, slug)):  # its SMS provider's key: 0600 only
            common["sms"] = sms
    if action == "remove":
        common["remove_run_user"] = last_app
    variables = {f"{m.role}_{k}": v for k, v in common.items()}
    if action == "deploy":
        variables.update(default_vhost_vars(box, target, copies))
        if target.remote:  # the apps host installs the app's packages from wheels the control builds
            variables.update(app_common_wheelhouse=str(target.home / "apps" / "wheels"),
                             app_common_control_wheelhouse=str(control_wheelhouse(box)),
                             app_common_control_python=sys.executable)
    elif action == "remove":
        variables.update(app_common_run_user=system_user(slug),
                         app_common_agency_instances_dir=at(instance_dir(box, slug, m.name).parent),
                         app_common_tls_remove=[d["dest"] for d in tls_files(target, app_tls(box, slug, m.name))[1]])
    return variables


def default_vhost_vars(box: Box, target: AppTarget | None = None,
                       copies: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """Variables of app_common's default_vhost, which every app role includes (the proxy's default server); on an
    apps host, also the TLS files it copies there (the app's `copies`, and the default server's)."""
    target = target or AppTarget(box.home)
    front = nginx.apps_paths(box)
    cert, key = box.ca.issue(PROXY_DEFAULT_CERT, [box.spec.platform.domain])
    (cert_at, key_at), own = tls_files(target, [cert, key])
    return {
        "app_common_proxy_port": box.ports.proxy_https,
        "app_common_proxy_address": target.listen,
        "app_common_proxy_protocol": target.remote,  # on the hosts target the apps are always behind an edge
        "app_common_default_tls_cert": str(cert_at),
        "app_common_default_tls_key": str(key_at),
        "app_common_tls_files": [*(copies or []), *own],
        "app_common_log_dir": str(target.rebase(box, box.log_dir)),
        "app_common_nginx_conf": str(target.rebase(box, front.conf)),
        "app_common_nginx_prefix": str(target.rebase(box, front.root)),
        "app_common_nginx_vhost_dir": str(target.rebase(box, front.apps)),
    }
