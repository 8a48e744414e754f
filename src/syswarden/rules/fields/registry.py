"""The field registry: every field syswarden knows, by name, filled from one module per field class.

``lookup(name, arg)`` resolves what a condition or output wrote (``proc.aname`` with ``2``, or
``evt.arg.flags`` with no bracket argument, which means ``evt.arg`` with ``flags``) to a bound ``FieldDef``.
An unknown name raises ``UnknownFieldError`` with the closest known names, as "did you mean" help.
"""
from __future__ import annotations

from syswarden.errors import RuleLoadError, did_you_mean
from syswarden.rules.fields import container, evt, fd, group, proc, thread, user
from syswarden.rules.fields.model import ArgKind, FieldDef, FieldSpec

#: Field classes in the order ``all_fields`` and the docs list them.
FIELD_CLASSES = (evt, proc, thread, user, group, fd, container)

#: Fields whose argument may also be written after a dot: ``evt.arg.flags`` = ``evt.arg[flags]``.
_DOTTED_ARG = ("evt.arg", "evt.rawarg")


class UnknownFieldError(RuleLoadError):
    """A condition or output names a field that does not exist (Falco: "nonexistent field")."""

    code = "unknown-field"


class FieldArgumentError(RuleLoadError):
    """A field was given an argument it does not take, or none when it needs one."""

    code = "field-argument"


def _build() -> dict[str, FieldSpec]:
    registry: dict[str, FieldSpec] = {}
    for module in FIELD_CLASSES:
        for spec in module.FIELDS:
            if spec.name in registry:
                raise ValueError(f"field {spec.name!r} is registered twice")
            registry[spec.name] = spec
    return registry


REGISTRY: dict[str, FieldSpec] = _build()


def lookup(name: str, arg: str | None = None) -> FieldDef:
    """The field ``name`` bound to ``arg``.

    Raises:
        UnknownFieldError: no such field (the message suggests the closest names).
        FieldArgumentError: the argument does not fit the field.
    """
    spec = REGISTRY.get(name)
    if spec is None:
        for base in _DOTTED_ARG:
            if name.startswith(base + ".") and arg is None:
                spec, arg = REGISTRY[base], name[len(base) + 1:]
                break
    if spec is None:
        raise UnknownFieldError(unknown_field_message(name))
    try:
        return spec.bind(arg)
    except ValueError as exc:
        raise FieldArgumentError(str(exc)) from exc


def unknown_field_message(name: str) -> str:
    """Falco's "nonexistent field" message plus the closest known names."""
    hint = did_you_mean(name, REGISTRY)
    return f"unknown field '{name}' (filter_check called with nonexistent field {name}){hint}"


def all_fields() -> list[FieldDef]:
    """Every field, unbound, in field-class order (fields needing an argument are listed without one)."""
    out = []
    for module in FIELD_CLASSES:
        for spec in module.FIELDS:
            out.append(FieldDef(spec, None, spec.make("0") if spec.arg in _NEEDS_ARG else spec.make(None)))
    return out


_NEEDS_ARG = (ArgKind.KEY_REQUIRED, ArgKind.INDEX_REQUIRED)
