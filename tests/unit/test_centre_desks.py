"""The staff pages' pure decisions: SLA due dates, reasons, holding tasks (`centre_core.desks`), and the sign-in's
PKCE, state and session end (`centre_web.signin_rules`)."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from centre_core import desks
from centre_web import signin_rules


def test_due_counts_working_days_and_overdue_is_after_it() -> None:
    friday = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
    assert desks.due(friday, 1) == datetime(2026, 12, 7, 10, 0, tzinfo=UTC)  # Monday
    assert desks.due(friday, 5) == datetime(2026, 12, 11, 10, 0, tzinfo=UTC)
    due = desks.due(friday, 1)
    assert not desks.overdue(due, due) and desks.overdue(due, due.replace(minute=1))


def test_return_and_reject_need_a_reason_others_do_not() -> None:
    assert isinstance(desks.action_fields("return", "  ", ""), desks.Refusal)
    assert isinstance(desks.action_fields("reject", "", "note"), desks.Refusal)
    assert desks.action_fields("return", " lease missing ", "") == {"reason": "lease missing"}
    assert desks.action_fields("accept", "", " seen ") == {"comment": "seen"}
    assert desks.action_fields("accept", "", "") == {}
    assert isinstance(desks.action_fields("accept", "", "x" * 1001), desks.Refusal)


def test_comments_are_bounded_and_not_empty() -> None:
    assert desks.comment_text("  seen  ") == "seen"
    assert isinstance(desks.comment_text("   "), desks.Refusal)
    assert isinstance(desks.comment_text("x" * 2001), desks.Refusal)


def test_a_held_task_is_its_holders_and_assigning_needs_the_same_desk() -> None:
    assert desks.may_act(None, "a") is None and desks.may_act("a", "a") is None
    assert isinstance(desks.may_act("b", "a"), desks.Refusal)
    assert desks.may_assign("clerk", "b", ["clerk", "supervisor"]) is None
    assert isinstance(desks.may_assign("clerk", "b", ["supervisor"]), desks.Refusal)
    assert isinstance(desks.may_assign("clerk", "b", None), desks.Refusal)  # never seen at a sign-in


def test_pkce_is_rfc_7636_s256() -> None:
    # RFC 7636 appendix B
    assert signin_rules.challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == \
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    pending = signin_rules.new_pending(1000)
    assert len({pending["state"], pending["nonce"], pending["verifier"]}) == 3 and len(pending["verifier"]) >= 43
    url = signin_rules.authorize_url("https://idp.test/oauth2/authorize", "ag-x--centre", "https://c.test/oidc/callback/",
                                     pending)
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    digest = hashlib.sha256(pending["verifier"].encode()).digest()
    assert query["code_challenge"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert (query["state"], query["nonce"], query["code_challenge_method"]) == (pending["state"], pending["nonce"],
                                                                                "S256")


def test_the_callback_answers_only_the_pending_sign_in_in_time() -> None:
    pending = signin_rules.new_pending(1000)
    good = {"state": pending["state"], "code": "c0de"}
    assert signin_rules.callback_code(pending, good, 1010) == "c0de"
    assert signin_rules.callback_code(None, good, 1010) is None
    assert signin_rules.callback_code(pending, {**good, "state": "other"}, 1010) is None
    assert signin_rules.callback_code(pending, {**good, "error": "access_denied"}, 1010) is None
    assert signin_rules.callback_code(pending, {"state": pending["state"]}, 1010) is None
    assert signin_rules.callback_code(pending, good, 1000 + signin_rules.PENDING_SECONDS + 1) is None


def test_a_session_ends_with_the_token_and_within_a_working_day() -> None:
    assert signin_rules.session_end(600, 1000) == 1600
    assert signin_rules.session_end(10**9, 1000) == 1000 + signin_rules.MAX_SESSION_SECONDS
    assert signin_rules.session_end(None, 1000) == 4600 and signin_rules.session_end(True, 1000) == 4600


def test_every_refusal_has_its_words_in_both_languages() -> None:
    """Each code `centre_core.desks` refuses with (and the staff pages' own) has a text `refusal_<code>` in English
    and Urdu naming the same values."""
    from centre_web.texts import TEXTS

    made = [desks.action_fields("return", "", ""), desks.action_fields("accept", "x" * 1001, ""),
            desks.comment_text(""), desks.comment_text("x" * 2001), desks.may_act("b", "a"),
            desks.may_assign("clerk", "b", None)]
    codes = {r.code for r in made if isinstance(r, desks.Refusal)} | {"not_offered", "moved_on", "no_bucket",
                                                                       "document_changed"}
    assert len(codes) == 10
    for refusal in made:
        assert isinstance(refusal, desks.Refusal)
        words = TEXTS[f"refusal_{refusal.code}"]
        for lang in ("en", "ur"):
            assert words[lang].format(**dict(refusal.values))  # every value it names is given
    assert all(f"refusal_{code}" in TEXTS for code in codes)


def test_a_sign_in_leads_only_to_a_staff_page_of_this_centre() -> None:
    inbox = "/en/staff/"
    for good in ("/en/staff/", "/ur/staff/applications/ABCD2345EFGH/", "/ur/staff/"):
        assert signin_rules.safe_next(good, inbox) == good
    for bad in ("", "/staff/", "https://evil.test/en/staff/", "//evil.test/en/staff/", "/en/staff//evil.test",
                "/en/staff/../../admin", "/fr/staff/", "/en/services/", "/en/staff/?next=https://evil.test",
                "/en/staff/\\evil"):
        assert signin_rules.safe_next(bad, inbox) == inbox, bad


ISSUER = "https://localhost:8443"


def test_the_end_session_endpoint_is_the_configured_issuers() -> None:
    doc = {"issuer": ISSUER, "end_session_endpoint": ISSUER + "/oauth2/logout"}
    assert signin_rules.end_session_endpoint(doc, ISSUER) == ISSUER + "/oauth2/logout"
    assert signin_rules.end_session_endpoint({**doc, "issuer": "https://other.test"}, ISSUER) is None
    assert signin_rules.end_session_endpoint(doc, "") is None
    assert signin_rules.end_session_endpoint({"issuer": ISSUER}, ISSUER) is None  # no RP-initiated logout
    for bad in ("http://idp.test/logout", "javascript:alert(1)", "https://idp.test/logout#x", 7, None):
        assert signin_rules.end_session_endpoint({**doc, "end_session_endpoint": bad}, ISSUER) is None, bad
    loopback = {**doc, "end_session_endpoint": "http://127.0.0.1:9/oauth2/logout"}  # a test IdP only
    assert signin_rules.end_session_endpoint(loopback, ISSUER) == "http://127.0.0.1:9/oauth2/logout"
    assert signin_rules.end_session_endpoint(["not", "an", "object"], ISSUER) is None


def test_the_logout_url_carries_the_id_token_and_the_way_back() -> None:
    url = signin_rules.logout_url(ISSUER + "/oauth2/logout", "ag-x--centre", "a.b.c",
                                  "https://centre.test/ur/staff/signed-out/")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == ISSUER + "/oauth2/logout"
    assert {k: v[0] for k, v in parse_qs(parts.query).items()} == {
        "id_token_hint": "a.b.c", "post_logout_redirect_uri": "https://centre.test/ur/staff/signed-out/",
        "client_id": "ag-x--centre"}
    kept = signin_rules.logout_url(ISSUER + "/logout?realm=x", "c", "t", "https://c.test/en/staff/signed-out/")
    assert kept.startswith(ISSUER + "/logout?realm=x&id_token_hint=t&")


def test_forms_may_lead_to_the_idps_origins_only() -> None:
    config = {"issuer": ISSUER, "discovery_url": "http://127.0.0.1:9/.well-known/openid-configuration"}
    assert signin_rules.form_origins(config) == ["http://127.0.0.1:9", ISSUER]
    assert signin_rules.form_origins({"issuer": "http://idp.test", "discovery_url": ""}) == []
    assert signin_rules.form_origins(None) == []


@pytest.mark.parametrize(("member_of", "expected"), [
    ({"supervisor"}, True), ({"clerk", "grievance_supervisor"}, True), ({"clerk"}, False), (set(), False),
    ({"_supervisor"}, False), ({"supervisors"}, False), ({"supervisor_x"}, False)])
def test_a_supervisor_is_at_a_supervisor_desk(member_of: set[str], expected: bool) -> None:
    assert desks.is_supervisor(frozenset(member_of)) is expected
