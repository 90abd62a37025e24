"""The console's members, without servers: who manages (console/membership.py), which role changes and removals are
refused, the login and password rules, the invitation's token and its states, the registry's invitations table
(migration 6, a version-5 registry keeps its rows; a token is used once), gunicorn's access log without the join
link's token, the members pages' words in both languages, and the Flask routes in the OpenAPI document."""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from pathlib import Path

import pytest

from govcloud_platform.console import authz, membership
from govcloud_platform.console.members import RedactJoinLinks
from govcloud_platform.console.members_texts import MEMBER_TEXTS
from govcloud_platform.console.membership import ADMIN, MEMBER, Member
from govcloud_platform.state import invitations as store
from govcloud_platform.state.registry import MIGRATIONS
from tests.registry_kit import older_registry

OPS = ("platform-operators",)


@pytest.mark.parametrize(("groups", "manages_health", "sees_health"), [
    (["platform-operators"], True, True),
    (["agency-health", "agency-health--admins"], True, True),
    (["agency-health"], False, True),  # a plain member sees, changes nothing
    (["agency-health--admins"], False, False),  # the admins' group alone is no membership
    (["agency-revenue", "agency-revenue--admins"], False, False),  # another agency's administrator
    (["agency-revenue", "agency-health--admins"], False, False),
    ([], False, False),
])
def test_who_manages_an_agencys_members(groups: list[str], manages_health: bool, sees_health: bool) -> None:
    who = authz.principal("u", groups, OPS)
    assert authz.may_act(who, "health") is manages_health
    assert authz.may_see(who, "health") is sees_health


def _members(*pairs: tuple[str, str]) -> list[Member]:
    return [Member(login, "", "", role) for login, role in pairs]


@pytest.mark.parametrize(("target", "role", "members", "refused"), [
    ("jane@health", ADMIN, [("admin@health", ADMIN), ("jane@health", MEMBER)], False),
    ("jane@health", MEMBER, [("admin@health", ADMIN), ("jane@health", ADMIN)], False),
    ("admin@health", MEMBER, [("admin@health", ADMIN), ("jane@health", ADMIN)], True),  # the agency's own
    ("admin@health", ADMIN, [("admin@health", ADMIN)], False),  # no change
    ("jane@health", MEMBER, [("jane@health", ADMIN)], True),  # the last administrator (its own one gone)
])
def test_role_changes(target: str, role: str, members: list[tuple[str, str]], refused: bool) -> None:
    assert (membership.change_problem("health", target, role, _members(*members)) is not None) is refused


@pytest.mark.parametrize(("target", "members", "refused"), [
    ("jane@health", [("admin@health", ADMIN), ("jane@health", MEMBER)], False),
    ("jane@health", [("admin@health", ADMIN), ("jane@health", ADMIN)], False),
    ("admin@health", [("admin@health", ADMIN), ("jane@health", ADMIN)], True),
    ("jane@health", [("jane@health", ADMIN), ("joe@health", MEMBER)], True),  # removing oneself as the last one
])
def test_removals(target: str, members: list[tuple[str, str]], refused: bool) -> None:
    assert (membership.removal_problem("health", target, _members(*members)) is not None) is refused


@pytest.mark.parametrize(("local", "login"), [
    ("jane", "jane@health"), ("j.doe-2", "j.doe-2@health"), ("ab", "ab@health"),
    ("admin", None), ("Jane", None), ("1jane", None), ("j", None), ("jane@revenue", None), ("ja ne", None),
    ("x" * 33, None), ("", None), (None, None),
])
def test_the_login_an_invitee_chooses(local: object, login: str | None) -> None:
    made, why = membership.new_login("health", local)
    assert (made if why is None else None) == login


def test_a_login_too_long_with_the_slug_is_refused() -> None:
    slug = "a" + "b" * 31  # 32: the longest slug
    assert membership.new_login(slug, "x" * 32)[1] is not None and membership.new_login(slug, "x" * 31)[1] is None


@pytest.mark.parametrize(("password", "repeat", "ok"), [
    ("correct horse battery staple", "correct horse battery staple", True),
    ("correct horse battery staple", "correct horse battery stapler", False),
    ("short", "short", False),
    ("x" * 129, "x" * 129, False),
    ("abababababababab", "abababababababab", False),
    ("jane-is-my-name-ok", "jane-is-my-name-ok", False),  # holds the login
    ("tab\there and more", "tab\there and more", False),
    (None, None, False),
])
def test_passwords(password: object, repeat: object, ok: bool) -> None:
    assert (membership.password_problem(password, repeat, "jane") is None) is ok


