"""Rule exceptions -> the condition suffix Falco appends: ``(<cond>) and not ((f1 c1 v1 and f2 c2 v2) or ...)``.

Falco builds the suffix as *text* (``build_rule_exception_infos``) and parses the whole condition again, so
we do the same and inherit its quirks: a value with a space is double-quoted, a scalar value for a list
operator is wrapped in parentheses, and an exception with no values adds nothing.
"""
from __future__ import annotations

from collections.abc import Sequence

from syswarden.rules.loader.collector import LIST_OPERATORS, is_modifier_operator
from syswarden.rules.loader.items import ExceptionEntry, ExceptionItem
from syswarden.rules.loader.result import ErrorCode, LoadIssue


def quote_item(text: str) -> str:
    """Quote a value holding a space unless it is quoted already."""
    if " " in text and text[:1] not in ("'", '"'):
        return f'"{text}"'
    return text


def _paren(text: str) -> str:
    return text if text.startswith("(") else f"({text})"


def _fail(message: str, ex: ExceptionItem) -> LoadIssue:
    return LoadIssue(ErrorCode.LOAD_ERR_VALIDATE, message, ex.loc)


def _single_field(ex: ExceptionItem) -> str:
    assert ex.fields is not None and ex.comps is not None
    values = []
    for val in ex.values:
        if val.is_list:
            raise _fail("Expected values array to contain a list of strings", ex)
        values.append(quote_item(val.item))
    return f"({ex.fields.item} {ex.comps.item} ({', '.join(values)}))" if values else ""


def _value_text(value: ExceptionEntry, comp: str) -> str:
    if value.is_list:
        return "(" + ", ".join(quote_item(v.item) for v in value.items) + ")"
    if comp in LIST_OPERATORS or is_modifier_operator(comp):
        return _paren(value.item)
    return quote_item(value.item)


def _tuple_fields(ex: ExceptionItem) -> str:
    assert ex.fields is not None and ex.comps is not None
    fields: Sequence[ExceptionEntry] = ex.fields.items
    comps: Sequence[ExceptionEntry] = ex.comps.items
    alternatives = []
    for values in ex.values:
        if len(values.items) != len(fields):
            raise _fail("Fields and values lists must have equal length", ex)
        checks = [f" {f.item} {c.item} {_value_text(v, c.item)}" for f, c, v in zip(fields, comps, values.items)]
        alternatives.append("(" + " and ".join(checks) + ")")
    return "(" + " or ".join(alternatives) + ")" if alternatives else ""


def apply_exceptions(condition: str, exceptions: Sequence[ExceptionItem]) -> str:
    """The rule condition with every exception appended as ``and not (...)``."""
    if not exceptions:
        return condition
    out = f"({condition})"
    for ex in exceptions:
        assert ex.fields is not None
        suffix = _tuple_fields(ex) if ex.fields.is_list else _single_field(ex)
        if suffix:
            out += f" and not {suffix}"
    return out


def exception_fields(exceptions: Sequence[ExceptionItem]) -> list[str]:
    """Every field the exceptions compare (for ``rules list``)."""
    names: list[str] = []
    for ex in exceptions:
        if ex.fields is not None:
            names += [f.item for f in ex.fields.items] if ex.fields.is_list else [ex.fields.item]
    return names
