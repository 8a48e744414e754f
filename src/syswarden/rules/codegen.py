"""Source-generating backend of the condition compiler: one checked AST -> one Python function.

The closure backend (``compiler._ClosureBuilder``) costs a few Python calls per check (the check, the accessor, the
field's function, the matcher). Here the whole condition becomes a single ``def pred(e): return ...``
expression: hot fields are inlined from their ``FieldSpec.inline`` template (``e.type``, the thread's
``comm`` ...), the common operators are written as Python operators against constants bound in the function's
globals, and anything else (transformers, ``val()``, IP networks, regexes) calls the closure the other
backend would have used. Semantics are identical by construction: a missing value fails every check except
``exists``, and each generated test is equivalent to its matcher (tests compare both backends).

If Python refuses the generated source (nesting too deep for its parser), the caller falls back to closures.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from syswarden.events.event import Event
from syswarden.rules.fields import compare
from syswarden.rules.fields.model import FieldDef, FieldType
from syswarden.rules.filter import ast

Predicate = Callable[[Event], bool]
#: Builds the closure predicate of one check (used for checks this backend does not inline).
CheckFallback = Callable[[ast.Check], Predicate]
#: Builds the accessor of an operand (field or transformer chain): (accessor, type, multi-valued).
OperandFactory = Callable[[ast.Operand], "tuple[Callable[[Event], Any], FieldType, bool]"]

_INLINE_TYPES = frozenset({FieldType.CHARBUF, FieldType.FSPATH, FieldType.INT64, FieldType.INT32,
                           FieldType.INT16, FieldType.UINT64, FieldType.UINT32, FieldType.PORT,
                           FieldType.RELTIME, FieldType.ABSTIME, FieldType.BOOL})
_PY_OPS = {"=": "==", "==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


class SourceBuilder:
    """Collects constants and helpers while writing the expression for one condition."""

    def __init__(self, fields: Mapping[ast.FieldRef, FieldDef], operand: OperandFactory,
                 fallback: CheckFallback) -> None:
        self._fields = fields
        self._operand = operand
        self._fallback = fallback
        self.namespace: dict[str, Any] = {"__builtins__": {"any": any, "all": all, "len": len, "int": int}}

    def _bind(self, prefix: str, value: Any) -> str:
        name = f"{prefix}{len(self.namespace)}"
        self.namespace[name] = value
        return name

    def build(self, expr: ast.Expr) -> Predicate:
        """Compile ``expr`` to a function; raises SyntaxError/RecursionError/MemoryError when Python cannot."""
        source = f"def pred(e):\n    return {self.expr(expr)}\n"
        code = compile(source, "<condition>", "exec")
        exec(code, self.namespace)  # noqa: S102 -- our own generated source, from a checked AST
        pred: Predicate = self.namespace["pred"]
        return pred

    def expr(self, node: ast.Expr) -> str:
        if isinstance(node, ast.And):
            return "(" + " and ".join(self.expr(c) for c in node.children) + ")"
        if isinstance(node, ast.Or):
            return "(" + " or ".join(self.expr(c) for c in node.children) + ")"
        if isinstance(node, ast.Not):
            child, negate = _strip_nots(node)
            return f"(not {self.expr(child)})" if negate else self.expr(child)
        if isinstance(node, ast.Check):
            return self.check(node)
        raise ValueError(f"unresolved macro '{node.name}'")

    def check(self, node: ast.Check) -> str:
        if isinstance(node.rhs, ast.Transform) or not isinstance(node.lhs, ast.FieldRef):
            return f"{self._bind('P', self._fallback(node))}(e)"
        fdef = self._fields[node.lhs]
        value = self._value(fdef)
        if node.op == "exists":
            return f"({value} is not None)"
        test = self._test(node, fdef)
        if test is None:
            return f"{self._bind('P', self._fallback(node))}(e)"
        if fdef.is_multi:
            matcher = self._bind("M", _matcher(node, fdef.type))
            return f"((v := {value}) is not None and any({matcher}(x) for x in v))"
        return f"((v := {value}) is not None and {test})"

    def _value(self, fdef: FieldDef) -> str:
        template = fdef.spec.inline
        if fdef.arg is None and template is not None:
            # ``@X`` in a template is the field's own extractor: the template's slow path
            return template.replace("@X", self._bind("A", fdef.extract)) if "@X" in template else template
        return f"{self._bind('A', fdef.extract)}(e)"

    def _test(self, node: ast.Check, fdef: FieldDef) -> str | None:
        """The Python test of ``v`` for this check, or None to use the closure."""
        ftype = fdef.type
        matcher = _matcher(node, ftype)       # validates the check (type errors raise here)
        if node.modifier is not None or ftype not in _INLINE_TYPES or fdef.is_multi:
            return f"{self._bind('M', matcher)}(v)"
        values = rhs_texts(node)
        op = node.op
        if op in ("in", "intersects"):
            consts = frozenset(compare.parse_constant(ftype, t, op) for t in values)
            return f"v in {self._bind('K', consts)}"
        const = compare.parse_constant(ftype, values[0], op)
        if op in _PY_OPS:
            return f"v {_PY_OPS[op]} {self._bind('K', const)}"
        if not ftype.is_string:
            return f"{self._bind('M', matcher)}(v)"
        if op == "contains":
            return f"{self._bind('K', const)} in v"
        if op == "icontains":
            return f"{self._bind('K', const.lower())} in v.lower()"
        if op in ("startswith", "endswith"):
            return f"v.{op}({self._bind('K', const)})"
        return f"{self._bind('M', matcher)}(v)"


def _strip_nots(node: ast.Not) -> tuple[ast.Expr, bool]:
    negate = False
    current: ast.Expr = node
    while isinstance(current, ast.Not):
        negate, current = not negate, current.child
    return current, negate


def rhs_texts(node: ast.Check) -> list[str]:
    """The constant texts on a check's right-hand side (one value or a list), for building a matcher."""
    rhs = node.rhs
    if isinstance(rhs, ast.ListValue):
        return [v.text for v in rhs.items]
    if isinstance(rhs, ast.Value):
        return [rhs.text]
    raise compare.CheckError(f"operator '{node.op}' needs a value")


def _matcher(node: ast.Check, ftype: FieldType) -> compare.Matcher:
    return compare.constant_matcher(node.op, ftype, rhs_texts(node), node.modifier)
