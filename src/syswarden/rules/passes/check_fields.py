"""Pass: resolve every field of a condition in the registry and check its argument.

Unknown names fail here with the closest known names ("did you mean 'proc.name'?"), at the span of the field
in the rules file. Operator/type checks happen in the compiler, where the constants are parsed.
"""
from __future__ import annotations

from syswarden.errors import RuleLoadError
from syswarden.rules.fields import registry
from syswarden.rules.fields.model import FieldDef
from syswarden.rules.filter import ast


def check_fields(expr: ast.Expr) -> dict[ast.FieldRef, FieldDef]:
    """Every field reference of ``expr`` resolved to its ``FieldDef`` (keys compare by name and argument).

    Raises:
        UnknownFieldError / FieldArgumentError: with the field's span.
    """
    resolved: dict[ast.FieldRef, FieldDef] = {}
    for ref in ast.field_refs(expr):
        if ref not in resolved:
            resolved[ref] = resolve_field(ref)
    return resolved


def resolve_field(ref: ast.FieldRef) -> FieldDef:
    """One field reference; registry errors get the reference's span."""
    try:
        return registry.lookup(ref.name, ref.arg)
    except RuleLoadError as exc:
        exc.span = ref.span
        raise
