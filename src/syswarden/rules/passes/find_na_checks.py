"""Pass: checks that compare a field with the literal ``<NA>`` (Falco's LOAD_UNSAFE_NA_CHECK warning).

A missing value never equals anything in a filter (every check on ``<NA>`` is false), so ``fd.name = <NA>``
does not test for a missing value; Falco warns "Unsafe <NA> comparison in condition" and suggests
``not fd.name exists``. The loader turns what this pass finds into that warning.
"""
from __future__ import annotations

from syswarden.rules.filter import ast
from syswarden.spans import Span

NA = "<NA>"


def find_na_checks(expr: ast.Expr) -> tuple[Span, ...]:
    """Spans of the checks in ``expr`` whose right-hand side is, or lists, the literal ``<NA>``."""
    found: list[Span] = []
    stack: list[ast.Expr] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Not):
            stack.append(node.child)
        elif isinstance(node, (ast.And, ast.Or)):
            stack.extend(reversed(node.children))
        elif isinstance(node, ast.Check) and _mentions_na(node.rhs):
            found.append(node.span)
    return tuple(found)


def _mentions_na(rhs: ast.Rhs | None) -> bool:
    if isinstance(rhs, ast.Value):
        return rhs.text == NA
    if isinstance(rhs, ast.ListValue):
        return any(v.text == NA for v in rhs.items)
    return False
