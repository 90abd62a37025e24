"""Names derived from slugs are injective: every builder has a parser that inverts it, and no two different
(agency, app, kind) share a name in one namespace, whatever slugs agencies choose (hypothesis, over pairs)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govcloud_platform import names
from govcloud_platform.apps.manifests import CATALOGUE
from govcloud_platform.spec import SLUG_PATTERN, check_slug
from govcloud_platform.spec.example import EXAMPLE_SPEC


def _valid(slug: str) -> bool:
    try:
        check_slug(slug)
    except ValueError:
        return False
    return True


# Random valid slugs, plus the crafted shapes that broke isolation before (suffixes of derived names).
_CRAFTED = ["alpha", "alpha-ro", "echo", "echo-ro", "health", "health-admin", "health-admins", "portal-x",
            "x-portal", "city-council", "a" * 32, "a" * 29, "a" * 30, "b" * 31, "ab", "abc", "a" * 20 + "-1234abcd"]
slugs = st.one_of(
    st.sampled_from([s for s in _CRAFTED if _valid(s)]),
    st.from_regex(SLUG_PATTERN, fullmatch=True).filter(_valid),
)
apps = st.one_of(st.sampled_from(sorted(CATALOGUE)), st.from_regex(names.APP_NAME_PATTERN, fullmatch=True).filter(
    lambda a: a != names.READER))
locals_ = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,20}", fullmatch=True)

# Every namespace: the names that live in it, as (kind, builder) over (slug, app).
Builder = Callable[[str, str], str]
NAMESPACES: dict[str, list[tuple[str, Builder]]] = {
    "postgres": [("owner", lambda s, a: names.pg_owner(s)), ("reader", lambda s, a: names.pg_reader(s)),
                 ("app", names.pg_app)],
    "s3": [("bucket", lambda s, a: names.bucket(s))],
    "oidc": [("agency", lambda s, a: names.oidc_client(s)), ("app", names.oidc_app_client)],
    "groups": [("members", lambda s, a: names.group(s)), ("admins", lambda s, a: names.admins_group(s)),
               ("desk", names.desk_group)],
    "logins": [("admin", lambda s, a: names.admin_login(s))],
    "system users": [("user", lambda s, a: names.system_user(s))],
    "programs": [("app", names.app_program)],
    "restic": [("repository", lambda s, a: names.restic_prefix(s))],
    "dns": [("app", lambda s, a: names.app_host(s, a, "gov.example")),
            ("agency", lambda s, a: names.agency_host(s, "gov.example"))],
}
# What the name of each kind says about its owner: the identity a builder must keep.
KEEPS = {("postgres", "app"), ("oidc", "app"), ("programs", "app"), ("dns", "app"), ("groups", "desk")}


def _identity(space: str, kind: str, slug: str, app: str) -> tuple[str, str, str]:
    return (kind, slug, app if (space, kind) in KEEPS else "")


@settings(max_examples=600, deadline=None)
@given(space=st.sampled_from(sorted(NAMESPACES)), a=st.tuples(slugs, apps), b=st.tuples(slugs, apps),
       kinds=st.tuples(st.integers(0, 2), st.integers(0, 2)))
def test_no_two_owners_share_a_name(space: str, a: tuple[str, str], b: tuple[str, str],
                                    kinds: tuple[int, int]) -> None:
    builders = NAMESPACES[space]
    (kind_a, build_a), (kind_b, build_b) = (builders[kinds[0] % len(builders)], builders[kinds[1] % len(builders)])
    name_a, name_b = build_a(*a), build_b(*b)
    if name_a == name_b:
        assert _identity(space, kind_a, *a) == _identity(space, kind_b, *b), (space, name_a, a, b)


@settings(max_examples=400, deadline=None)
@given(slug=slugs, app=apps)
def test_every_name_parses_back_to_its_owner(slug: str, app: str) -> None:
    assert names.parse_pg(names.pg_owner(slug)) == names.Owner(slug)
    assert names.parse_pg(names.pg_reader(slug)) == names.Owner(slug, role=names.READER)
    assert names.parse_pg(names.pg_app(slug, app)) == names.Owner(slug, app=app)
    assert names.parse_bucket(names.bucket(slug)) == names.Owner(slug)
    assert names.parse_client(names.oidc_client(slug)) == names.Owner(slug)
    assert names.parse_client(names.oidc_app_client(slug, app)) == names.Owner(slug, app=app)
    assert names.parse_group(names.group(slug)) == names.Owner(slug)
    assert names.parse_group(names.admins_group(slug)) == names.Owner(slug, role=names.ADMINS)
    assert names.parse_group(names.desk_group(slug, app)) == names.Owner(slug, role=names.DESK + app)
    assert names.desk_group(slug, app).startswith(names.desk_group_prefix(slug))
    assert names.parse_login(names.admin_login(slug)) == (slug, names.ADMIN_LOCAL)
    assert names.parse_system_user(names.system_user(slug)) == names.Owner(slug)
    assert names.parse_app_program(names.app_program(slug, app)) == names.Owner(slug, app=app)


@settings(max_examples=300, deadline=None)
@given(slug=slugs, local=locals_)
def test_logins_are_realm_scoped(slug: str, local: str) -> None:
    assert names.parse_login(names.login(slug, local)) == (slug, local)


@pytest.mark.parametrize("slug", ["a" * 29, "a" * 30, "z9" * 16, "a" + "-b" * 15 + "c", "abc"])
def test_system_users_fit_useradd(slug: str) -> None:
    user = names.system_user(slug)
    assert len(user) <= 32 and user[0].isalpha() and all(c.isalnum() or c in "-_" for c in user)
    assert names.parse_system_user(user) == names.Owner(slug)


@given(st.from_regex(r"/[A-Za-z0-9._/ -]{0,60}", fullmatch=True))
def test_a_system_users_mark_names_its_box(home: str) -> None:
    mark = names.system_user_mark(home)
    assert names.marked_home(mark) == home and ":" not in mark and "\n" not in mark


@pytest.mark.parametrize("home", ["/var/tmp/a:b/home", "/x,y", "/a=b", "/tab\there"])
def test_a_home_the_passwd_format_cannot_hold_is_a_digest(home: str) -> None:
    mark = names.system_user_mark(home)
    assert all(c not in mark for c in ":,=\t") and names.marked_home(mark) is None


@pytest.mark.parametrize("comment", ["", "govcloud box relative/home", "Debian-exim", "govcloud box #abc"])
def test_other_comments_name_no_box(comment: str) -> None:
    assert names.marked_home(comment) is None


def test_the_crafted_collisions_of_the_review_are_gone() -> None:
    assert names.pg_reader("alpha") != names.pg_owner("alpha-ro")
    assert names.admins_group("health") != names.group("health-admins")
    assert names.admin_login("health") != names.admin_login("health-admin")
    # the old long-slug system user: a 29-character slug spelled like a long one's hash form collided
    long = "a" * 32
    crafted = names.legacy_system_user(long)[3:]
    assert names.system_user(long) != names.system_user(crafted)
    assert names.legacy_system_user(long) == names.legacy_system_user(crafted)  # (the old scheme did collide)


@pytest.mark.parametrize("slug", ["x--portal", "alpha--ro", "a--b"])
def test_double_hyphen_slugs_are_refused(slug: str) -> None:
    with pytest.raises(ValueError, match="'--' is reserved"):
        check_slug(slug)


@pytest.mark.parametrize(
    ("parse", "name"),
    [(names.parse_pg, n) for n in ("postgres", "idp", "template1", "ag_", "ag_x", "ag_Alpha", "ag_x-y", "ag_ab__x_y",
                                   "ag_ab__ro__ro", "ag_ab___ro")]
    + [(names.parse_bucket, n) for n in ("govcloud-backup", "ag-", "ag-a--b", "ag-admin")]
    + [(names.parse_client, n) for n in ("ag-ab--", "ag-ab--ro", "ag-ab--x-y", "platform-console")]
    + [(names.parse_group, n)
       for n in ("platform-operators", "agency-ab--ro", "agency-ab--admins--admins", "agency-postgres",
                 "agency-ab--desk-", "agency-ab--desk-Clerk", "agency-ab--desk-x-y")]
    + [(names.parse_system_user, n) for n in ("root", "www-data", "gc-", "gc_" + "0" * 29, "gc_short")],
)
def test_platform_and_malformed_names_are_no_agencys(parse: Callable[[str], object], name: str) -> None:
    assert parse(name) is None


def test_operators_logins_are_no_agencys() -> None:
    assert names.parse_login("operator") is None and names.parse_login("ops.team") is None
    assert "@" not in "operator" and "operator" in EXAMPLE_SPEC


def test_the_catalogue_fits_the_app_grammar() -> None:
    for app in CATALOGUE:
        assert names.check_app(app) == app
