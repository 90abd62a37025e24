"""Who sees what in the console, as pure decisions (no I/O): the page and API views only fetch, ask these, answer.

A principal is what a verified token (or the signed-in session made from one) says: its subject and its groups.
- A directorate operator is a member of an operators' group (`identity.OPERATOR_GROUPS`, `platform-operators`):
  every agency is theirs to see.
- An agency member is a member of the agency's IdP group, `agency-<slug>` (`names.group`; its administrators are
  members of it too). They see that agency only. Other groups of the agency (`--admins`, `--desk-...`) give no
  standing of their own: membership is the agency group itself.
- Anyone else (a valid token of the IdP without either) has no standing: 403 everywhere but the sign-in.
- Who may act on an agency (start its long operations: deploy or remove an app, run a backup or a restore drill;
  reveal its secrets; manage its members), one rule, `may_act`: an operator, or an agency member who is also in the
  agency's administrators' group (`names.admins_group`, `agency-<slug>--admins`; the IdP puts the agency's
  administrator in both). Plain members read (403 on a start or a change).
- A script (an access token of a script client, client credentials: `console_scripts`) has the standing the
  registry records for its client, not any group: an operator's, or one agency's. Its subject is `script:<name>`
  (the audit log's actor `console:script:<name>`).

Another agency's id answers exactly what an unknown id answers: 404 with the same body, never 403. A 403 would
confirm that the agency exists, so a member could probe the registry for other agencies' slugs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from govcloud_platform.names import ADMINS, parse_group


@dataclass(frozen=True)
class Principal:
    subject: str
    operator: bool
    agencies: frozenset[str]  # the slugs whose group the principal is a member of
    administers: frozenset[str] = frozenset()  # the slugs whose administrators' group (`names.admins_group`) too

    @property
    def has_standing(self) -> bool:
        return self.operator or bool(self.agencies)


def principal(subject: str, groups: object, operator_groups: Sequence[str]) -> Principal:
    """The principal of a token's `sub` and `groups` claim (anything but a list of strings counts as no group)."""
    names = [g for g in groups if isinstance(g, str)] if isinstance(groups, list) else []
    agencies, admins = set(), set()
    for name in names:
        owner = parse_group(name)
        if owner is not None and owner.role is None:
            agencies.add(owner.slug)
        elif owner is not None and owner.role == ADMINS:
            admins.add(owner.slug)
    # an administrator is one only of an agency whose member it is (the IdP puts its administrators in both groups)
    return Principal(subject, any(g in operator_groups for g in names), frozenset(agencies),
                     frozenset(admins & agencies))


SCRIPT = "script:"


def script_principal(name: str, role: str, agency: str | None) -> Principal:
    """The principal of a script client's token: the standing recorded for the client (`state.console_clients`):
    role `operator`, or an agency's `member`/`admin` with its slug. Anything else has no standing."""
    if role == "operator" and agency is None:
        return Principal(SCRIPT + name, True, frozenset())
    if role in ("member", "admin") and agency:
        return Principal(SCRIPT + name, False, frozenset({agency}))
    return Principal(SCRIPT + name, False, frozenset())


def may_see(who: Principal, slug: str) -> bool:
    """Whether the agency `slug` is the principal's to see (whether it exists is the caller's question)."""
    return who.operator or slug in who.agencies


def may_act(who: Principal, slug: str) -> bool:
    """Whether the principal may act on the agency: start its long operations (deploy or remove an app, run a
    backup or a restore drill), reveal its secrets (its services' passwords and keys), invite, change and remove its
    members. An operator, or one of the agency's administrators (`administers`: `principal` keeps only the agencies
    whose member it is too); its plain members only read. Ask `may_see` first: another agency's slug answers 404,
    not 403."""
    return who.operator or slug in who.administers


def may_restore(who: Principal, slug: str) -> bool:
    """Whether the principal may restore the agency's backup in place (its databases and bucket replaced by what
    the backup holds: destructive, so the page asks to confirm and the API wants `"confirm": true`): an operator, or
    one of the agency's administrators, who own its data and answer for it; never a plain member, nor a script of the
    agency (a script client's role gives no administrator's standing yet). Ask `may_see` first (404, not 403)."""
    return who.operator or (slug in who.agencies and slug in who.administers)


def may_apply(who: Principal) -> bool:
    """Whether the principal may run `apply` (converge the whole platform: every agency's limits): operators only;
    an agency's administrators act on their own agency alone."""
    return who.operator


def visible(who: Principal, slugs: Iterable[str]) -> list[str]:
    """The slugs of `slugs` the principal may see, in their order."""
    return [s for s in slugs if may_see(who, s)]
