"""Class "names": crafted slugs and pre-existing objects. An intruder picks its slug from the names another
agency's objects carry (`<victim>-ro`, `<victim>-admins`, `<victim>-admin`, `<victim>--portal`), or finds an
object of its own future name already on a server; with real clients it must reach nothing of the victim's, and
onboarding must refuse (exit 4, nothing changed) rather than adopt what the registry does not record."""

from __future__ import annotations

import pwd
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from govcloud_platform import names
from govcloud_platform.box import idp_api
from govcloud_platform.box.context import Box
from govcloud_platform.box.services.storage import BACKUP_BUCKET, weed_shell
from tests.conftest import BoxHandle, assert_one_error
from tests.security.matrix import attack

pytestmark = pytest.mark.integration
VICTIM = "nm-echo"
SECRET_ROW = "citizen 4210-1234567-1"


def _pg(creds: dict[str, Any], user_key: str = "user", password_key: str = "password",
        dbname: str | None = None) -> psycopg.Connection[Any]:
    return psycopg.connect(host=creds["host"], port=creds["port"], dbname=dbname or creds["dbname"],
                           user=creds[user_key], password=creds[password_key], sslmode="verify-full",
                           sslrootcert=creds["sslrootcert"], connect_timeout=5, autocommit=True)


def _creds(box: BoxHandle, slug: str) -> dict[str, Any]:
    result = box.cli("--json", "agency", "credentials", slug, "--show-secrets")
    assert result.rc == 0, result.stderr
    doc: dict[str, Any] = result.json()
    return doc


@pytest.fixture(scope="module")
def victim(box: BoxHandle) -> dict[str, Any]:
    added = box.cli("agency", "add", VICTIM, "--name", "Names victim", "--email", "it@victim.example")
    assert added.rc == 0, added.stderr
    creds = _creds(box, VICTIM)
    with _pg(creds["database"]) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS citizens (note text)")
        conn.execute("INSERT INTO citizens VALUES (%s)", (SECRET_ROW,))
    return creds


# The slugs an intruder crafts from the victim's derived names, and what it tries with its own credentials.
CRAFTED = [f"{VICTIM}-ro", f"{VICTIM}-admins", f"{VICTIM}-admin", f"{VICTIM}-ro-ro", f"{VICTIM}-app", "nm-echo1"]


@pytest.mark.parametrize("crafted", CRAFTED)
def test_a_crafted_slug_reaches_nothing_of_the_victim(box: BoxHandle, victim: dict[str, Any], crafted: str) -> None:
    added = box.cli("agency", "add", crafted, "--name", f"Crafted {crafted}", "--email", "it@crafted.example")
    assert added.rc == 0, added.stderr
    mine = _creds(box, crafted)
    db = mine["database"]
    with attack("names", f"{crafted}: owner role reads {VICTIM}'s citizens", denied=(psycopg.Error,)):
        with _pg(db, dbname=victim["database"]["dbname"]) as conn:
            conn.execute("SELECT note FROM citizens").fetchall()
    with attack("names", f"{crafted}: read-only role reads {VICTIM}'s citizens", denied=(psycopg.Error,)):
        with _pg(db, "readonly_user", "readonly_password", dbname=victim["database"]["dbname"]) as conn:
            conn.execute("SELECT note FROM citizens").fetchall()
    with attack("names", f"{crafted}: its onboarding changed {VICTIM}'s passwords") as a:
        with _pg(victim["database"]) as conn:  # the victim's owner still gets in with its own password
            rows = conn.execute("SELECT note FROM citizens").fetchall()
        with _pg(victim["database"], "readonly_user", "readonly_password") as conn:
            conn.execute("SELECT count(*) FROM citizens").fetchone()
        a.succeeded = rows != [(SECRET_ROW,)]
    b = box.box()
    mine_user = idp_api.get_user(b, mine["identity"]["admin_user"])
    victim_user = idp_api.get_user(b, victim["identity"]["admin_user"])
    assert mine_user is not None and victim_user is not None
    with attack("names", f"{crafted}: its administrator is in {VICTIM}'s groups") as a:
        theirs = {victim["identity"]["group"], victim["identity"]["admins_group"]}
        a.succeeded = bool(theirs & set(mine_user["groups"])) or victim_user["login"] == mine_user["login"]
        a.detail = str(mine_user["groups"])
    assert set(victim_user["groups"]) == {victim["identity"]["group"], victim["identity"]["admins_group"]}
    mine_names = {db["dbname"], db["readonly_user"], mine["storage"]["bucket"], mine["identity"]["client_id"],
                  mine["identity"]["group"], mine["identity"]["admins_group"], mine["identity"]["admin_user"]}
    theirs_names = {victim["database"]["dbname"], victim["database"]["readonly_user"], victim["storage"]["bucket"],
                    victim["identity"]["client_id"], victim["identity"]["group"], victim["identity"]["admins_group"],
                    victim["identity"]["admin_user"]}
    assert not mine_names & theirs_names


