"""The filter-language AST: what a Falco condition means, before any field or macro is resolved.

The parser builds these nodes; the printer turns them back into canonical text; the passes in
``rules/passes`` rewrite them (macros, lists) and the compiler turns them into predicates. Nodes are frozen,
so a pass returns new nodes. Every node carries the ``Span`` of its first character, but spans never take
part in equality: two conditions that say the same thing compare equal wherever they were written.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from syswarden.spans import Span

NO_SPAN = Span("<condition>", 0, 0)

#: Comparison operators taking one right-hand value, in the order the parser tries them.
NUM_OPS: tuple[str, ...] = ("<=", "<", ">=", ">")
STR_OPS: tuple[str, ...] = (
    "==", "=", "!=", "glob", "iglob", "contains", "icontains", "bcontains",
    "startswith", "bstartswith", "endswith", "regex",
)
LIST_OPS: tuple[str, ...] = ("intersects", "in", "pmatch")
UNARY_OPS: tuple[str, ...] = ("exists",)
#: Modifiers that turn a string operator into a list operator (Falco 0.44: ``startswith oneof (a, b)``).
MODIFIERS: tuple[str, ...] = ("oneof", "anyof", "allof")
MODIFIABLE_OPS: frozenset[str] = frozenset(
    ("=", "==", "!=", "contains", "icontains", "bcontains", "startswith", "bstartswith",
     "endswith", "glob", "iglob", "regex")
)
#: Field transformers usable on either side; ``val`` only on the right-hand side.
TRANSFORMERS: tuple[str, ...] = ("tolower", "toupper", "b64", "basename", "len")
VAL = "val"


@dataclass(frozen=True, slots=True)
class FieldRef:
    """A field, with its optional argument: ``proc.aname[2]``, ``evt.arg.flags``, ``fd.name``."""

    name: str
    arg: str | None = None
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Transform:
    """A transformer applied to a field (or another transformer): ``tolower(proc.name)``, ``val(fd.name)``."""

    name: str
    operand: Operand
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


Operand = Union[FieldRef, Transform]


@dataclass(frozen=True, slots=True)
class Value:
    """A literal: a number, bare string or quoted string (``quoted`` keeps list-name lookup honest)."""

    text: str
    quoted: bool = False
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class ListValue:
    """A parenthesized list literal ``(a, "b c", 'd')``; items may name lists until ``expand_lists`` runs."""

    items: tuple[Value, ...]
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class ListRef:
    """A bare list name after a list operator: ``proc.name in shell_binaries``."""

    name: str
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


Rhs = Union[Value, ListValue, ListRef, Transform]


@dataclass(frozen=True, slots=True)
class Check:
    """``lhs op rhs`` (``rhs`` is None for ``exists``); ``modifier`` is ``oneof``/``anyof``/``allof`` or None."""

    lhs: Operand
    op: str
    rhs: Rhs | None = None
    modifier: str | None = None
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class MacroRef:
    """A bare identifier in a boolean position: a reference to a macro."""

    name: str
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Not:
    """``not child``."""

    child: Expr
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class And:
    """``a and b and ...`` (two or more children, flattened only where the text had no parentheses)."""

    children: tuple[Expr, ...]
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Or:
    """``a or b or ...``."""

    children: tuple[Expr, ...]
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


Expr = Union[And, Or, Not, Check, MacroRef]


def field_refs(node: object) -> list[FieldRef]:
    """Every field reference below ``node`` (both sides of checks, inside transformers), in text order."""
    out: list[FieldRef] = []
    _collect_fields(node, out)
    return out


def _collect_fields(node: object, out: list[FieldRef]) -> None:
    if isinstance(node, FieldRef):
        out.append(node)
    elif isinstance(node, Transform):
        _collect_fields(node.operand, out)
    elif isinstance(node, Check):
        _collect_fields(node.lhs, out)
        _collect_fields(node.rhs, out)
    elif isinstance(node, Not):
        _collect_fields(node.child, out)
    elif isinstance(node, (And, Or)):
        for child in node.children:
            _collect_fields(child, out)
