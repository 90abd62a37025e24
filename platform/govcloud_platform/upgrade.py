"""Upgrading a box made by an earlier govcloud: the names of `names.py` replace the ones that collided.

Earlier releases named an agency's read-only role `ag_<u>_ro`, its administrators' group `agency-<s>-admins`
and its administrator `<s>-admin`; each could be the name of something else (agency `<s>-ro`'s owner role,
agency `<s>-admins`' member group, an operator). `govcloud up` renames them once, before any other command
may change an agency (`require_current_names`), and records `names: 2` in box.json.

An old name that is ALSO the current name of another agency's object (the box was attacked, or two agencies
happened to collide) is contested: it stays with the agency whose current name it is, and the agency it was
the old name of loses every grant it held through it (its database's CONNECT and SELECTs, its group
memberships); that agency gets a new object under its new name from its stored credentials. Nothing is
deleted: leftovers appear in `govcloud doctor`. Apps that read the admins group (the portal) pick the new name
up at their next deploy (`govcloud apply`, or `govcloud app deploy`)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from govcloud_platform.box.context import Box
from govcloud_platform.errors import ConflictError, InputError
from govcloud_platform.names import (
    admin_login,
    admins_group,
    group,
    legacy_admin_login,
    legacy_admins_group,
    legacy_pg_reader,
    pg_owner,
    pg_reader,
)
from govcloud_platform.progress import Progress
from govcloud_platform.spec import check_slug
from govcloud_platform.state.registry import Registry

NAMES_VERSION = 2


@dataclass(frozen=True)
class Action:
    """One step of the upgrade: `kind` is rename_role, isolate_role, move_members, rename_login or
    strip_login; `logins` limits a move or a strip to these users (empty: every member)."""

    kind: str
    slug: str
    old: str
    new: str = ""
    logins: tuple[str, ...] = ()

    def describe(self) -> str:
        return {
            "rename_role": f"{self.slug}: role {self.old} renamed {self.new}",
            "isolate_role": f"{self.slug}: role {self.old} is contested: its grants on {self.new} revoked",
            "move_members": f"{self.slug}: group {self.old} -> {self.new}"
                            + (f" (only {', '.join(self.logins)}: contested)" if self.logins else ""),
            "rename_login": f"{self.slug}: user {self.old} renamed {self.new}",
            "strip_login": f"{self.slug}: user {self.old} is contested: removed from the agency's groups",
        }[self.kind]


def plan(slugs: list[str], roles: set[str], groups: set[str], users: set[str], operators: set[str]) -> list[Action]:
    """The upgrade's steps (pure): `slugs` of the registry, the PostgreSQL roles, the IdP groups with members,
    the IdP users and the operators' logins that exist."""
    owners = {pg_owner(s) for s in slugs}
    member_groups = {group(s) for s in slugs}
    actions: list[Action] = []
    for slug in slugs:
        old, new = legacy_pg_reader(slug), pg_reader(slug)
        if old in roles:
            if old in owners or new in roles:
                actions.append(Action("isolate_role", slug, old, pg_owner(slug)))
            else:
                actions.append(Action("rename_role", slug, old, new))
        mine = (legacy_admin_login(slug), admin_login(slug))
        old, new = legacy_admins_group(slug), admins_group(slug)
        if old in groups:
            actions.append(Action("move_members", slug, old, new, mine if old in member_groups else ()))
        old, new = legacy_admin_login(slug), admin_login(slug)
        if old in users:
            if old in operators or new in users:
                actions.append(Action("strip_login", slug, old))
            else:
                actions.append(Action("rename_login", slug, old, new))
    return actions


def names_current(box: Box) -> bool:
    try:
        return int(json.loads(box.state_file.read_text()).get("names", 0)) >= NAMES_VERSION
    except (OSError, ValueError):
        return False


def require_current_names(box: Box) -> None:
    """Commands that change agencies wait for `up` to have renamed the names of an earlier release."""
    if not names_current(box) and Registry(box.home).agencies():
        raise InputError("this box holds objects named by an earlier govcloud",
                         hint="run `govcloud up` once: it renames them (docs/isolation.md)")


def migrate_names(box: Box, progress: Progress) -> list[str]:
    """Run the upgrade on a box whose services are up (`govcloud up` calls it). Returns what it did."""
    if names_current(box):
        return []
    records = Registry(box.home).agencies()
    bad = []
    for record in records:
        try:
            check_slug(record.slug)
        except ValueError:
            bad.append(record.slug)
    if bad:
        raise ConflictError(
            f"agency {bad[0]!r} has a slug that is no longer valid ('--' is reserved); nothing was renamed",
            hint="remove it with the govcloud release that made it (`agency remove --purge-data`), then upgrade")
    if records:
        actions = plan([r.slug for r in records], *_existing(box))
        for action in actions:
            progress(f"names: {action.describe()}")
            _do(box, action)
        _converge(box, progress)
    else:
        actions = []
    box.record(names=NAMES_VERSION)
    return [a.describe() for a in actions]


