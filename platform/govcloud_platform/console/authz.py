"""Who sees what in the console, as pure decisions (no I/O): the page and API views only fetch, ask these, answer.

A principal is what a verified token (or the signed-in session made from one) says: its subject and its groups.
- A directorate operator is a member of an operators' group (`identity.OPERATOR_GROUPS`, `platform-operators`):
  every agency is theirs to see.
- An agency member is a member of the agency's IdP group, `agency-<slug>` (`names.group`; its administrators are
  members of it too). They see that agency only. Other groups of the agency (`--admins`, `--desk-...`) give no
  standing of their own: membership is the agency group itself.
- Anyone else (a valid token of the IdP without either) has no standing: 403 everywhere but the sign-in.

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
    admin_of: frozenset[str] = frozenset()  # the slugs whose administrators' group they are in (`--admins`)

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
    return Principal(subject, any(g in operator_groups for g in names), frozenset(agencies), frozenset(admins))


def may_see(who: Principal, slug: str) -> bool:
    """Whether the agency `slug` is the principal's to see (whether it exists is the caller's question)."""
    return who.operator or slug in who.agencies


def visible(who: Principal, slugs: Iterable[str]) -> list[str]:
    """The slugs of `slugs` the principal may see, in their order."""
    return [s for s in slugs if may_see(who, s)]
