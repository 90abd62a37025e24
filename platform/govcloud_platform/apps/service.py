"""Deploy, remove, inspect and converge SaaS apps per agency.

A deploy: check the agency (ready, has the services the app needs) -> lock -> registry row with the app's
own credentials (stored encrypted before any server is touched) -> brokers: the app's database and role
(`<agency>__<app>`), its OIDC client (`ag-<slug>--<app>`), a certificate for its public name -> the app's
Ansible role (install, instance, supervisord program, nginx vhost, health) -> state ready."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from psycopg import sql

from govcloud_platform.apps.layout import (
    AppTarget,
    app_oidc_client,
    app_target,
    app_tls,
    instance_dir,
    new_secrets,
    public_host,
    public_url,
    role_vars,
    venv_cache,
)
from govcloud_platform.apps.manifests import CATALOGUE, AppManifest, manifest
from govcloud_platform.apps.runner import RUN_TIMEOUT_S, RoleResult, run_role
from govcloud_platform.apps.store import READY, Deployment, DeploymentStore
from govcloud_platform.box import idp_api, oidc_clients
from govcloud_platform.box.context import Box
from govcloud_platform.box.supervisor import Supervisor
from govcloud_platform.brokers.database import (
    allow_in_hba,
    disable_roles,
    drop_database,
    ensure_database,
    ensure_role,
    revoke_in_hba,
)
from govcloud_platform.errors import ConflictError, InputError
from govcloud_platform.names import (
    app_program,
    oidc_app_client,
    pg_app,
    system_user,
    system_user_mark,
)
from govcloud_platform.progress import Progress, quiet
from govcloud_platform.state.lock import box_lock, file_lock
from govcloud_platform.state.registry import READY as AGENCY_READY
from govcloud_platform.state.registry import Registry


@dataclass
class DeployResult:
    agency: str
    app: str
    url: str
    changed: int
    seconds: float
    changed_steps: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"agency": self.agency, "app": self.app, "url": self.url, "changed": self.changed,
                "seconds": round(self.seconds, 1), "changed_steps": self.changed_steps}


class AppService:
    def __init__(self, box: Box, actor: str | None = None, progress: Progress = quiet) -> None:
        self.box = box
        self.actor = actor
        self.progress = progress
        self.store = DeploymentStore(box)
        self.registry = Registry(box.home)

    @cached_property
    def target(self) -> AppTarget:
        """Where the apps run: the box itself, or the apps' host of the hosts target (`layout.app_target`)."""
        return app_target(self.box)

    def _run_role(self, role: str, action: str, variables: dict[str, Any], progress: Progress = quiet) -> RoleResult:
        """The app's role on the box (`connection: local`) or over SSH on the apps' host."""
        if self.target.host is None:
            return run_role(self.box, role, action, variables, progress)
        from govcloud_platform.apps.runner import run_role_on

        return run_role_on(self.box, self.target.host, role, action, variables, progress)

    def _ask_apps_host(self, *args: str) -> Any:
        """The JSON answer of a hidden `govcloud box ...` command on the apps' host (one SSH round trip)."""
        import json

        from govcloud_platform.box import remote

        return json.loads(remote.govcloud(self.box, "apps", ["--json", "box", *args]).stdout)

    def _programs(self) -> dict[str, dict[str, Any]]:
        """supervisord's programs where the apps run: the box's, or the apps' host's."""
        if self.target.host is None:
            return Supervisor(self.box).info()
        return dict(self._ask_apps_host("programs"))

    # --- checks -----------------------------------------------------------------------------------
    def _agency(self, slug: str) -> Any:
        """The agency's record; apps go only to a ready agency."""
        record = self.registry.agency(slug)
        if record is None:
            raise InputError(f"unknown agency {slug!r}", hint="`govcloud agency list` shows the agencies")
        if record.state != AGENCY_READY:
            raise ConflictError(f"agency {slug!r} is {record.state}", hint="run `govcloud apply` to converge it")
        return record

    @staticmethod
    def _implemented(m: AppManifest) -> None:
        if not m.implemented:
            raise InputError(f"app {m.name!r} is in the catalogue but has no role yet",
                             hint="deployable today: " + ", ".join(n for n, x in CATALOGUE.items() if x.implemented))

    # --- deploy -----------------------------------------------------------------------------------
    def deploy(self, slug: str, app: str) -> DeployResult:
        m = manifest(app)
        self._implemented(m)
        record = self._agency(slug)
        missing = set(m.services) - set(record.services)
        if missing:
            raise InputError(f"app {app} needs the agency services {sorted(missing)}; {slug} lacks them",
                             hint="add them to the agency's services in the spec and run `govcloud apply`")
        from govcloud_platform.upgrade import require_current_names

        require_current_names(self.box)
        t0 = time.monotonic()
        with box_lock(self.box.home, f"app deploy {slug} {app}"):
            try:
                result = self._deploy_locked(slug, record.name, m)
            except Exception as exc:
                self.registry.audit("app deploy", f"{slug}/{app}", "failed", self.actor, str(exc))
                raise
        result.seconds = time.monotonic() - t0
        self.registry.audit("app deploy", f"{slug}/{app}", "changed" if result.changed else "unchanged",
                            self.actor, f"changed={result.changed}")
        return result

    def taken(self, slug: str, m: AppManifest) -> list[str]:
        """For a deployment the registry does not record yet: which server-side objects its names would take
        exist already (its database and role, its OIDC client, and the agency's system user while no app of the
        agency is deployed). A deploy refuses them: it never adopts what is not recorded as the agency's."""
        found: list[str] = []
        name = pg_app(slug, m.name)
        if "database" in m.services:
            with self.box.pg_admin() as conn:
                for kind, query in (("role", "SELECT 1 FROM pg_roles WHERE rolname = %s"),
                                    ("database", "SELECT 1 FROM pg_database WHERE datname = %s")):
                    if conn.execute(query, (name,)).fetchone():
                        found.append(f"PostgreSQL {kind} {name}")
        if "identity" in m.services:
            client = oidc_app_client(slug, m.name)
            clients = idp_api.configured_clients(self.box)
            if client in clients or client in {o.get("oidcRPMetaDataOptionsClientID") for o in clients.values()}:
                found.append(f"OIDC client {client}")
        if not self.store.all(slug) and not any(self.store.retained(slug, a) for a in CATALOGUE):
            # one this box made (its mark) is the agency's: a deploy interrupted before the registry knew
            comment = self._user_comment(system_user(slug))
            if comment is not None and comment != system_user_mark(str(self.target.home)):
                found.append(f"system user {system_user(slug)}")
        return found

    def _user_comment(self, name: str) -> str | None:
        """The comment of system user `name` where the apps run (None: no such user)."""
        if not self.target.remote:
            import pwd

            try:
                return pwd.getpwnam(name).pw_gecos
            except KeyError:
                return None
        doc = self._ask_apps_host("user", name)
        return str(doc["comment"]) if doc.get("exists") else None

    def _deploy_locked(self, slug: str, agency_name: str, m: AppManifest) -> DeployResult:
        if self.store.get(slug, m.name) is None and not self.store.retained(slug, m.name):
            found = self.taken(slug, m)
            if found:
                raise ConflictError(
                    f"app {m.name} of {slug}: {found[0]} exists already and the registry records no such "
                    "deployment; nothing was changed",
                    hint="it is not this agency's: remove it, or find its owner (`govcloud doctor`)")
        deployment, secrets = self.store.begin(slug, m.name, new_secrets(m))
        steps: list[str] = []
        if "database" in m.services:
            self.progress(f"{slug}/{m.name}: database {pg_app(slug, m.name)}")
            if self._ensure_database(slug, m, secrets["db_password"]):
                steps.append("database created")
        if "identity" in m.services:
            self.progress(f"{slug}/{m.name}: OIDC client {oidc_app_client(slug, m.name)}")
            if self._ensure_oidc_client(slug, agency_name, m, secrets["oidc_secret"]):
                steps.append("OIDC client registered")
        self.progress(f"{slug}/{m.name}: certificate for {public_host(self.box, slug, m.name)}")
        cert, key, issued = self._ensure_cert(slug, m.name)
        if issued:
            steps.append("certificate issued")
        storage = self._storage_credentials(slug)
        mail = self._mail_credentials(slug) if "mail" in (*m.services, *m.optional_services) else {}
        signing = self._signing_credentials(slug) if m.name == "centre" else {}
        payments = self._payments_credentials(slug) if m.name == "centre" else {}
        variables = role_vars(self.box, slug, agency_name, m, deployment, secrets, storage, cert, key, "deploy",
                              target=self.target, mail=mail, signing=signing, payments=payments)
        with self._venv_cache_lock(m.name):
            result = self._run_role(m.role, "deploy", variables, lambda t: self.progress(f"{slug}/{m.name}: {t}"))
        steps += [f"role: {t}" for t in result.changed_tasks]
        self.store.set_state(slug, m.name, READY)
        return DeployResult(slug, m.name, public_url(self.box, slug, m.name), len(steps), 0.0, steps)

    def _storage_credentials(self, slug: str) -> dict[str, Any]:
        """The agency's S3 credentials as its storage broker hands them out (none if it has no storage)."""
        from govcloud_platform.brokers.storage import StorageBroker

        creds = self.registry.binding(slug, "storage")
        return StorageBroker().bind(self.box, slug, creds) if creds is not None else {}

    def _mail_credentials(self, slug: str) -> dict[str, Any]:
        """The agency's SMTP login as its mail broker hands it out (none if it has no mail service)."""
        from govcloud_platform.brokers.mail import MailBroker

        creds = self.registry.binding(slug, "mail")
        return MailBroker().bind(self.box, slug, creds) if creds is not None else {}

    def _signing_credentials(self, slug: str) -> dict[str, Any]:
        """The agency's signing credentials as its signing broker hands them out (none where the box runs no signing
        service)."""
        from govcloud_platform.brokers.signing import SigningBroker

        creds = self.registry.binding(slug, "signing")
        return SigningBroker().bind(self.box, slug, creds) if creds is not None else {}

    def _payments_credentials(self, slug: str) -> dict[str, Any]:
        """The agency's merchant account at the box's demo payment provider (brokers/paydemo.py), where the box runs
        it; else none (the centre then takes payments at the counter only, or from a provider the spec names)."""
        from govcloud_platform.brokers.paydemo import PaydemoBroker

        creds = self.registry.binding(slug, "paydemo") if self.box.runs("paydemo") else None
        return PaydemoBroker().bind(self.box, slug, creds) if creds is not None else {}

    @contextmanager
    def _venv_cache_lock(self, app: str) -> Iterator[None]:
        """Boxes of one host share the cached virtualenvs: one deploy of an app at a time builds or checks
        them (the box lock only covers this box). On the hosts target the lock is the control's: it keeps its own
        deploys of an app apart, and in the lab, whose hosts share this machine's cache, every box's."""
        cache = venv_cache()
        if cache is None:
            yield
            return

        def busy(holder: str) -> ConflictError:
            return ConflictError(f"the {app} virtualenv cache in {cache} is locked by {holder or 'another deploy'}",
                                 hint="wait for it to finish, then re-run")

        made = [p for p in (cache, *cache.parents) if not p.exists()]
        cache.mkdir(parents=True, exist_ok=True)
        for path in [*made, cache]:  # the apps' users read their code there; our umask (077) would hide it
            path.chmod(0o755)
        with file_lock(cache / f".{app}.lock", f"pid {os.getpid()} (app deploy {app})", busy, wait=RUN_TIMEOUT_S):
            yield

    def _ensure_database(self, slug: str, m: AppManifest, password: str) -> bool:
        name = pg_app(slug, m.name)
        quota = self.box.spec.resolve_quota(self._agency(slug).quota)
        with self.box.pg_admin() as conn:
            existed = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None
            ensure_role(conn, name, password, quota.database_connections)
            if m.database_c_locale and not existed:
                # The broker's ensure_database below finds it and applies owner, limits and grants as usual.
                conn.execute(sql.SQL("CREATE DATABASE {} OWNER {} ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' "
                                     "TEMPLATE template0").format(sql.Identifier(name), sql.Identifier(name)))
        ensure_database(self.box, name, name, [], quota.database_connections)
        allow_in_hba(self.box, name, name, [name])
        return not existed

    def _ensure_oidc_client(self, slug: str, agency_name: str, m: AppManifest, secret: str) -> bool:
        client_id = oidc_app_client(slug, m.name)
        body = app_oidc_client(self.box, slug, agency_name, m, secret)
        current = idp_api.configured_clients(self.box).get(client_id)
        if not oidc_clients.client_differs(current, body):
            return False
        if current is not None:
            idp_api.remove_oidc_client(self.box, client_id)
        idp_api.post_oidc_client(self.box, body)
        return True

    def _ensure_cert(self, slug: str, app: str) -> tuple[Path, Path, bool]:
        name = app_program(slug, app)
        existing = app_tls(self.box, slug, app)[0]
        before = existing.stat().st_mtime_ns if existing.exists() else None
        cert, key = self.box.ca.issue(name, [public_host(self.box, slug, app)])
        return cert, key, before != cert.stat().st_mtime_ns

    def _user_needed_by_others(self, slug: str, app: str) -> bool:
        """Another app of the agency (in whatever state) still runs as the agency's system user."""
        return any(d.app != app for d in self.store.all(slug))

    # --- remove -----------------------------------------------------------------------------------
    def remove(self, slug: str, app: str, purge: bool) -> bool:
        """Stop and unpublish the app and revoke its credentials; with purge also delete its data.
        False if it was not deployed (and nothing was to purge)."""
        m = manifest(app)
        deployment = self.store.get(slug, app)
        if deployment is None and not purge:
            return False
        with box_lock(self.box.home, f"app remove {slug} {app}", reentrant=True):
            if deployment is not None:
                record = self.registry.agency(slug)
                variables = role_vars(self.box, slug, record.name if record else slug, m, deployment, None, None,
                                      None, None, "remove", purge,
                                      last_app=not self._user_needed_by_others(slug, m.name), target=self.target)
                self._run_role(m.role, "remove", variables, lambda t: self.progress(f"{slug}/{app}: {t}"))
            if "identity" in m.services:
                idp_api.remove_oidc_client(self.box, oidc_app_client(slug, app))
            if "database" in m.services:
                name = pg_app(slug, app)
                revoke_in_hba(self.box, name)
                if purge:
                    drop_database(self.box, name, [name])
                else:
                    disable_roles(self.box, [name])
            for path in app_tls(self.box, slug, app):
                path.unlink(missing_ok=True)
            if purge and not self.target.remote:  # on an apps host the role's remove deleted it
                import shutil

                shutil.rmtree(instance_dir(self.box, slug, app), ignore_errors=True)
            self.store.delete(slug, app, keep_data=not purge)
            self.registry.audit("app remove", f"{slug}/{app}", "purged" if purge else "removed (data kept)",
                                self.actor)
        return True

    # --- read -------------------------------------------------------------------------------------
    def check(self, slug: str, app: str) -> RoleResult:
        """Run the role's check action (process running, health URL, private settings file)."""
        m = manifest(app)
        deployment = self._deployment(slug, app)
        record = self.registry.agency(slug)
        variables = role_vars(self.box, slug, record.name if record else slug, m, deployment, None, None, None,
                              None, "check", target=self.target)
        return self._run_role(m.role, "check", variables)

    def _deployment(self, slug: str, app: str) -> Deployment:
        manifest(app)
        deployment = self.store.get(slug, app)
        if deployment is None:
            raise InputError(f"{app} is not deployed for agency {slug!r}",
                             hint=f"`govcloud app deploy {slug} {app}`")
        return deployment

    def status(self, slug: str, app: str) -> dict[str, Any]:
        deployment = self._deployment(slug, app)
        return self._describe(deployment, self._programs())

    def list(self, agency: str | None = None) -> list[dict[str, Any]]:
        deployments = self.store.all(agency)
        info = self._programs() if deployments else {}
        return [self._describe(d, info) for d in deployments]

    def _describe(self, d: Deployment, info: dict[str, dict[str, Any]]) -> dict[str, Any]:
        from govcloud_platform.apps.probe import fetch

        m = manifest(d.app)
        proc = info.get(app_program(d.agency, d.app), {})
        running = proc.get("statename") == "RUNNING"
        url = public_url(self.box, d.agency, d.app)
        status, detail = None, proc.get("statename", "not registered")
        if running:
            status, detail = fetch(self.box, url + m.health_path, connect=self.target.connect)
        healthy = running and d.state == READY and status == 200
        return {
            "agency": d.agency, "app": d.app, "url": url, "healthy": healthy, "state": d.state,
            "process": str(proc.get("statename", "absent")).lower(), "pid": proc.get("pid") or None,
            "port": d.port, "health_url": url + m.health_path, "detail": detail if not healthy else "ok",
        }


def converge_apps(box: Box, spec: Any = None, progress: Progress = quiet, actor: str | None = None) -> dict[str, Any]:
    """Deploy every app the spec declares for its agencies (idempotent; apps not declared are reported as
    drift, never removed). For `govcloud apply`: {"deployed": [...], "unchanged": [...], "drift": [...]}."""
    spec = spec or box.spec
    service = AppService(box, actor=actor, progress=progress)
    report: dict[str, list[str]] = {"deployed": [], "unchanged": [], "drift": []}
    wanted = {(a.slug, app) for a in spec.agencies for app in a.apps}
    for slug, app in sorted(wanted):
        result = service.deploy(slug, app)
        report["deployed" if result.changed else "unchanged"].append(f"{slug}/{app}")
    for d in service.store.all():
        if (d.agency, d.app) not in wanted:
            report["drift"].append(f"{d.agency}/{d.app}")
    return report
