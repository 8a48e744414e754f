"""Condition compiler: a filter AST -> one predicate closure over events, plus what the rules index needs.

``compile_condition`` runs the passes in order (``resolve_macros``, ``expand_lists``, ``check_fields``), builds
nested closures (``_ClosureBuilder``), generates one function from them when it can (``codegen.py``) and
infers the event types (``infer_event_types``). Field accessors, operators and constants are all resolved
here, so judging an event walks no AST and makes no choice that could have been made once. Semantics follow Falco: a
check on a missing value (``<NA>``) is false whatever the operator (``!=`` included), except ``exists``, which is
exactly "the value is present"; a multi-valued field passes a check when any of its values does.
"""
from __future__ import annotations

import contextlib
import dataclasses
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from syswarden.events.event import Event
from syswarden.rules.codegen import SourceBuilder, rhs_texts
from syswarden.rules.fields import compare
from syswarden.rules.fields.model import FieldDef, FieldType
from syswarden.rules.filter import ast
from syswarden.rules.filter.printer import check_text
from syswarden.rules.passes.check_fields import check_fields
from syswarden.rules.passes.errors import InvalidCheckError
from syswarden.rules.passes.expand_lists import expand_lists
from syswarden.rules.passes.infer_event_types import infer_event_types
from syswarden.rules.passes.resolve_macros import MacroResolver, resolve_macros
from syswarden.spans import Span

Predicate = Callable[[Event], bool]
Accessor = Callable[[Event], Any]

@dataclass(frozen=True, slots=True)
class CompiledFilter:
    """A compiled condition: call ``predicate(event)``; ``evttypes`` None means every event type."""

    predicate: Predicate = field(repr=False)
    evttypes: frozenset[str] | None
    fields: frozenset[str]
    macros_used: frozenset[str]
    lists_used: frozenset[str]
    expr: ast.Expr = field(repr=False)

    def __call__(self, event: Event) -> bool:
        return self.predicate(event)


def compile_condition(
    expr: ast.Expr,
    *,
    macros: Mapping[str, ast.Expr] | MacroResolver | None = None,
    lists: Mapping[str, Sequence[object]] | None = None,
    codegen: bool = True,
    cache: dict[ast.Expr, CompiledFilter] | None = None,
) -> CompiledFilter:
    """Compile a parsed condition.

    Args:
        expr: the condition's AST (``filter.parser.parse``).
        macros: the macros it may reference, already parsed (or a ``MacroResolver`` over them, shared by the
            conditions of one ruleset so each macro is resolved once).
        lists: the lists it may reference, as item strings.
        codegen: generate one Python function for the whole condition (``rules/codegen.py``); False keeps
            the closure tree (same results, slower; used by tests to check the two agree).
        cache: earlier results by resolved condition (equal conditions compile to equal predicates); filled in.

    Returns:
        The predicate with its event types, fields, and the macros and lists it used.

    Raises:
        RuleLoadError: undefined macro or list, macro loop, unknown field (with suggestions), an operator
            that does not fit the field's type, or a constant that does not parse; each with a span.
    """
    with deep_recursion():
        resolved, macros_used = resolve_macros(expr, macros or {})
        expanded, lists_used = expand_lists(resolved, lists or {})
        hit = cache.get(expanded) if cache is not None else None
        if hit is not None:
            return dataclasses.replace(hit, macros_used=macros_used, lists_used=lists_used, expr=expanded)
        fields = check_fields(expanded)
        closures = _ClosureBuilder(fields)
        predicate = closures.expr(expanded)       # also validates every check, raising located errors
        if codegen:
            predicate = _generated(expanded, fields, closures) or predicate
        evttypes = infer_event_types(expanded)
    compiled = CompiledFilter(
        predicate=predicate,
        evttypes=evttypes,
        fields=frozenset(_field_key(f) for f in fields),
        macros_used=macros_used,
        lists_used=lists_used,
        expr=expanded,
    )
    if cache is not None:
        with deep_recursion():
            cache[expanded] = compiled
    return compiled


