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

from collections.abc import Callable, Mapping, Sequence

from syswarden.errors import FilterSyntaxError
from syswarden.rules.filter import ast
from syswarden.rules.filter.lexer import Lexer
from syswarden.spans import Span
from syswarden.rules.passes.errors import ListSizeError, ListValueError, UndefinedListError

MAX_LIST_ITEMS = 1_000_000      # items of all lists together, each expanded


def expand_definitions(lists: Mapping[str, Sequence[object]], *,
                       sees: Callable[[str, str], bool] | None = None) -> tuple[dict[str, list[object]], set[str]]:
    """Expand list definitions once each, in the mapping's (definition) order: an item naming a list defined
    earlier becomes that list's items, already expanded; any other item stays as it is, so a forward reference
    or a loop is plain text (Falco expands only earlier lists). ``sees(list, name)`` may narrow "earlier"
    (Falco: defined before the list's last update). Returns the lists and the names used inside others.

    Raises:
        ListSizeError: the lists together grow past ``MAX_LIST_ITEMS`` items (lists that double each other).
    """
    out: dict[str, list[object]] = {}
    used: set[str] = set()
    total = 0
    for name, items in lists.items():
        expanded: list[object] = []
        for item in items:
            key = item if isinstance(item, str) else None
            if key is not None and key in out and key != name and (sees is None or sees(name, key)):
                used.add(key)
                expanded.extend(out[key])
            elif key is not None and key in lists and sees is not None and sees(name, key):
                used.add(key)               # defined earlier but updated later: its own items, as Falco reads it
                expanded.extend(lists[key])
            else:
                expanded.append(item)
            if total + len(expanded) > MAX_LIST_ITEMS:
                raise ListSizeError(name, f"list '{name}' expands to more than {MAX_LIST_ITEMS:,} items, with the "
                                    "lists before it (lists that name each other grow exponentially)")
        total += len(expanded)
        out[name] = expanded
    return out, used


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
            rhs = ast.ListValue(_items(rhs.items, lists, used), rhs.span)
        elif isinstance(rhs, ast.ListRef):
            if rhs.name not in lists:
                raise UndefinedListError(f"Undefined list '{rhs.name}' used in filter.", span=rhs.span)
            used.add(rhs.name)
            rhs = ast.ListValue(tuple(_final(_item(v, rhs.span)) for v in lists[rhs.name]), rhs.span)
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
    items = _items((value,), lists, used)
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


def _items(items: tuple[ast.Value, ...], lists: Mapping[str, Sequence[object]], used: set[str]
           ) -> tuple[ast.Value, ...]:
    """Items with list names replaced by the lists' items. A list's own items are final (the loader expanded
    the earlier lists they name, once, in definition order), so nothing here recurses or grows more than the
    lists themselves."""
    out: list[ast.Value] = []
    for item in items:
        if not item.quoted and item.text in lists:
            used.add(item.text)
            out.extend(_final(_item(v, item.span)) for v in lists[item.text])
        else:
            out.append(_final(item))
    return tuple(out)


def _final(item: ast.Value) -> ast.Value:
    """A value that is no list name any more (marked quoted, so no later step takes it for one)."""
    return item if item.quoted else ast.Value(item.text, True, item.span)