def test_a_token_is_unguessable_and_stored_as_its_hash_only() -> None:
    token, digest = membership.new_token()
    other, _ = membership.new_token()
    assert token != other and membership.well_formed_token(token) and len(token) == 43
    assert digest == membership.token_hash(token) and token not in digest and len(digest) == 64
    assert not membership.well_formed_token(token + "x") and not membership.well_formed_token("../etc")


def test_invitation_states() -> None:
    at = membership.stamp(dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC))
    later = membership.expiry(dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC))
    assert later == "2026-12-10T12:00:00+00:00"
    assert membership.invitation_status("pending", later, at) == "usable"
    assert membership.invitation_status("pending", at, later) == "expired"
    assert membership.invitation_status("accepted", later, at) == "used"
    assert membership.invitation_status("revoked", later, at) == "revoked"
    assert membership.invitation_conflict("Jane@x.org", [("jane@x.org", later)], at)
    assert membership.invitation_conflict("jane@x.org", [("jane@x.org", at)], later) is None  # expired: send again


def test_the_mail_carries_the_link_on_its_own_line() -> None:
    subject, body = membership.mail_text("Ministry of Health", "https://c/en/join?t=abc", "admin@health", "2026")
    assert subject == "Invitation to Ministry of Health on govcloud" and "\nhttps://c/en/join?t=abc\n" in body


@pytest.mark.parametrize("email", ["a@b", "no at", "", "a@b.c d", None, "x" * 250 + "@b.cd"])
def test_bad_email_addresses(email: object) -> None:
    assert membership.email_problem(email)


def test_a_version_5_registry_gains_the_invitations_table_and_a_token_is_used_once(tmp_path: Path) -> None:
    reg = older_registry(tmp_path, 5)
    try:
        assert [r.slug for r in reg.agencies()] == ["health"]
        token, digest = membership.new_token()
        made = store.create(reg, "health", "jane@x.org", MEMBER, digest, "admin@health", "2999-01-01T00:00:00+00:00")
        with reg.connect() as c:
            assert c.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) >= 6
            assert token not in str(c.execute("SELECT * FROM invitations").fetchall())
        assert store.by_token_hash(reg, membership.token_hash(token)) == made
        assert "token" not in str(made.as_dict())
        now = "2026-12-03T12:00:00+00:00"
        assert store.claim(reg, made.id, "jane@health", now)
        assert not store.claim(reg, made.id, "joe@health", now)  # once
        store.release(reg, made.id)  # the login was taken: usable again
        assert store.claim(reg, made.id, "jane2@health", now)
        assert not store.revoke(reg, made.id, "admin@health")
        old = store.create(reg, "health", "old@x.org", ADMIN, "h2", "admin@health", "2000-01-01T00:00:00+00:00")
        assert not store.claim(reg, old.id, "old@health", now)  # expired
        assert store.revoke(reg, old.id, "admin@health") and store.get(reg, old.id).state == store.REVOKED  # type: ignore[union-attr]
        assert [i.id for i in store.of_agency(reg, "health")] == [old.id, made.id]
        with pytest.raises(sqlite3.IntegrityError):
            store.create(reg, "health", "x@x.org", "owner", "h3", "admin@health", now)
    finally:
        reg.close()


def test_the_access_log_never_holds_the_join_links_token() -> None:
    atoms = {"r": "GET /en/join?t=SECRET HTTP/1.1", "q": "t=SECRET", "m": "GET", "U": "/en/join", "H": "HTTP/1.1"}
    record = logging.LogRecord("gunicorn.access", logging.INFO, "", 0, '%(h)s "%(r)s"', (atoms,), None)
    assert RedactJoinLinks().filter(record)
    assert "SECRET" not in str(record.args)
    other = {"r": "GET /en/audit?actor=x HTTP/1.1", "q": "actor=x", "m": "GET", "U": "/en/audit", "H": "HTTP/1.1"}
    record = logging.LogRecord("gunicorn.access", logging.INFO, "", 0, '%(h)s "%(r)s"', (other,), None)
    assert RedactJoinLinks().filter(record) and "actor=x" in str(record.args)


def test_both_languages_have_the_same_words() -> None:
    assert set(MEMBER_TEXTS["en"]) == set(MEMBER_TEXTS["ur"])
    assert all(MEMBER_TEXTS["ur"].values())