@contextlib.contextmanager
def deep_recursion() -> Iterator[None]:
    """The passes recurse once per AST level; the parser allows 1000 levels, so give them room for that."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 5000))
    try:
        yield
    finally:
        sys.setrecursionlimit(limit)


def _generated(expr: ast.Expr, fields: Mapping[ast.FieldRef, FieldDef],
               closures: "_ClosureBuilder") -> Predicate | None:
    try:
        return SourceBuilder(fields, closures.operand, closures.check).build(expr)
    except (SyntaxError, RecursionError, MemoryError):
        return None   # nesting beyond what Python's own parser accepts: the closures do the job


def _field_key(ref: ast.FieldRef) -> str:
    return ref.name if ref.arg is None else f"{ref.name}[{ref.arg}]"


def _never(_event: Event) -> bool:
    return False


class _ClosureBuilder:
    """Turns checked AST nodes into closures."""

    def __init__(self, fields: Mapping[ast.FieldRef, FieldDef]) -> None:
        self._fields = fields

    def expr(self, node: ast.Expr) -> Predicate:
        if isinstance(node, ast.And):
            return _all_of([self.expr(c) for c in node.children])
        if isinstance(node, ast.Or):
            return _any_of([self.expr(c) for c in node.children])
        if isinstance(node, ast.Not):
            child, negate = strip_nots(node)
            inner = self.expr(child)
            if not negate:
                return inner
            return lambda e: not inner(e)
        if isinstance(node, ast.Check):
            return self.check(node)
        raise InvalidCheckError(f"unresolved macro '{node.name}'", span=node.span)

    def check(self, node: ast.Check) -> Predicate:
        accessor, ftype, multi = self.operand(node.lhs)
        if node.op == "exists":
            return lambda e: accessor(e) is not None
        try:
            if isinstance(node.rhs, ast.Transform):
                return self._dynamic_check(node, accessor, ftype, multi)
            match = compare.constant_matcher(node.op, ftype, rhs_texts(node), node.modifier)
        except compare.CheckError as exc:
            raise _check_error(node, str(exc)) from exc
        return _apply(accessor, match, multi)

    def _dynamic_check(self, node: ast.Check, accessor: Accessor, ftype: FieldType, multi: bool) -> Predicate:
        assert isinstance(node.rhs, ast.Transform)
        rhs_node = node.rhs.operand if node.rhs.name == ast.VAL else node.rhs
        rhs, rhs_type, _ = self.operand(rhs_node)
        if rhs_type.is_numeric != ftype.is_numeric:
            raise compare.CheckError(f"cannot compare a {ftype.value} field with a {rhs_type.value} field")
        match = compare.dynamic_matcher(node.op, ftype)

        def predicate(e: Event) -> bool:
            value, other = accessor(e), rhs(e)
            if value is None or other is None:
                return False
            if multi:
                return any(match(v, other) for v in value)
            return match(value, other)
        return predicate

    def operand(self, node: ast.Operand) -> tuple[Accessor, FieldType, bool]:
        """The accessor of a field or transformer chain, its value type and whether it is multi-valued."""
        if isinstance(node, ast.FieldRef):
            fdef = self._fields[node]
            return fdef.extract, fdef.type, fdef.is_multi
        inner, ftype, multi = self.operand(node.operand)
        try:
            fn, out_type = compare.transformer(node.name)
        except compare.CheckError as exc:
            raise InvalidCheckError(str(exc), span=node.span) from exc
        if node.name != "len" and not (ftype.is_string or ftype is FieldType.BYTEBUF):
            raise InvalidCheckError(f"transformer '{node.name}' needs a string field, not {ftype.value}",
                                    span=node.span)
        return _transformed(inner, fn, multi), out_type or ftype, multi


def strip_nots(node: ast.Not) -> tuple[ast.Expr, bool]:
    """The expression under a stack of ``not``s and whether an odd number of them negates it."""
    negate = False
    current: ast.Expr = node
    while isinstance(current, ast.Not):
        negate, current = not negate, current.child
    return current, negate


def _transformed(inner: Accessor, fn: Callable[[Any], Any], multi: bool) -> Accessor:
    if multi:
        def many(e: Event) -> Any:
            values = inner(e)
            return None if values is None else tuple(fn(v) for v in values)
        return many

    def one(e: Event) -> Any:
        value = inner(e)
        return None if value is None else fn(value)
    return one


def _check_error(node: ast.Check, reason: str) -> InvalidCheckError:
    span: Span = node.span
    text = check_text(node)
    shown = text if len(text) <= 100 else text[:97] + "..."
    return InvalidCheckError(f"invalid check '{shown}': {reason}", span=span)


def _apply(accessor: Accessor, match: compare.Matcher, multi: bool) -> Predicate:
    if multi:
        def any_value(e: Event) -> bool:
            values = accessor(e)
            return values is not None and any(match(v) for v in values)
        return any_value

    def one_value(e: Event) -> bool:
        value = accessor(e)
        return value is not None and bool(match(value))
    return one_value


def _all_of(preds: list[Predicate]) -> Predicate:
    if len(preds) == 2:
        a, b = preds
        return lambda e: a(e) and b(e)
    if len(preds) == 3:
        a, b, c = preds
        return lambda e: a(e) and b(e) and c(e)
    items = tuple(preds)
    return lambda e: all(p(e) for p in items)


def _any_of(preds: list[Predicate]) -> Predicate:
    if len(preds) == 2:
        a, b = preds
        return lambda e: a(e) or b(e)
    if len(preds) == 3:
        a, b, c = preds
        return lambda e: a(e) or b(e) or c(e)
    items = tuple(preds)
    return lambda e: any(p(e) for p in items)