@pytest.mark.parametrize("slug", [f"{VICTIM}--portal", f"{VICTIM}--centre", f"{VICTIM}--ro", "x--admins"])
def test_a_slug_with_the_separator_is_refused_without_side_effect(box: BoxHandle, slug: str) -> None:
    with attack("names", f"onboard {slug}") as a:
        result = box.cli("agency", "add", slug, "--name", "Separator", "--email", "it@sep.example")
        a.succeeded = result.rc != 2
        a.detail = result.stderr[-300:]
    assert_one_error(result)
    assert "'--' is reserved" in result.stderr
    assert slug not in box.cli("agency", "list").stderr


# --- foreign objects: each row plants one object under a new agency's future name, then tries to onboard ----
Plant = Callable[[Box, str], None]


def _sql(sql: str) -> Callable[[Box, str], None]:
    def plant(b: Box, slug: str) -> None:
        with b.pg_admin() as conn:
            conn.execute(sql.format(owner=names.pg_owner(slug), reader=names.pg_reader(slug)))
    return plant


def _bucket(b: Box, slug: str) -> None:
    b.s3_client().create_bucket(Bucket=names.bucket(slug))


def _identity(b: Box, slug: str) -> None:
    key = "FOREIGN" + slug.upper().replace("-", "")
    weed_shell(b, [f"s3.configure -user={names.s3_identity(slug)} -access_key={key} -secret_key=foreignsecret123 "
                   "-actions=Read -apply"])


def _client(b: Box, slug: str) -> None:
    idp_api.add_oidc_client(b, names.oidc_client(slug), "foreign-secret-0123456789",
                            [f"https://foreign.example/{slug}"], "foreign", admit=[])


def _user(b: Box, slug: str) -> None:
    idp_api.add_user(b, names.admin_login(slug), "foreign-password-1", "x@foreign.example", "foreign", [])


def _group(b: Box, slug: str) -> None:
    idp_api.add_user(b, f"member@{slug}", "foreign-password-1", "x@foreign.example", "foreign",
                     [names.group(slug)])


def _restic(b: Box, slug: str) -> None:
    b.s3_client().put_object(Bucket=BACKUP_BUCKET, Key=names.restic_prefix(slug) + "config", Body=b"foreign")


PLANTS: dict[str, Plant] = {
    "PostgreSQL role": _sql("CREATE ROLE {owner} NOLOGIN"),
    "read-only role": _sql("CREATE ROLE {reader} NOLOGIN"),
    "PostgreSQL database": _sql("CREATE DATABASE {owner}"),
    "S3 bucket": _bucket,
    "S3 identity": _identity,
    "OIDC client": _client,
    "IdP user": _user,
    "IdP group": _group,
    "restic repository": _restic,
}


