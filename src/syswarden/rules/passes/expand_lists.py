"""Pass: replace list names in list positions with the list's items.

Falco substitutes lists in the condition *text* before parsing: any token equal to a list name, bounded by a
blank, ``(``, ``)``, ``,`` or ``=``, becomes ``item1, item2, ...`` (rule_loader_compiler.cpp, which itself warns
"this breaks string escaping in lists"). syswarden expands on the AST instead, and only where a list can
stand: an unquoted item of a list literal (``proc.name in (shell_binaries, bash)``) or a bare list operand
(``proc.name in shell_binaries``), plus a list name used as a single value (``proc.name = cat_binaries``),
which Falco's pasting turns into a valid check only when the list has one item (more items are an error here,
a syntax error there). The deliberate difference: a list item keeps its exact text whatever quotes, commas or
parentheses it contains, where pasted text could change the condition's structure. Quoted items are never
list names, as in Falco.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from syswarden.errors import FilterSyntaxError
from syswarden.rules.filter import ast
from syswarden.rules.filter.lexer import Lexer
from syswarden.spans import Span
from syswarden.rules.passes.errors import ListValueError, UndefinedListError

def expand_lists(expr: ast.Expr, lists: Mapping[str, Sequence[object]]) -> tuple[ast.Expr, frozenset[str]]:
    """``expr`` with list names expanded, and the names of the lists used.

    Raises:
        UndefinedListError: ``field in name`` (no parentheses) where ``name`` is not a list.
    """
    used: set[str] = set()
    return _expand(expr, lists, used), frozenset(used)


def _expand(node: ast.Expr, lists: Mapping[str, Sequence[object]], used: set[str]) -> ast.Expr:
    if isinstance(node, ast.Check):
        rhs = node.rhs
        if isinstance(rhs, ast.ListValue):
            rhs = ast.ListValue(_items(rhs.items, lists, used, ()), rhs.span)
        elif isinstance(rhs, ast.ListRef):
            if rhs.name not in lists:
                raise UndefinedListError(f"Undefined list '{rhs.name}' used in filter.", span=rhs.span)
            used.add(rhs.name)
            values = tuple(_item(v, rhs.span) for v in lists[rhs.name])
            rhs = ast.ListValue(_items(values, lists, used, (rhs.name,)), rhs.span)
        elif isinstance(rhs, ast.Value) and not rhs.quoted and rhs.text in lists:
            rhs = _single_value(rhs, lists, used)
        return ast.Check(node.lhs, node.op, rhs, node.modifier, node.span)
    if isinstance(node, ast.Not):
        return ast.Not(_expand(node.child, lists, used), node.span)
    if isinstance(node, ast.And):
        return ast.And(tuple(_expand(c, lists, used) for c in node.children), node.span)
    if isinstance(node, ast.Or):
        return ast.Or(tuple(_expand(c, lists, used) for c in node.children), node.span)
    return node


def _single_value(value: ast.Value, lists: Mapping[str, Sequence[object]], used: set[str]) -> ast.Value:
    """``proc.name = cat_binaries``: Falco pastes the items in, which reads as one value only when the list
    has exactly one item (its conformance test list_sub_bare relies on it); otherwise Falco fails to parse."""
    items = _items((value,), lists, used, ())
    if len(items) != 1:
        raise ListValueError(
            f"list '{value.text}' has {len(items)} items where one value is expected; use 'in ({value.text})'",
            span=value.span)
    return items[0]


def _item(raw: object, span: Span) -> ast.Value:
    """One list item as Falco would read it after pasting it into the condition: a quoted item is unquoted
    with the filter language's escapes, a bare one (or a YAML number) is taken as its text."""
    text = ("true" if raw else "false") if isinstance(raw, bool) else str(raw)
    if len(text) >= 2 and text[0] in "\"'" and text[-1] == text[0]:
        lexer = Lexer(text, lambda message, offset: FilterSyntaxError(f"in list item {text}: {message}", span=span))
        value = lexer.lex_quoted_str()
        if value is not None and lexer.at_end:
            return ast.Value(value, True, span)
    return ast.Value(text, False, span)


def _items(items: tuple[ast.Value, ...], lists: Mapping[str, Sequence[object]], used: set[str],
           expanding: tuple[str, ...]) -> tuple[ast.Value, ...]:
    """Items with list names expanded; a name already being expanded (a loop) stays a literal string, which
    is what Falco's expand-earlier-lists-only substitution ends with."""
    out: list[ast.Value] = []
    for item in items:
        if not item.quoted and item.text in lists and item.text not in expanding:
            used.add(item.text)
            nested = tuple(_item(v, item.span) for v in lists[item.text])
            out.extend(_items(nested, lists, used, (*expanding, item.text)))
        else:
            out.append(ast.Value(item.text, True, item.span) if not item.quoted else item)
    return tuple(out)
