"""E-participation's pure rules (centre_core/participation.py): texts cleaned and bounded, a draft split into
paragraphs matched across languages, polls' options, dates, voter tokens, results as open data."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pytest

from centre_core import participation as p


def test_clean_text_drops_direction_overrides_and_controls_and_bounds_length() -> None:
    assert p.clean_text("  سلام\u202e دنیا\x07\r\n\r\n\r\n\r\nok ", 100) == "سلام دنیا\n\nok"
    assert p.clean_text(" \n\t ", 10) == p.Refusal("p_err_empty")
    assert p.clean_text("x" * 11, 10) == p.Refusal("p_err_too_long", (("n", 10),))


def test_a_draft_is_split_at_blank_lines_and_matched_paragraph_by_paragraph() -> None:
    draft = p.check_draft("water-tariff", "Water tariff", "پانی کا نرخ", "One\nline.\n\nTwo.", "ایک۔\n\nدو۔",
                          "2026-12-01", "2026-12-31")
    assert isinstance(draft, p.Draft)
    assert draft.paragraphs == (("One line.", "ایک۔"), ("Two.", "دو۔"))
    assert (draft.opens_on, draft.closes_on) == (date(2026, 12, 1), date(2026, 12, 31))
    only_urdu = p.check_draft("urdu-only", "", "صرف اردو", "", "ایک۔", "2026-12-01", "2026-12-01")
    assert isinstance(only_urdu, p.Draft) and only_urdu.paragraphs == (("", "ایک۔"),)


@pytest.mark.parametrize(("args", "key"), [
    (("Bad Slug", "T", "", "a", "", "2026-12-01", "2026-12-02"), "p_err_slug"),
    (("ok-slug", "", "", "a", "", "2026-12-01", "2026-12-02"), "p_err_title"),
    (("ok-slug", "T", "", "", "", "2026-12-01", "2026-12-02"), "p_err_draft"),
    (("ok-slug", "T", "ت", "a\n\nb", "ا", "2026-12-01", "2026-12-02"), "p_err_paragraphs"),
    (("ok-slug", "T", "", "a", "", "2026-13-01", "2026-12-02"), "p_err_dates"),
    (("ok-slug", "T", "", "a", "", "2026-12-03", "2026-12-02"), "p_err_dates_order"),
    (("ok-slug", "T", "", "\n\n".join(["x"] * 201), "", "2026-12-01", "2026-12-02"), "p_err_too_many"),
])
def test_a_draft_is_refused_with_a_reason(args: tuple[str, ...], key: str) -> None:
    refused = p.check_draft(*args)
    assert isinstance(refused, p.Refusal) and refused.key == key


@pytest.mark.parametrize(("en", "ur", "ok"), [("Yes\nNo", "ہاں\nنہیں", True), ("Yes\nNo", "", True),
                                               ("Yes", "ہاں", False), ("Yes\nYes", "", False),
                                               ("A\nB\nC", "ا\nب", False), ("\n".join("abcdefghijk"), "", False)])
def test_a_poll_needs_2_to_10_distinct_options_matching_across_languages(en: str, ur: str, ok: bool) -> None:
    poll = p.check_poll("bus-routes", "Which route?", "", en, ur, "2026-12-01", "2026-12-31")
    assert isinstance(poll, p.PollDraft) is ok


def test_open_from_first_to_last_day_inclusive() -> None:
    start, end = date(2026, 12, 1), date(2026, 12, 31)
    assert [p.is_open(start, end, d) for d in (date(2026, 11, 30), start, end, date(2027, 1, 1))] == \
        [False, True, True, False]


def test_a_text_falls_back_to_the_other_language_with_its_own_lang() -> None:
    assert p.in_language("Hello", "سلام", "ur") == ("سلام", "ur")
    assert p.in_language("Hello", "", "ur") == ("Hello", "en")
    assert p.in_language("", "سلام", "en") == ("سلام", "ur")


def test_only_an_hmac_of_the_voter_token_is_kept_and_tokens_are_checked() -> None:
    token = p.new_voter()
    assert p.valid_voter(token) and not p.valid_voter("short") and not p.valid_voter(None)
    stored = p.voter_key(b"k" * 32, token)
    assert len(stored) == 64 and token not in stored and stored != p.voter_key(b"j" * 32, token)


def test_moderation_actions() -> None:
    assert (p.moderation("approve"), p.moderation("reject"), p.moderation("delete")) == ("approved", "rejected", None)


def test_poll_results_and_open_data_files() -> None:
    polls = [{"id": 7, "slug": "bus-routes", "question_en": "Which route?", "question_ur": "کون سا راستہ؟",
              "opens_on": date(2026, 12, 1), "closes_on": date(2026, 12, 31),
              "options": ((1, "North", "شمال"), (2, "South", "جنوب"))}]
    rows = p.poll_rows(polls, {(7, 1): 3, (7, 2): 1})
    assert [(r["option"], r["votes"], r["share_pct"]) for r in rows] == [("1", "3", "75.0"), ("2", "1", "25.0")]
    assert p.poll_rows([{**polls[0], "id": 8}], {})[0]["share_pct"] == ""
    files = p.opendata_files([], [{"consultation": "c", "paragraph": "1", "comment": "5", "language": "ur",
                                   "text": "بہت اچھا, \"ok\"", "received_on": "2026-12-02"}], rows, [])
    assert set(files) == {p.OPENDATA_CONSULTATIONS, p.OPENDATA_COMMENTS, p.OPENDATA_POLLS, p.OPENDATA_PROPOSALS,
                          p.OPENDATA_JSON}
    back = list(csv.DictReader(io.StringIO(files[p.OPENDATA_COMMENTS].decode())))
    assert back[0]["text"] == "بہت اچھا, \"ok\""
    assert json.loads(files[p.OPENDATA_JSON])["polls"][0]["label_ur"] == "شمال"
    assert files[p.OPENDATA_CONSULTATIONS].decode().splitlines()[0] == ",".join(p.PARAGRAPH_COLUMNS)
