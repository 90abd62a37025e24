"""Hostile text: names and actors are refused when they hide, reorder or control what a terminal shows, and
anything shown back is escaped (pure functions, no servers)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from govcloud_platform.text import BIDI_CONTROLS, check_text, hostile_char, one_line, printable, text_problem

HOSTILE = [
    ("", "is empty"),
    ("   ", "is only spaces"),
    ("\u3000\u2003", "is only spaces"),  # ideographic and em spaces
    ("\x1b[31mred", "control character"),
    ("\x1b]0;owned\x07", "control character"),
    ("a\nb", "control character"),
    ("tab\there", "control character"),
    ("del\x7f", "control character"),
    ("c1\x9b31m", "control character"),  # C1 CSI
    ("Health\u202eyenom", "bidi override"),
    ("a\u2066b\u2069", "bidi override"),
    ("a\u202ab", "bidi override"),
    ("line\u2028sep", "control character"),
    ("bad\udcffbytes", "control character"),  # an undecodable byte of argv
    ("x" * 201, "longer than 200"),
]


@pytest.mark.parametrize(("value", "reason"), HOSTILE)
def test_hostile_names_are_refused_with_the_reason(value: str, reason: str) -> None:
    problem = text_problem(value)
    assert problem is not None and reason in problem
    with pytest.raises(ValueError) as info:
        check_text(value, "--name")
    message = str(info.value)
    assert "--name" in message
    assert all(not hostile_char(ch) for ch in message), message  # the message itself is safe to print


@pytest.mark.parametrize("value", [
    "Ministry of Health", "Revenue & Customs", "وزارت صحت",  # Urdu, right to left
    "\u200fمحکمہ\u200e (RLM/LRM marks)", "Café Zürich", "Agence n°7 — test", "[red]not markup[/red]", "x" * 200,
])
def test_ordinary_names_in_any_script_are_accepted(value: str) -> None:
    assert text_problem(value) is None
    assert check_text(value, "--name") == value


def test_printable_escapes_controls_and_bidi_but_keeps_text() -> None:
    assert printable("\x1b[31mred") == "\\x1b[31mred"
    assert printable("a\u202eb") == "a\\u202eb"
    assert printable("وزارت") == "وزارت"
    assert printable("abcdef", 4) == "abc…"
    assert one_line("<html>\r\n<head><title>502 Bad Gateway</title></head>\n\n</html>") == \
        "<html> <head><title>502 Bad Gateway</title></head> </html>"


@given(st.text())
def test_printable_output_never_holds_a_hostile_character(value: str) -> None:
    assert not any(hostile_char(ch) for ch in printable(value))
    assert not any(hostile_char(ch) or ch == "\n" for ch in one_line(value))


@given(st.text())
def test_accepted_text_has_no_hostile_character_and_is_not_blank(value: str) -> None:
    if text_problem(value) is None:
        assert value.strip() and not any(hostile_char(ch) for ch in value)
        assert printable(value) == value  # nothing to escape in accepted text


@given(st.text(), st.sampled_from(sorted(BIDI_CONTROLS) + ["\x1b", "\x00", "\x85", "\u2029"]), st.text())
def test_one_hostile_character_anywhere_is_refused(prefix: str, bad: str, suffix: str) -> None:
    assert text_problem(prefix + bad + suffix + "x") is not None
