"""Whom an agency's OIDC clients admit: the access rule builder (`oidc_policy.access_rule`), the policy
(`admitted_groups`), the upgrade of clients made by older code (`enforce_access_rules`) and the check that a
configured client is current (`client_differs`). The rules are evaluated by LemonLDAP::NG's own rule rewriting
and Safe jail (Perl, no server), the way the portal compiles them."""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import pytest

from govcloud_platform import names
from govcloud_platform.box import oidc_clients, oidc_policy
from govcloud_platform.errors import InputError

# LLNG's handler rewrites a rule (`substitute`), then compiles it in its jail, as the portal does for
# oidcRPMetaDataOptionsRule; each case's rule is evaluated over its session attributes.
_EVAL = r"""
use strict; use warnings; use JSON::PP;
use Lemonldap::NG::Handler::Main;
use Lemonldap::NG::Handler::Main::Jail;
my $cases = decode_json(do { local $/; <STDIN> });
my $jail = Lemonldap::NG::Handler::Main::Jail->new(useSafeJail => 1, multiValuesSeparator => '; ');
$jail->build_jail(undef, undef);
my @out;
for my $c (@$cases) {
    my $expr = Lemonldap::NG::Handler::Main->substitute($c->{rule});
    my $sub = $jail->jail_reval("sub{my (\$r,\$s)=\@_;return($expr)}")
        or die "rule does not compile: " . ($jail->error // '') . "\n";
    push @out, $sub->(undef, $c->{session}) ? JSON::PP::true : JSON::PP::false;
}
print encode_json(\@out);
"""


