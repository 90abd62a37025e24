"""Script clients of the web console (`govcloud console client ...`): a confidential OIDC client of the box's IdP
with the client-credentials grant only (no redirect URI, an access rule no user's sign-in passes), recorded in the
registry with the standing the console gives its tokens: an operator's, or an agency's member or administrator
(`state.console_clients`). The console accepts the client's access tokens while the registry holds it
(`console/app.py`), so removing it refuses its tokens at once, before they expire.

`decide_standing` decides (pure); `ScriptClients` does, under the box lock: the IdP first, then the registry row
(a half-done add leaves an IdP client whose tokens the console refuses, and a re-run replaces it)."""

from __future__ import annotations

from govcloud_platform.box import idp_api, oidc_clients
from govcloud_platform.box.context import Box
from govcloud_platform.box.secrets import new_password
from govcloud_platform.errors import ConflictError, InputError
from govcloud_platform.names import check_script_name, script_client
from govcloud_platform.state import console_clients as store
from govcloud_platform.state.console_clients import ScriptClient
from govcloud_platform.state.lock import box_lock
from govcloud_platform.state.registry import READY, Registry

AUDIT_TARGET = "console"  # an operator's client is the platform's (its entries are the operators')


def decide_standing(operator: bool, agency: str | None, role: str | None, agencies: dict[str, str]
                    ) -> tuple[str, str | None]:
    """(role, agency) to record, or InputError: exactly one of an operator's standing or one agency's, the agency
    onboarded and ready (`agencies`: slug -> state), the role member (default) or admin, and no role for an
    operator's."""
    if operator == (agency is not None):
        raise InputError("give either --operator or --agency SLUG", hint="a script acts for the directorate or for "
                                                                          "one agency")
    if operator:
        if role is not None:
            raise InputError("--role is for an agency's client", hint="leave it out with --operator")
        return store.OPERATOR, None
    assert agency is not None
    role = role or store.MEMBER
    if role not in (store.MEMBER, store.ADMIN):
        raise InputError(f"--role {role[:40]!r}: member or admin", hint="the standing of an agency's member or "
                                                                        "administrator")
    state = agencies.get(agency)
    if state is None:
        raise InputError(f"unknown agency {agency[:80]!r}", hint="`govcloud agency list` shows the agencies")
    if state != READY:
        raise InputError(f"agency {agency!r} is {state}", hint="a script client is for a ready agency")
    return role, agency


NO_SIGN_IN = "/auth/no-sign-in"  # a path of the console that answers 404


def client_body(box: Box, name: str, secret: str) -> dict[str, object]:
    """The IdP client: confidential, client credentials only: the access rule admits that grant and no user's
    sign-in (`access_rule([], client_credentials=True)`), the password grant is off; JWT access tokens
    (`oidc_clients.oidc_client`). LemonLDAP::NG's manager refuses a configuration with a client without a redirect
    URI (its test `oidcRPRedirectURINotEmpty`: every later change through its API would fail), so the client has
    one that leads nowhere: a path of the console that answers 404, where no code ever arrives, since no user
    passes the rule."""
    from govcloud_platform.box.services.console_conf import public_url

    return oidc_clients.oidc_client(box, script_client(name), secret, [public_url(box) + NO_SIGN_IN],
                                    f"govcloud console script {name}", admit=[], allow_client_credentials=True)


class ScriptClients:
    def __init__(self, box: Box, actor: str | None = None) -> None:
        self.box, self.actor = box, actor

    def add(self, name: str, *, operator: bool, agency: str | None, role: str | None) -> tuple[ScriptClient, str]:
        """Register the client in the IdP and record it; returns it and its secret (shown once, never stored by
        us: the IdP keeps it). Bad input (InputError) and a taken name (ConflictError) change nothing."""
        check_script_name(name)
        if not self.box.spec.platform.services.console.enabled:
            raise InputError("the console is not enabled in the spec: a script client would have no API to call",
                             hint="set platform.services.console.enabled: true, then `govcloud up`")
        registry = Registry(self.box.home)
        try:
            standing = decide_standing(operator, agency, role, {r.slug: r.state for r in registry.agencies()})
            if store.get(registry, name) is not None:
                raise ConflictError(f"script client {name!r} exists",
                                    hint="`govcloud console client list` shows them; remove it first")
            with box_lock(self.box.home, f"console client add {name}"):
                secret = new_password(40)
                idp_api.put_oidc_clients(self.box, [client_body(self.box, name, secret)])
                try:
                    found = store.add(registry, name, script_client(name), standing[0], standing[1],
                                      self.actor or "")
                except Exception:
                    idp_api.remove_oidc_client(self.box, script_client(name))
                    raise
                target = found.agency or AUDIT_TARGET
                registry.audit("console client add", target, "added", self.actor,
                               f"script client {name} ({found.role})")
            return found, secret
        finally:
            registry.close()

    def list(self) -> list[ScriptClient]:
        registry = Registry(self.box.home)
        try:
            return store.every(registry)
        finally:
            registry.close()

    def remove(self, name: str) -> ScriptClient:
        """The registry row first (the console refuses the client's tokens from then on), then the IdP client (no
        new tokens). An unknown name is InputError."""
        check_script_name(name)
        registry = Registry(self.box.home)
        try:
            found = store.get(registry, name)
            if found is None:
                raise InputError(f"unknown script client {name!r}",
                                 hint="`govcloud console client list` shows them")
            with box_lock(self.box.home, f"console client remove {name}"):
                self._remove(registry, found)
            return found
        finally:
            registry.close()

    def remove_agency(self, registry: Registry, slug: str) -> int:
        """Every client of an agency being removed (its caller holds the box lock): an agency's removal revokes
        every access it gave."""
        clients = store.every(registry, slug)
        for found in clients:
            self._remove(registry, found)
        return len(clients)

    def _remove(self, registry: Registry, found: ScriptClient) -> None:
        store.delete(registry, found.name)
        idp_api.remove_oidc_client(self.box, found.client_id)
        registry.audit("console client remove", found.agency or AUDIT_TARGET, "removed", self.actor,
                       f"script client {found.name} ({found.role})")