def _existing(box: Box) -> tuple[set[str], set[str], set[str], set[str]]:
    from govcloud_platform.box import idp_api
    from govcloud_platform.box.services.identity import OPERATOR_GROUPS

    with box.pg_admin() as conn:
        roles = {r[0] for r in conn.execute("SELECT rolname FROM pg_roles")}
    with idp_api.idp_db(box) as conn:
        groups = {r[0] for r in conn.execute("SELECT DISTINCT group_name FROM memberships")}
        users = {r[0] for r in conn.execute("SELECT login FROM users")}
        operators = {r[0] for r in conn.execute("SELECT login FROM memberships WHERE group_name = ANY(%s)",
                                                (list(OPERATOR_GROUPS),))}
    operators.add(box.spec.platform.services.identity.operator_user)
    return roles, groups, users, operators


def _do(box: Box, action: Action) -> None:
    from psycopg import sql

    from govcloud_platform.box import idp_api

    ident = sql.Identifier
    if action.kind == "rename_role":
        with box.pg_admin() as conn:
            conn.execute(sql.SQL("ALTER ROLE {} RENAME TO {}").format(ident(action.old), ident(action.new)))
    elif action.kind == "isolate_role":
        db = action.new
        with box.pg_admin() as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,)).fetchone():
                conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM {}").format(ident(db), ident(action.old)))
        with box.pg_admin(db) as conn:
            conn.execute(sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {}").format(ident(action.old)))
            conn.execute(sql.SQL("REVOKE ALL ON SCHEMA public FROM {}").format(ident(action.old)))
            conn.execute(sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public REVOKE ALL ON TABLES FROM {}")
                         .format(ident(db), ident(action.old)))
    elif action.kind == "move_members":
        with idp_api.idp_db(box) as conn:
            conn.execute("INSERT INTO groups (name) VALUES (%s) ON CONFLICT DO NOTHING", (action.new,))
            who = "login = ANY(%s)" if action.logins else "TRUE"
            args: tuple[object, ...] = (list(action.logins),) if action.logins else ()
            conn.execute(f"INSERT INTO memberships (login, group_name) SELECT login, %s FROM memberships "  # noqa: S608
                         f"WHERE group_name = %s AND {who} ON CONFLICT DO NOTHING", (action.new, action.old, *args))
            conn.execute(f"DELETE FROM memberships WHERE group_name = %s AND {who}", (action.old, *args))  # noqa: S608
            conn.commit()
    elif action.kind == "rename_login":
        with idp_api.idp_db(box) as conn:
            conn.execute("INSERT INTO users (login, password_hash, mail, name, created_at) SELECT %s, password_hash, "
                         "mail, name, created_at FROM users WHERE login = %s", (action.new, action.old))
            conn.execute("UPDATE memberships SET login = %s WHERE login = %s", (action.new, action.old))
            conn.execute("DELETE FROM users WHERE login = %s", (action.old,))
            conn.commit()
    elif action.kind == "strip_login":
        slug = action.slug
        mine = [group(slug), admins_group(slug), legacy_admins_group(slug)]
        with idp_api.idp_db(box) as conn:
            conn.execute("DELETE FROM memberships WHERE login = %s AND group_name = ANY(%s)", (action.old, mine))
            conn.commit()


def _converge(box: Box, progress: Progress) -> None:
    """Every ready agency's database and identity again, from the registry's credentials: the new read-only
    role and pg_hba lines, the administrator under its new login in both groups."""
    from govcloud_platform.brokers import brokers
    from govcloud_platform.brokers.base import Provisioning

    registry = Registry(box.home)
    ready = [r for r in registry.agencies() if r.state == "ready"]
    all_brokers = brokers()
    for service in ("database", "identity"):
        jobs = []
        for record in ready:
            creds = registry.binding(record.slug, service)
            if creds is None or service not in record.services:
                continue
            try:
                quota = box.spec.resolve_quota(record.quota)
            except KeyError:  # its class left the spec: `apply` reports it; its objects keep their limits
                progress(f"names: {record.slug}: quota class {record.quota!r} is not in the spec; not converged")
                continue
            jobs.append(Provisioning(record.slug, record.name, quota, creds))
        if jobs:
            progress(f"names: {service} of {len(jobs)} agencies converged")
            all_brokers[service].provision_many(box, jobs)