def llng_admits(cases: list[tuple[str, dict[str, Any]]]) -> list[bool]:
    proc = subprocess.run(["perl", "-e", _EVAL], input=json.dumps([{"rule": r, "session": s} for r, s in cases]),
                          capture_output=True, text=True, check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr
    result: list[bool] = json.loads(proc.stdout)
    return result


def session(*groups: str, grant: str = "authorizationcode") -> dict[str, Any]:
    return {"groups": oidc_policy.GROUP_SEPARATOR.join(groups), "_oidc_grant_type": grant}


VICTIM = names.group("sec-victim")
# (groups the client admits, client credentials allowed, the session, admitted?)
CASES: list[tuple[list[str], bool, dict[str, Any], bool]] = [
    ([VICTIM], False, session(VICTIM), True),
    ([VICTIM], False, session("platform-operators", VICTIM, names.admins_group("sec-victim")), True),
    ([VICTIM], False, session(names.admins_group("sec-victim"), VICTIM), True),
    ([VICTIM], False, session(names.group("sec-victim-x")), False),         # agency-x-y is not agency-x
    ([VICTIM], False, session(names.admins_group("sec-victim")), False),    # agency-x--admins is not agency-x
    ([VICTIM], False, session(names.group("sec")), False),                  # nor is a prefix of it
    ([VICTIM], False, session(names.group("ec-victim")), False),            # nor a suffix
    ([VICTIM], False, session(names.group("sec-victim") + "x"), False),
    ([VICTIM], False, session("platform-operators"), False),
    ([VICTIM], False, session(), False),
    ([VICTIM], False, {"_oidc_grant_type": "authorizationcode"}, False),     # no groups attribute at all
    ([VICTIM], False, session(VICTIM, grant="password"), True),
    ([VICTIM], False, {"_oidc_grant_type": "clientcredentials"}, False),     # the client itself, not allowed
    ([VICTIM], True, {"_oidc_grant_type": "clientcredentials", "_clientId": "ag-sec-victim"}, True),
    ([VICTIM], True, session(names.group("sec-intruder")), False),
    # LLNG rewrites the word `skip` (and `$word`) in a rule: a group holding it must still be itself
    ([names.group("skip")], False, session(names.group("skip")), True),
    ([names.group("skip")], False, session(names.group("ski")), False),
    ([names.group("date-ip")], False, session(names.group("date-ip")), True),
    (["agency-a.b"], False, session("agency-a-b"), False),                  # '.' is no wildcard
    (["platform-operators", VICTIM], False, session("platform-operators"), True),
    ([], False, session(VICTIM), False),
    ([], True, {"_oidc_grant_type": "clientcredentials"}, True),
]


def test_llng_evaluates_each_rule_as_the_policy_says() -> None:
    rules = [(oidc_policy.access_rule(admit, client_credentials=cc), sess) for admit, cc, sess, _ in CASES]
    got = llng_admits(rules)
    wrong = [(admit, cc, sess, want) for (admit, cc, sess, want), have in zip(CASES, got, strict=True) if have != want]
    assert not wrong


# The console's client: the operators, and every member of any agency (a group beginning `agency-`)
CONSOLE = (["platform-operators"], ["agency-"])
PREFIX_CASES: list[tuple[dict[str, Any], bool]] = [
    (session("platform-operators"), True),
    (session(VICTIM), True),
    (session("staff", names.group("skip")), True),
    (session(names.admins_group("sec-victim")), True),
    (session("xagency-a"), False),                 # a group that merely holds the prefix
    (session("staff", "agencyx"), False),
    (session("platform-operators-x"), False),
    (session(), False),
    ({"_oidc_grant_type": "authorizationcode"}, False),
    ({"_oidc_grant_type": "clientcredentials"}, False),
]


def test_llng_evaluates_a_prefix_rule_as_the_policy_says() -> None:
    rule = oidc_policy.access_rule(CONSOLE[0], prefixes=CONSOLE[1])
    got = llng_admits([(rule, sess) for sess, _ in PREFIX_CASES])
    assert [want for _, want in PREFIX_CASES] == got


def test_a_rule_holds_no_word_llng_would_rewrite() -> None:
    rule = oidc_policy.access_rule([names.group("skip-date"), "agency-ip"], client_credentials=True)
    literals = re.findall(r'"([^"]*)"', rule)
    assert literals and all(re.fullmatch(r"(\\x\{[0-9a-f]{2}\})*|clientcredentials", lit) for lit in literals)
    words = set(re.findall(r"\$?[A-Za-z_]\w*", re.sub(r'"[^"]*"', "", rule)))
    assert words <= {"$_oidc_grant_type", "eq", "or", "index", "$groups"}, words


@pytest.mark.parametrize("bad", ["Agency-x", "agency x", "agency;x", 'a"b', "a$b", ""])
def test_a_group_name_outside_the_grammar_is_refused(bad: str) -> None:
    with pytest.raises(InputError):
        oidc_policy.access_rule([bad])


@pytest.mark.parametrize(("client_id", "admitted"), [
    (names.oidc_client("health"), [names.group("health")]),
    (names.oidc_app_client("health", "portal"), [names.group("health")]),
    (names.oidc_client("health-x"), [names.group("health-x")]),
    ("box-login-test", None),   # the platform's own (test) clients are no agency's
    ("app-a", None),
    ("ag-health--Portal", None),
])
def test_agency_and_app_clients_admit_the_agency_members_only(client_id: str, admitted: list[str] | None) -> None:
    assert oidc_policy.admitted_groups(client_id) == admitted


def _old_conf() -> dict[str, Any]:
    """Clients as a box made before access rules holds them (as the manager API writes them)."""
    def rp(client_id: str, cc: int) -> dict[str, Any]:
        return {"oidcRPMetaDataOptionsClientID": client_id, "oidcRPMetaDataOptionsAllowClientCredentialsGrant": cc}

    return {"oidcRPMetaDataOptions": {
        "ag-health": rp("ag-health", 1),
        "ag-health--portal": rp("ag-health--portal", 0),
        "box-login-test": rp("box-login-test", 0),
    }, "other": {"kept": 1}}


def test_older_clients_get_their_rule_and_others_are_left_alone() -> None:
    conf = oidc_policy.enforce_access_rules(_old_conf())
    rps = conf["oidcRPMetaDataOptions"]
    assert rps["ag-health"]["oidcRPMetaDataOptionsRule"] == oidc_policy.access_rule(
        [names.group("health")], client_credentials=True)
    assert rps["ag-health--portal"]["oidcRPMetaDataOptionsRule"] == oidc_policy.access_rule([names.group("health")])
    assert "oidcRPMetaDataOptionsRule" not in rps["box-login-test"]
    assert conf["other"] == {"kept": 1}
    assert oidc_policy.enforce_access_rules(json.loads(json.dumps(conf))) == conf  # a second pass changes nothing


def test_an_edited_rule_is_put_back() -> None:
    conf = oidc_policy.enforce_access_rules(_old_conf())
    conf["oidcRPMetaDataOptions"]["ag-health"]["oidcRPMetaDataOptionsRule"] = "1"
    fixed = oidc_policy.enforce_access_rules(json.loads(json.dumps(conf)))
    assert fixed["oidcRPMetaDataOptions"]["ag-health"]["oidcRPMetaDataOptionsRule"] != "1"


class _Spec:
    """The one setting `oidc_client` reads from the box."""

    class platform:  # noqa: N801 - mirrors box.spec.platform
        class services:  # noqa: N801
            class identity:  # noqa: N801
                access_token_lifetime_s = 3600


class _Box:
    spec = _Spec


def _body(**kw: Any) -> dict[str, Any]:
    client_id = names.oidc_client("health")
    return oidc_clients.oidc_client(_Box(), client_id, "s3cret", ["https://health.example/cb"], "Health",  # type: ignore[arg-type]
                               admit=oidc_policy.admitted_groups(client_id) or [], allow_client_credentials=True, **kw)


def _configured(body: dict[str, Any]) -> dict[str, Any]:
    """The body as the lmConf holds it (what `configured_clients` reads), values as the manager API writes."""
    options: dict[str, Any] = oidc_clients.conf_entries(body)["oidcRPMetaDataOptions"]
    return options


def test_a_configured_client_is_current_only_with_its_rule() -> None:
    body = _body()
    current = _configured(body)
    assert oidc_clients.client_differs(None, body)
    assert not oidc_clients.client_differs(current, body)
    assert not oidc_clients.client_differs({**current, "oidcRPMetaDataOptionsAllowClientCredentialsGrant": "1",
                                       "oidcRPMetaDataOptionsAccessTokenExpiration": "3600"}, body)
    without_rule = {k: v for k, v in current.items() if k != "oidcRPMetaDataOptionsRule"}
    assert oidc_clients.client_differs(without_rule, body)
    assert oidc_clients.client_differs({**current, "oidcRPMetaDataOptionsRule": "1"}, body)
    assert oidc_clients.client_differs({**current, "oidcRPMetaDataOptionsClientSecret": "old"}, body)
    assert oidc_clients.client_differs({**current, "oidcRPMetaDataOptionsRedirectUris": "https://other/cb"}, body)


def test_every_client_body_carries_its_rule() -> None:
    assert _body()["options"]["rule"] == oidc_policy.access_rule([names.group("health")], client_credentials=True)
    with pytest.raises(TypeError):
        oidc_clients.oidc_client(_Box(), "x-client", "s", ["https://x/cb"])  # type: ignore[arg-type,call-arg]


def test_access_tokens_are_signed_jwts_with_the_claims() -> None:
    """An app's API (the centre's) checks a token itself: LLNG's JWT access tokens, the scopes' claims in them."""
    options = oidc_clients.conf_entries(_body())["oidcRPMetaDataOptions"]
    assert options["oidcRPMetaDataOptionsAccessTokenJWT"] == 1
    assert options["oidcRPMetaDataOptionsAccessTokenClaims"] == 1
    assert options["oidcRPMetaDataOptionsAccessTokenSignAlg"] == "RS256"
    older = {**options, "oidcRPMetaDataOptionsAccessTokenJWT": 0}  # a client written before: rewritten
    assert oidc_clients.client_differs(older, _body())
