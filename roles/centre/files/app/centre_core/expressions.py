"""A restricted evaluator for the expressions of a BPMN file: gateway conditions and timer durations.

SpiffWorkflow's default engine runs `eval()` on them with Python's builtins, so a catalogue file could run code
on the server (`__import__('os').system(...)`, or `().__class__.__bases__[0].__subclasses__()` without any
name). Here an expression is parsed with `ast` and only a small language is accepted: constants (str, int,
float, bool, None), variable names (looked up in the task's data, never in builtins), comparisons (== != < <=
> >= in, not in), and/or/not, unary minus, + and - on numbers, and tuples/lists of those for `in`. No
attribute access, subscripts, calls, comprehensions, lambdas or f-strings: nothing in the language can reach
an object's methods. Sizes are bounded so that no expression can take long or build large values."""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from typing import Any

from .errors import ExpressionError

MAX_LENGTH = 500
MAX_NODES = 100
_ALLOWED_CONSTANTS = (str, int, float, bool, type(None))
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}
_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {ast.Add: operator.add, ast.Sub: operator.sub}
_NODES = (ast.Expression, ast.Constant, ast.Name, ast.Load, ast.Compare, ast.BoolOp, ast.And, ast.Or,
          ast.UnaryOp, ast.Not, ast.USub, ast.BinOp, ast.Tuple, ast.List, *_COMPARE, *_BINARY)


def parse(expression: str) -> ast.Expression:
    """Parse and check an expression; raise ExpressionError naming the first construct that is refused."""
    if not isinstance(expression, str):
        raise ExpressionError("an expression must be text")
    if len(expression) > MAX_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise ExpressionError(f"not a valid expression ({exc.__class__.__name__}): {expression!r}") from None
    nodes = list(ast.walk(tree))
    if len(nodes) > MAX_NODES:
        raise ExpressionError(f"expression has more than {MAX_NODES} parts: {expression!r}")
    for node in nodes:
        if not isinstance(node, _NODES):
            raise ExpressionError(
                f"{type(node).__name__} is not allowed in {expression!r}: only constants, variable names, "
                "comparisons, and/or/not and + - on numbers are"
            )
        if isinstance(node, ast.Constant) and not isinstance(node.value, _ALLOWED_CONSTANTS):
            raise ExpressionError(f"constant {node.value!r} is not allowed in {expression!r}")
        if isinstance(node, ast.Name) and (node.id.startswith("_") or not node.id.isidentifier()):
            raise ExpressionError(f"variable {node.id!r} is not allowed in {expression!r} (no leading _)")
    return tree


def evaluate(expression: str, data: Mapping[str, Any]) -> Any:
    """Evaluate `expression` against `data` (a task's variables); unknown names are an error, not None."""
    return _eval(parse(expression).body, data, expression)


def names(expression: str) -> set[str]:
    """The variables an expression reads (to check a process against its catalogue entry)."""
    return {n.id for n in ast.walk(parse(expression)) if isinstance(n, ast.Name)}


def _eval(node: ast.expr, data: Mapping[str, Any], text: str) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in ("True", "False", "None"):
            return {"True": True, "False": False, "None": None}[node.id]
        if node.id not in data:
            raise ExpressionError(f"unknown variable {node.id!r} in {text!r}")
        return _plain(data[node.id], node.id, text)
    if isinstance(node, ast.Tuple | ast.List):
        return tuple(_eval(e, data, text) for e in node.elts)
    if isinstance(node, ast.BoolOp):
        if isinstance(node.op, ast.And):
            result: Any = True
            for value in node.values:
                result = _eval(value, data, text)
                if not result:
                    return result
            return result
        result = False
        for value in node.values:
            result = _eval(value, data, text)
            if result:
                return result
        return result
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand, data, text)
        if isinstance(node.op, ast.Not):
            return not operand
        return -_number(operand, text)
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, data, text), _eval(node.right, data, text)
        return _BINARY[type(node.op)](_number(left, text), _number(right, text))
    if isinstance(node, ast.Compare):
        left = _eval(node.left, data, text)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _eval(comparator, data, text)
            try:
                ok = _COMPARE[type(op)](left, right)
            except TypeError:
                raise ExpressionError(f"cannot compare {left!r} with {right!r} in {text!r}") from None
            if not ok:
                return False
            left = right
        return True
    raise ExpressionError(f"{type(node).__name__} is not allowed in {text!r}")  # parse() keeps us from here


def _number(value: Any, text: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ExpressionError(f"+ and - take numbers, not {value!r}, in {text!r}")
    return value


def _plain(value: Any, name: str, text: str) -> Any:
    """Only plain values leave the task data: an object there must not lend its methods to `in` or ==."""
    if isinstance(value, _ALLOWED_CONSTANTS):
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, _ALLOWED_CONSTANTS) for v in value):
        return tuple(value)
    raise ExpressionError(f"variable {name!r} holds a {type(value).__name__}, not a plain value, in {text!r}")