def _state(box: BoxHandle, slug: str) -> dict[str, Any]:
    b = box.box()
    with b.pg_admin() as conn:
        roles = sorted(r[0] for r in conn.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE 'ag\\_%'"))
        pw = conn.execute("SELECT rolpassword IS NULL FROM pg_authid WHERE rolname = %s",
                          (names.pg_owner(slug),)).fetchone()
    agencies = [a["slug"] for a in box.cli("--json", "agency", "list").json()["agencies"]]
    return {"roles": roles, "password_unset": pw, "agencies": agencies,
            "user": idp_api.get_user(b, names.admin_login(slug))}


@pytest.fixture
def planted(box: BoxHandle, request: pytest.FixtureRequest) -> Iterator[str]:
    kind: str = request.param
    slug = "nm-" + "".join(c for c in kind.lower() if c.isalnum())[:20]
    PLANTS[kind](box.box(), slug)
    yield slug
    # The operator's cure for a foreign object: it goes, then the slug is free.
    b = box.box()
    with b.pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{names.pg_owner(slug)}"')  # noqa: S608 - test names
        for role in (names.pg_owner(slug), names.pg_reader(slug)):
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')
    idp_api.remove_oidc_client(b, names.oidc_client(slug))
    for login in (names.admin_login(slug), f"member@{slug}"):
        idp_api.remove_user(b, login)
    idp_api.remove_empty_groups(b, [names.group(slug)])
    s3 = b.s3_client()
    s3.delete_object(Bucket=BACKUP_BUCKET, Key=names.restic_prefix(slug) + "config")
    if names.bucket(slug) in {x["Name"] for x in s3.list_buckets()["Buckets"]}:
        s3.delete_bucket(Bucket=names.bucket(slug))
    identity = names.s3_identity(slug)
    weed_shell(b, [f"s3.user.delete -name={identity}"], absent_users=frozenset({identity}))


@pytest.mark.parametrize("planted", sorted(PLANTS), indirect=True)
def test_onboarding_refuses_a_foreign_object_and_changes_nothing(box: BoxHandle, planted: str) -> None:
    before = _state(box, planted)
    with attack("names", f"onboard over a foreign {planted}") as a:
        result = box.cli("agency", "add", planted, "--name", "Adopter", "--email", "it@adopter.example")
        a.succeeded = result.rc != 4
        a.detail = result.stderr[-300:]
    assert_one_error(result)
    assert "nothing was changed" in result.stderr
    assert _state(box, planted) == before
    assert planted not in [a["slug"] for a in box.cli("--json", "agency", "list").json()["agencies"]]


@pytest.mark.parametrize("comment", ["", "govcloud box /var/tmp/another-box/home"], ids=["unmarked", "other-box"])
def test_an_app_deploy_refuses_a_foreign_system_user(box: BoxHandle, victim: dict[str, Any], comment: str) -> None:
    """Users are the host's: one nobody marked, or one another box on the host made (names.system_user_mark),
    is not this agency's."""
    slug = "nm-sysuser"
    if slug not in [a["slug"] for a in box.cli("--json", "agency", "list").json()["agencies"]]:
        assert box.cli("agency", "add", slug, "--name", "System user", "--email", "it@s.example").rc == 0
    user = names.system_user(slug)
    subprocess.run(["useradd", "--system", "--no-create-home", "--comment", comment, user], check=True)
    try:
        with attack("names", f"deploy an app over a foreign system user ({comment or 'no mark'})") as a:
            result = box.cli("app", "deploy", slug, "opendata", timeout=300)
            a.succeeded = result.rc != 4
            a.detail = result.stderr[-300:]
        assert_one_error(result)
        assert slug not in {x["agency"] for x in box.cli("--json", "app", "list").json()["apps"]}
        assert pwd.getpwnam(user).pw_name == user  # still there, untouched
    finally:
        subprocess.run(["userdel", user], check=False)
