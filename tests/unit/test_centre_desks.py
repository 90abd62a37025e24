"""The staff pages' pure decisions: SLA due dates, reasons, holding tasks (`centre_core.desks`), and the sign-in's
PKCE, state and session end (`centre_web.signin_rules`)."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

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
