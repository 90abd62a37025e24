"""The restricted evaluator of BPMN expressions: what it computes, and that nothing in it reaches code."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from centre_core import expressions
from centre_core.errors import ExpressionError

DATA = {"decision": "accept", "floors": 3, "kinds": ["shop", "cafe"], "ok": True}


@pytest.mark.parametrize(("text", "expected"), [
    ('decision == "accept"', True),
    ('decision != "accept"', False),
    ("floors > 2 and floors <= 4", True),
    ('decision in ("return", "reject")', False),
    ('"shop" in kinds', True),
    ("not ok or floors - 1 == 2", True),
    ("-floors + 10", 7),
    ("1 < floors < 3", False),
    ("None", None),
])
def test_evaluates_the_allowed_language(text: str, expected: Any) -> None:
    assert expressions.evaluate(text, DATA) == expected


@pytest.mark.parametrize("text", [
    "__import__('os').system('id')",
    "().__class__.__bases__[0].__subclasses__()",
    "decision.upper()",
    "kinds[0]",
    "[x for x in kinds]",
    "lambda: 1",
    "f'{decision}'",
    "open('/etc/passwd')",
    "_private",
    "b'bytes'",
    "decision * 1000000000",
    "2 ** 1000000",
    "(decision := 1)",
    "x" * 600,
    "1 +" * 60 + "1",
])
def test_refuses_everything_else_at_parse(text: str) -> None:
    with pytest.raises(ExpressionError):
        expressions.parse(text)


def test_unknown_variables_and_non_plain_values_are_errors() -> None:
    with pytest.raises(ExpressionError, match="unknown variable"):
        expressions.evaluate("missing == 1", DATA)
    with pytest.raises(ExpressionError, match="not a plain value"):
        expressions.evaluate("thing == 1", {"thing": object()})
    with pytest.raises(ExpressionError, match="numbers"):
        expressions.evaluate("decision + decision", DATA)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_either_evaluates_or_is_an_expression_error(text: str) -> None:
    try:
        expressions.evaluate(text, DATA)
    except ExpressionError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.from_regex(r"[a-z_().\[\]'\" ]{1,80}", fullmatch=True))
def test_no_accepted_expression_holds_attribute_access_or_calls(text: str) -> None:
    try:
        tree = expressions.parse(text)
    except ExpressionError:
        return
    import ast
    assert not any(isinstance(n, ast.Attribute | ast.Call | ast.Subscript) for n in ast.walk(tree))
