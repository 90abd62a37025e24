"""The web console's pure parts: who sees what (`console.authz`), the sign-in's steps (`console.signin`), the
OpenAPI document against the app's routes, both languages' words, the service's place in the box (opt-in, its
ports, refused on the hosts target) and its configuration (nginx block, gunicorn argv, OIDC client)."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from govcloud_platform import names
from govcloud_platform.box import placement as record
from govcloud_platform.box.context import Box
from govcloud_platform.box.network import LOOPBACK_ONLY
from govcloud_platform.box.ports import NOT_ON_HOSTS, OFFSETS, Ports
from govcloud_platform.box.services import all_services, console_conf
from govcloud_platform.box.services.identity import OPERATOR_GROUPS
from govcloud_platform.console import authz, signin
from govcloud_platform.console.texts import LANGUAGES, TEXTS
from govcloud_platform.spec import load_spec_text
from govcloud_platform.spec.example import EXAMPLE_SPEC
from tests.console_kit import ENABLED

assert ENABLED != EXAMPLE_SPEC
OPS = OPERATOR_GROUPS


# --- who sees what -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("groups", "operator", "agencies"), [
    (["platform-operators"], True, set()),
    (["platform-operators", "agency-health"], True, {"health"}),
    (["agency-health"], False, {"health"}),
    (["agency-health", "agency-health--admins"], False, {"health"}),
    (["agency-health--admins"], False, set()),                 # an admins group alone is no membership
    (["agency-health--desk-intake"], False, set()),
    (["agency-health", "agency-revenue"], False, {"health", "revenue"}),
    (["platform-operators-x", "xagency-health", "agency-", "agency-Health"], False, set()),
    (["agency-postgres"], False, set()),                        # a reserved slug is no agency
    ([], False, set()),
    ("platform-operators", False, set()),                       # a string is not a list of groups
    (None, False, set()),
    ([1, {"a": "b"}, "agency-health"], False, {"health"}),
])
def test_a_principal_is_what_its_groups_say(groups: object, operator: bool, agencies: set[str]) -> None:
    who = authz.principal("someone", groups, OPS)
    assert (who.operator, set(who.agencies)) == (operator, agencies)
    assert who.has_standing == (operator or bool(agencies))


SLUGS = ["health", "revenue", "water-board"]


@pytest.mark.parametrize(("groups", "seen"), [
    (["platform-operators"], SLUGS),
    ([names.group("health")], ["health"]),
    ([names.group("revenue"), names.admins_group("revenue")], ["revenue"]),
    ([names.admins_group("health")], []),
    (["staff"], []),
])
def test_operators_see_every_agency_and_members_their_own(groups: list[str], seen: list[str]) -> None:
    who = authz.principal("u", groups, OPS)
    assert authz.visible(who, SLUGS) == seen
    for slug in [*SLUGS, "unknown-agency"]:
        assert authz.may_see(who, slug) == (who.operator or slug in seen)


# --- sign-in --------------------------------------------------------------------------------------------
def test_the_authorization_url_carries_state_nonce_and_an_s256_challenge() -> None:
    pending = signin.new_pending(1000, "/ur/agencies")
    url = signin.authorize_url("https://localhost:1/oauth2/authorize", "platform-console",
                               "https://localhost:2/auth/callback", pending, "ur")
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert query["state"] == pending["state"] and query["nonce"] == pending["nonce"]
    digest = hashlib.sha256(pending["verifier"].encode()).digest()
    assert query["code_challenge"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert query["code_challenge_method"] == "S256" and "groups" in query["scope"].split()
    assert pending["next"] == "/ur/agencies"


@pytest.mark.parametrize("next_path", ["https://evil.example/", "//evil.example/", "/en/../../x", "/de/", "",
                                       None, "/en/agencies?x=1", "/en/agencies\r\nX: y"])
def test_the_page_to_return_to_is_the_consoles_own(next_path: object) -> None:
    assert signin.safe_next(next_path) == "/en/"


def test_a_callback_is_accepted_only_for_the_pending_sign_in_in_time() -> None:
    pending = signin.new_pending(1000, "/en/")
    good = {"state": pending["state"], "code": "abc"}
    assert signin.callback_code(pending, good, 1010) == "abc"
    assert signin.callback_code(pending, good, 1000 + signin.PENDING_SECONDS + 1) is None
    assert signin.callback_code(pending, {**good, "state": "other"}, 1010) is None
    assert signin.callback_code(pending, {**good, "error": "access_denied"}, 1010) is None
    assert signin.callback_code(None, good, 1010) is None
    assert signin.callback_code(pending, {"state": pending["state"]}, 1010) is None


def test_a_session_ends_with_its_token_and_within_a_working_day() -> None:
    assert signin.session_end(300, 0) == 300
    assert signin.session_end(10**9, 0) == signin.MAX_SESSION_SECONDS
    assert signin.session_end(True, 0) == signin.session_end(None, 0) == 3600


@pytest.mark.parametrize(("header", "token"), [
    ("Bearer abc.def.ghi", "abc.def.ghi"),
    ("bearer  abc ", "abc"),
    (None, None), ("", None), ("Bearer", None), ("Bearer ", None), ("Basic dXNlcjpwdw==", None),
    ("Bearer " + "a" * 8193, None),
])
def test_only_a_bearer_header_carries_a_token(header: str | None, token: str | None) -> None:
    from govcloud_platform.console.tokens import bearer_token

    assert bearer_token(header) == token


# --- languages and the OpenAPI document -------------------------------------------------------------------
def test_english_and_urdu_have_the_same_words_and_urdu_is_right_to_left() -> None:
    assert set(TEXTS["en"]) == set(TEXTS["ur"]) and LANGUAGES["ur"][1] == "rtl" and LANGUAGES["en"][1] == "ltr"
    assert all(TEXTS["ur"][k] for k in TEXTS["ur"])


def test_every_api_route_is_in_the_openapi_document_and_nothing_else(tmp_path: Path) -> None:
    from govcloud_platform.console.app import create_app
    from govcloud_platform.console.openapi import document
    from govcloud_platform.console.settings import Settings

    box = Box(home=tmp_path, spec=load_spec_text(ENABLED))
    app = create_app(Settings(box, "https://localhost:1", "https://localhost:2", "platform-console", "s", "k",
                              str(tmp_path / "ca.pem")))
    routes = {(rule.rule.replace("<", "{").replace(">", "}"), method.lower())
              for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")
              for method in rule.methods or () if method not in ("HEAD", "OPTIONS")}
    doc = document("https://localhost:1")
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert routes == documented and doc["openapi"].startswith("3.1")


# --- the service in the box ---------------------------------------------------------------------------------
def test_the_console_is_opt_in_and_runs_last(tmp_path: Path) -> None:
    assert [s.name for s in all_services()][-1] == "console"
    assert not Box(home=tmp_path / "a", spec=load_spec_text(EXAMPLE_SPEC)).runs("console")
    assert Box(home=tmp_path / "b", spec=load_spec_text(ENABLED)).runs("console")
    assert "console" not in record.ALL
    assert OFFSETS["console_https"] == (16, "identity") and Ports(18000).console_app == 18017
    # on the hosts target no host's own service binds the app port (the control's tunnel ends there), and only the
    # console's front binds its HTTPS port (tests/unit/test_console_hosts.py)
    assert NOT_ON_HOSTS == ("console_app", "signing_https", "paydemo_https") and "console_app" in LOOPBACK_ONLY
    assert {"console_https", "console_app"} <= set(record.unbound_ports(record.Placement(())))
    assert "console_https" not in record.unbound_ports(record.Placement(()), console_front=True)


def test_the_consoles_configuration(tmp_path: Path) -> None:
    box = Box(home=tmp_path, spec=load_spec_text(ENABLED), port_base=18000)
    server = console_conf.nginx_server(box, Path("/c.pem"), Path("/c.key"))
    assert "listen 127.0.0.1:18016 ssl;" in server and "proxy_pass http://127.0.0.1:18017;" in server
    argv = console_conf.gunicorn_argv(box, tmp_path / "console.json")
    assert argv[argv.index("--bind") + 1] == "127.0.0.1:18017" and argv[-1] == "govcloud_platform.console.wsgi:app"
    body = console_conf.client_body(box, "secret", OPERATOR_GROUPS)
    assert body["redirectUris"] == ["https://localhost:18016/auth/callback"]
    assert body["options"]["requirePKCE"] is True and body["options"]["accessTokenJWT"] is True
    assert "platform-operators" not in body["options"]["rule"]  # hex-escaped, as every rule
    assert names.parse_client(console_conf.CLIENT_ID) is None  # the policy's agency rules leave it alone
    doc = console_conf.settings_document(box)
    assert doc["public_url"] == "https://localhost:18016" and doc["spec"]["platform"]["services"]["console"]
    assert "agencies" not in doc["spec"] and "secret" not in str(doc).lower()


def test_the_cli_does_not_import_the_console() -> None:
    import subprocess
    import sys

    code = ("import sys, govcloud_cli.main, govcloud_platform.box.runtime, govcloud_platform.box.services as s; "
            "s.all_services(); print(sorted(m for m in sys.modules "
            "if m.startswith(('flask', 'govcloud_platform.console', 'jwt'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


@pytest.mark.parametrize(("n", "text"), [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KB"), (20 * 1024**2, "20.0 MB"),
                                         (3 * 1024**5, "3072.0 TB")])
def test_bytes_for_people(n: int, text: str) -> None:
    from govcloud_platform.console.data import human_bytes

    assert human_bytes(n) == text


def test_usage_rows_bar_only_what_a_server_limits() -> None:
    from govcloud_platform.console.data import usage_rows

    doc = {"slug": "health", "quota": "standard",
           "database": {"bytes": 7_500_000, "connections": 3, "connection_limit": 20, "enforced": True},
           "storage": {"bytes": 2048, "objects": 2, "limit_bytes": 10 * 1024**3},
           "backups": {"bytes": 0}, "identity": {"users": 1, "client": True}}
    rows = {r["measure"]: r for r in usage_rows(doc)}
    assert list(rows) == ["db_bytes", "db_connections", "storage_bytes", "storage_objects", "backup_bytes",
                          "idp_users"]
    assert (rows["db_connections"]["value"], rows["db_connections"]["max"]) == (3, 20)
    assert (rows["storage_bytes"]["value"], rows["storage_bytes"]["limit"]) == (2048, "10.0 GB")
    assert rows["db_bytes"]["max"] is None and rows["idp_users"]["used"] == "1"
    unlimited = {r["measure"]: r for r in usage_rows({"database": {"connections": 1, "connection_limit": -1},
                                                      "storage": {"bytes": 1}})}
    assert unlimited["db_connections"]["max"] is None and unlimited["storage_bytes"]["max"] is None
    assert usage_rows({"slug": "x", "quota": "standard"}) == []


def test_the_consoles_ports_are_bound_only_where_the_spec_enables_it(tmp_path: Path) -> None:
    """`Box.unbound_ports`: what `up` does not check and `test_box_address` does not expect to listen. The console's
    HTTPS port belongs to the identity service's nginx, which serves it only while the console is enabled."""
    off = Box(home=tmp_path / "off", spec=load_spec_text(EXAMPLE_SPEC))
    on = Box(home=tmp_path / "on", spec=load_spec_text(ENABLED))
    assert {"console_https", "console_app"} <= set(off.unbound_ports())
    assert not {"console_https", "console_app"} & set(on.unbound_ports())
    assert set(off.unbound_ports()) - {"console_https", "console_app"} == set(on.unbound_ports())
