"""Identity broker: an agency group, an agency administrator in the IdP's user store, and an OIDC client
for the agency, created through the IdP's manager API while it runs."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from govcloud_platform.box import idp_api
from govcloud_platform.box.context import Box
from govcloud_platform.box.secrets import new_password
from govcloud_platform.brokers.base import Broker, Provisioning, in_parallel, naming, s3_name
from govcloud_platform.spec import Quota


def group_of(slug: str) -> str:
    return f"agency-{slug}"


def admin_login(slug: str) -> str:
    return f"{slug}-admin"


def client_id_of(slug: str) -> str:
    return s3_name(slug)


class IdentityBroker(Broker):
    service = "identity"

    def new_credentials(self, box: Box, slug: str) -> dict[str, Any]:
        return {"client_secret": new_password(32), "admin_password": new_password()}

    def redirect_uris(self, box: Box, slug: str) -> list[str]:
        return [f"https://{slug}.{box.spec.platform.domain}:{box.ports.proxy_https}/oidc/callback"]

    def _add_admin(self, box: Box, slug: str, name: str, creds: dict[str, Any], conn: Any = None) -> None:
        idp_api.add_user(
            box, admin_login(slug), creds["admin_password"], f"admin@{slug}.{box.spec.platform.domain}",
            f"{name} administrator", [group_of(slug), f"{group_of(slug)}-admins"], conn,
        )

    def _client(self, box: Box, slug: str, name: str, creds: dict[str, Any]) -> dict[str, Any]:
        return idp_api.oidc_client(
            box, client_id_of(slug), creds["client_secret"], self.redirect_uris(box, slug), name,
            allow_client_credentials=True,
        )

    def provision(self, box: Box, slug: str, name: str, quota: Quota, creds: dict[str, Any], new: bool = False) -> None:
        """The administrator (bcrypt in PostgreSQL) and the OIDC client (the IdP's manager API) at once."""
        with ThreadPoolExecutor(max_workers=1) as pool:
            admin = pool.submit(self._add_admin, box, slug, name, creds)
            body = self._client(box, slug, name, creds)
            current = idp_api.configured_clients(box).get(body["confKey"])  # from disk: no manager-API round trip
            if current is None or self._differs(current, body):
                if current is not None:
                    idp_api.remove_oidc_client(box, body["confKey"])
                idp_api.post_oidc_client(box, body)
            admin.result()

    @staticmethod
    def _differs(current: dict[str, Any], body: dict[str, Any]) -> bool:
        """Whether the configured client (lmConf options) lacks this body's secret or redirect URIs."""
        return (current.get("oidcRPMetaDataOptionsClientSecret") != body["options"]["clientSecret"]
                or current.get("oidcRPMetaDataOptionsRedirectUris") != " ".join(body["redirectUris"]))

    def provision_many(self, box: Box, jobs: list[Provisioning]) -> None:
        """Administrators by two workers (bcrypt in the database is CPU-bound), then every missing or
        changed OIDC client in ONE new IdP configuration instead of one manager-API call each."""
        def admins(chunk: list[Provisioning]) -> list[None]:
            with idp_api.idp_db(box) as conn:
                for job in chunk:
                    with naming(job.slug, self.service):
                        self._add_admin(box, job.slug, job.name, job.creds, conn)
            return []

        in_parallel(admins, jobs, workers=2)
        current = idp_api.configured_clients(box)
        bodies = [self._client(box, job.slug, job.name, job.creds) for job in jobs]
        changed = [body for body in bodies if self._differs(current.get(body["confKey"], {}), body)]
        # Even when nothing changed, one token request proves the portal serves these clients.
        idp_api.put_oidc_clients(box, changed, probe=(changed or bodies)[-1])

    def bind(self, box: Box, slug: str, creds: dict[str, Any]) -> dict[str, Any]:
        return {
            "issuer": box.issuer,
            "client_id": client_id_of(slug),
            "client_secret": creds["client_secret"],
            "discovery_url": f"{box.issuer}/.well-known/openid-configuration",
            "admin_user": admin_login(slug),
            "admin_password": creds["admin_password"],
            "group": group_of(slug),
            "ca_file": str(box.ca_file),
        }

    def deprovision(self, box: Box, slug: str, purge: bool) -> None:
        idp_api.remove_oidc_client(box, client_id_of(slug))
        idp_api.remove_user(box, admin_login(slug))

    def usage(self, box: Box, slug: str) -> dict[str, Any]:
        members = [u for u in idp_api.list_users(box) if u.startswith(f"{slug}-")]
        return {"users": len(members), "client": idp_api.get_oidc_client(box, client_id_of(slug)) is not None}

    def orphans(self, box: Box, known: set[str]) -> list[str]:
        clients = {client_id_of(s) for s in known}
        out = [f"OIDC client {c}" for c in idp_api.list_oidc_clients(box)
               if c.startswith("ag-") and c not in clients and c.split("--", 1)[0] not in clients]
        admins = {admin_login(s) for s in known}
        out += [f"IdP user {u}" for u in idp_api.list_users(box) if u.endswith("-admin") and u not in admins]
        return out
