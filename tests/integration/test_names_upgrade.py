"""A box made by an earlier govcloud, with the names that collided, is upgraded by `govcloud up`: its objects are
renamed, a contested one stays with the agency whose current name it is, and every agency works afterwards.

The earlier box is reproduced on the session box by giving its agencies their old names on the servers (the
read-only role `ag_<u>_ro`, the group `agency-<s>-admins`, the administrator `<s>-admin`, box.json without
`names`), including the attack of the review: agency `up-echo`'s old read-only role is agency `up-echo-ro`'s
owner, whose password it reset."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
from psycopg import sql

from govcloud_platform import names
from govcloud_platform.box import idp_api
from govcloud_platform.box.context import Box
from govcloud_platform.box.services.database import reload, render_hba
from govcloud_platform.brokers.database import write_hba_part
from tests.conftest import BoxHandle, assert_one_error

pytestmark = pytest.mark.integration
PLAIN, ECHO, ECHO_RO = "up-plain", "up-echo", "up-echo-ro"


def _creds(box: BoxHandle, slug: str) -> dict[str, Any]:
    result = box.cli("--json", "agency", "credentials", slug, "--show-secrets")
    assert result.rc == 0, result.stderr
    doc: dict[str, Any] = result.json()
    return doc


def _connect(db: dict[str, Any], user: str, password: str, dbname: str | None = None) -> psycopg.Connection[Any]:
    return psycopg.connect(host=db["host"], port=db["port"], dbname=dbname or db["dbname"], user=user,
                           password=password, sslmode="verify-full", sslrootcert=db["sslrootcert"],
                           connect_timeout=5, autocommit=True)


def _old_identity(b: Box, slug: str) -> None:
    with idp_api.idp_db(b) as conn:
        old_group, new_group = names.legacy_admins_group(slug), names.admins_group(slug)
        old_login, new_login = names.legacy_admin_login(slug), names.admin_login(slug)
        conn.execute("INSERT INTO groups (name) VALUES (%s) ON CONFLICT DO NOTHING", (old_group,))
        conn.execute("UPDATE memberships SET group_name = %s WHERE group_name = %s", (old_group, new_group))
        conn.execute("INSERT INTO users (login, password_hash, mail, name) SELECT %s, password_hash, mail, name "
                     "FROM users WHERE login = %s", (old_login, new_login))
        conn.execute("UPDATE memberships SET login = %s WHERE login = %s", (old_login, new_login))
        conn.execute("DELETE FROM users WHERE login = %s", (new_login,))
        conn.commit()


def _old_reader(b: Box, slug: str) -> None:
    with b.pg_admin() as conn:
        conn.execute(sql.SQL("ALTER ROLE {} RENAME TO {}").format(
            sql.Identifier(names.pg_reader(slug)), sql.Identifier(names.legacy_pg_reader(slug))))


def _attacked_reader(b: Box, slug: str, readonly_password: str) -> None:
    """What onboarding `<slug>-ro` after `<slug>` did with the old names: `<slug>`'s read-only role became
    `<slug>-ro`'s owner, the password reset to `<slug>`'s read-only one, still granted `<slug>`'s tables."""
    owner, shared = names.pg_owner(slug), names.legacy_pg_reader(slug)
    ident = sql.Identifier
    with b.pg_admin(owner) as conn:
        conn.execute(sql.SQL("REASSIGN OWNED BY {} TO {}").format(ident(names.pg_reader(slug)), ident(owner)))
        conn.execute(sql.SQL("DROP OWNED BY {}").format(ident(names.pg_reader(slug))))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(ident(shared)))
        conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(ident(shared)))
        conn.execute(sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public GRANT SELECT ON TABLES TO {}")
                     .format(ident(owner), ident(shared)))
    with b.pg_admin() as conn:
        conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM {}").format(ident(owner), ident(names.pg_reader(slug))))
        conn.execute(sql.SQL("DROP ROLE {}").format(ident(names.pg_reader(slug))))
        conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(ident(owner), ident(shared)))
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(ident(shared), sql.Literal(readonly_password)))


def test_up_renames_the_names_of_an_earlier_release_and_resolves_the_contested_ones(box: BoxHandle) -> None:
    for slug in (PLAIN, ECHO, ECHO_RO):
        assert box.cli("agency", "add", slug, "--name", f"Upgrade {slug}", "--email", "it@up.example").rc == 0
    creds = {slug: _creds(box, slug) for slug in (PLAIN, ECHO, ECHO_RO)}
    with _connect(creds[ECHO]["database"], creds[ECHO]["database"]["user"], creds[ECHO]["database"]["password"]) as c:
        c.execute("CREATE TABLE citizens (note text)")
        c.execute("INSERT INTO citizens VALUES ('echo secret')")

    # the box as an earlier govcloud left it
    b = box.box()
    for slug in (PLAIN, ECHO_RO):
        _old_reader(b, slug)
    _attacked_reader(b, ECHO, creds[ECHO]["database"]["readonly_password"])
    for slug in (PLAIN, ECHO, ECHO_RO):
        _old_identity(b, slug)
        old = [names.pg_owner(slug), names.legacy_pg_reader(slug)]
        write_hba_part(b, names.pg_owner(slug), names.pg_owner(slug), old)
    if render_hba(b):
        reload(b)
    state = json.loads(b.state_file.read_text())
    state.pop("names")
    b.state_file.write_text(json.dumps(state))
    with pytest.raises(psycopg.OperationalError):  # the attack as it stood: echo-ro locked out
        _connect(creds[ECHO_RO]["database"], creds[ECHO_RO]["database"]["user"],
                 creds[ECHO_RO]["database"]["password"]).close()

    refused = box.cli("agency", "add", "up-later", "--name", "Too early", "--email", "it@up.example")
    assert refused.rc == 2 and "run `govcloud up` once" in refused.stderr
    assert_one_error(refused)

    upgraded = box.cli("up")
    assert upgraded.rc == 0, upgraded.stderr
    assert f"role {names.legacy_pg_reader(ECHO)} is contested" in upgraded.stderr
    assert f"user {names.legacy_admin_login(PLAIN)} renamed {names.admin_login(PLAIN)}" in upgraded.stderr
    assert json.loads(b.state_file.read_text())["names"] == 2
    again = box.cli("up")
    assert again.rc == 0 and "names:" not in again.stderr

    after = {slug: _creds(box, slug)["database"] for slug in (PLAIN, ECHO, ECHO_RO)}
    for slug, db in after.items():
        assert db["readonly_user"] == names.pg_reader(slug)
        _connect(db, db["user"], db["password"]).close()
        _connect(db, db["readonly_user"], db["readonly_password"]).close()
    with _connect(after[ECHO], after[ECHO]["readonly_user"], after[ECHO]["readonly_password"]) as c:
        assert c.execute("SELECT note FROM citizens").fetchall() == [("echo secret",)]
    with pytest.raises(psycopg.OperationalError):  # echo-ro's owner no longer gets into echo's database
        _connect(after[ECHO_RO], after[ECHO_RO]["user"], after[ECHO_RO]["password"], after[ECHO]["dbname"]).close()
    for slug in (PLAIN, ECHO, ECHO_RO):
        user = idp_api.get_user(b, names.admin_login(slug))
        assert user is not None and set(user["groups"]) == {names.group(slug), names.admins_group(slug)}
        assert idp_api.get_user(b, names.legacy_admin_login(slug)) is None
    doctor = box.cli("doctor")
    assert doctor.rc == 0, doctor.stderr
