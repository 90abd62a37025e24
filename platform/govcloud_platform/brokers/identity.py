"""Identity broker: an agency group, an agency administrator in the IdP's user store, and an OIDC client
for the agency, created through the IdP's manager API while it runs."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from govcloud_platform.box import idp_api, oidc_clients
from govcloud_platform.box.context import Box
from govcloud_platform.box.oidc_policy import admitted_groups
from govcloud_platform.box.secrets import new_password
from govcloud_platform.brokers.base import Broker, Provisioning, in_parallel, naming
from govcloud_platform.names import (
    admin_login,
    admins_group,
    desk_group_prefix,
    group,
    oidc_client,
    parse_client,
    parse_login,
)
from govcloud_platform.spec import Quota


class IdentityBroker(Broker):
    service = "identity"

    def new_credentials(self, box: Box, slug: str) -> dict[str, Any]:
        return {"client_secret": new_password(32), "admin_password": new_password()}

    def redirect_uris(self, box: Box, slug: str) -> list[str]:
        return [f"https://{slug}.{box.spec.platform.domain}:{box.ports.proxy_https}/oidc/callback"]

    def _add_admin(self, box: Box, slug: str, name: str, creds: dict[str, Any], conn: Any = None) -> None:
        idp_api.add_user(
            box, admin_login(slug), creds["admin_password"], f"admin@{slug}.{box.spec.platform.domain}",
            f"{name} administrator", [group(slug), admins_group(slug)], conn,
        )

    def _client(self, box: Box, slug: str, name: str, creds: dict[str, Any]) -> dict[str, Any]:
        """The agency's client: its members only (`admitted_groups`), and client credentials."""
        client_id = oidc_client(slug)
        return oidc_clients.oidc_client(
            box, client_id, creds["client_secret"], self.redirect_uris(box, slug), name,
            admit=admitted_groups(client_id) or [], allow_client_credentials=True,
        )

    def provision(self, box: Box, slug: str, name: str, quota: Quota, creds: dict[str, Any], new: bool = False) -> None:
        """The administrator (bcrypt in PostgreSQL) and the OIDC client (the IdP's manager API) at once."""
        with ThreadPoolExecutor(max_workers=1) as pool:
            admin = pool.submit(self._add_admin, box, slug, name, creds)
            body = self._client(box, slug, name, creds)
            current = idp_api.configured_clients(box).get(body["confKey"])  # from disk: no manager-API round trip
            if self._differs(current, body):
                if current is not None:
                    idp_api.remove_oidc_client(box, body["confKey"])
                idp_api.post_oidc_client(box, body)
            admin.result()

    @staticmethod
    def _differs(current: dict[str, Any] | None, body: dict[str, Any]) -> bool:
        """Whether the configured client (lmConf options) lacks anything of this body: secret, redirect URIs,
        access rule, options (a client made by older code converges on the next provisioning)."""
        return oidc_clients.client_differs(current, body)

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
        changed = [body for body in bodies if self._differs(current.get(body["confKey"]), body)]
        # Even when nothing changed, one token request proves the portal serves these clients.
        idp_api.put_oidc_clients(box, changed, probe=(changed or bodies)[-1])

    def bind(self, box: Box, slug: str, creds: dict[str, Any]) -> dict[str, Any]:
        return {
            "issuer": box.issuer,
            "client_id": oidc_client(slug),
            "client_secret": creds["client_secret"],
            "redirect_uris": self.redirect_uris(box, slug),
            "discovery_url": f"{box.issuer}/.well-known/openid-configuration",
            "admin_user": admin_login(slug),
            "admin_password": creds["admin_password"],
            "group": group(slug),
            "admins_group": admins_group(slug),
            "ca_file": str(box.ca_file),
        }

    def deprovision(self, box: Box, slug: str, purge: bool) -> None:
        idp_api.remove_oidc_client(box, oidc_client(slug))
        idp_api.remove_user(box, admin_login(slug))
        if purge:  # the members the console's invitations made (`<local>@<slug>`) go with the agency's data
            for login in idp_api.list_users(box):
                if (parse_login(login) or ("", ""))[0] == slug:
                    idp_api.remove_user(box, login)
            idp_api.remove_empty_groups(box, [group(slug), admins_group(slug)])
            idp_api.remove_groups_with_prefix(box, desk_group_prefix(slug))  # the centre's desks

    def usage(self, box: Box, slug: str) -> dict[str, Any]:
        members = [u for u in idp_api.list_users(box) if (parse_login(u) or ("", ""))[0] == slug]
        return {"users": len(members), "client": idp_api.get_oidc_client(box, oidc_client(slug)) is not None}

    def taken(self, box: Box, slugs: list[str]) -> dict[str, list[str]]:
        """OIDC clients (by configuration key or client id), the administrator's login, and agency groups that
        have members (an empty group grants nothing; a purge removes the agency's)."""
        clients = idp_api.configured_clients(box)
        ids = set(clients) | {o.get("oidcRPMetaDataOptionsClientID") for o in clients.values()}
        logins = {admin_login(s): s for s in slugs}
        groups = {g: s for s in slugs for g in (group(s), admins_group(s))}
        with idp_api.idp_db(box) as conn:
            users = conn.execute("SELECT login FROM users WHERE login = ANY(%s)", (list(logins),)).fetchall()
            used = conn.execute("SELECT DISTINCT group_name FROM memberships WHERE group_name = ANY(%s)",
                                (list(groups),)).fetchall()
        out: dict[str, list[str]] = {}
        for slug in slugs:
            if oidc_client(slug) in ids:
                out.setdefault(slug, []).append(f"OIDC client {oidc_client(slug)}")
        for (login,) in users:
            out.setdefault(logins[login], []).append(f"IdP user {login}")
        for (name,) in used:
            out.setdefault(groups[name], []).append(f"IdP group {name}")
        return out

    def orphans(self, box: Box, known: set[str]) -> list[str]:
        """OIDC clients and IdP users named like an agency's whose agency the registry does not know."""
        def foreign_client(name: str) -> bool:
            owner = parse_client(name)
            return name.startswith("ag-") and (owner is None or owner.slug not in known)

        def foreign_user(login: str) -> bool:
            parsed = parse_login(login)
            return "@" in login and (parsed is None or parsed[0] not in known)

        out = [f"OIDC client {c}" for c in idp_api.list_oidc_clients(box) if foreign_client(c)]
        return out + [f"IdP user {u}" for u in idp_api.list_users(box) if foreign_user(u)]
