"""App deployments in the registry (table `app_deployments`, migration 2): state, port, encrypted secrets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from govcloud_platform.box.context import Box
from govcloud_platform.box.ports import APP_PORT_FIRST, APP_PORT_LAST, port_in_use
from govcloud_platform.errors import ConflictError
from govcloud_platform.state.registry import Registry, now

DEPLOYING, READY = "deploying", "ready"


@dataclass(frozen=True)
class Deployment:
    agency: str
    app: str
    state: str
    port: int
    created_at: str
    updated_at: str


class DeploymentStore:
    def __init__(self, box: Box) -> None:
        self.box = box
        self.registry = Registry(box.home)

    def all(self, agency: str | None = None) -> list[Deployment]:
        query = "SELECT agency, app, state, port, created_at, updated_at FROM app_deployments"
        args: tuple[Any, ...] = ()
        if agency:
            query += " WHERE agency = ?"
            args = (agency,)
        with self.registry.connect() as conn:
            rows = conn.execute(query + " ORDER BY agency, app", args).fetchall()
        return [Deployment(*r) for r in rows]

    def get(self, agency: str, app: str) -> Deployment | None:
        return next((d for d in self.all(agency) if d.app == app), None)

    def secrets(self, agency: str, app: str) -> dict[str, Any] | None:
        with self.registry.connect() as conn:
            row = conn.execute(
                "SELECT secret FROM app_deployments WHERE agency = ? AND app = ?", (agency, app)
            ).fetchone()
        return self.registry.decrypt(row[0]) if row else None

    def begin(self, agency: str, app: str, new_secrets: dict[str, Any]) -> tuple[Deployment, dict[str, Any]]:
        """The existing row (secrets kept, so a re-run converges), or a new one with a free app port."""
        existing = self.get(agency, app)
        if existing is not None:
            secrets = self.secrets(agency, app) or {}
            missing = {k: v for k, v in new_secrets.items() if k not in secrets}
            if missing:
                secrets.update(missing)
                self._save_secret(agency, app, secrets)
            return existing, secrets
        port = self._free_port()
        stamp = now()
        with self.registry.connect() as conn:
            conn.execute(
                "INSERT INTO app_deployments (agency, app, state, port, secret, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (agency, app, DEPLOYING, port, self.registry.encrypt(new_secrets), stamp, stamp),
            )
        created = self.get(agency, app)
        assert created is not None
        return created, new_secrets

    def _save_secret(self, agency: str, app: str, secrets: dict[str, Any]) -> None:
        with self.registry.connect() as conn:
            conn.execute("UPDATE app_deployments SET secret = ?, updated_at = ? WHERE agency = ? AND app = ?",
                         (self.registry.encrypt(secrets), now(), agency, app))

    def set_state(self, agency: str, app: str, state: str) -> None:
        with self.registry.connect() as conn:
            conn.execute("UPDATE app_deployments SET state = ?, updated_at = ? WHERE agency = ? AND app = ?",
                         (state, now(), agency, app))

    def delete(self, agency: str, app: str, keep_data: bool = False) -> None:
        """Forget the deployment; with `keep_data` record that its data stays on the servers (`retained`)."""
        with self.registry.connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("DELETE FROM app_deployments WHERE agency = ? AND app = ?", (agency, app))
                if keep_data:
                    conn.execute("INSERT OR REPLACE INTO app_retained (agency, app, since) VALUES (?, ?, ?)",
                                 (agency, app, now()))
                else:
                    conn.execute("DELETE FROM app_retained WHERE agency = ? AND app = ?", (agency, app))
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def retained(self, agency: str, app: str) -> bool:
        """Whether an earlier removal kept this app's data (its database, role and files are the agency's)."""
        with self.registry.connect() as conn:
            row = conn.execute("SELECT 1 FROM app_retained WHERE agency = ? AND app = ?", (agency, app)).fetchone()
        return row is not None

    def _free_port(self) -> int:
        used = {d.port for d in self.all()}
        for offset in range(APP_PORT_FIRST, APP_PORT_LAST + 1):
            port = self.box.port_base + offset
            if port not in used and not port_in_use(port):
                return port
        raise ConflictError(
            f"no free app port left in {self.box.port_base + APP_PORT_FIRST}..{self.box.port_base + APP_PORT_LAST}",
            hint="remove an app deployment first",
        )
