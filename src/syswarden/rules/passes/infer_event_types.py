"""Pass: the set of event types a condition can match (Falco's ``ppm_codes.cpp`` inference).

``and`` intersects, ``or`` unites; ``evt.type = X`` / ``in (...)`` give explicit sets and ``!=`` their
complement; every other check allows every type. ``not`` is pushed down with De Morgan's laws, so
``not evt.type = open`` is every type but ``open`` while ``not proc.name = sh`` stays every type. A check that
can never be true (``evt.num = 0``, Falco's ``never_true`` idiom) gives the empty set. ``None`` means every
event type, which is what the rules index needs to know to put a rule in every bucket.
"""
from __future__ import annotations

from syswarden.errors import did_you_mean
from syswarden.events import types
from syswarden.rules.filter import ast
from syswarden.rules.passes.errors import InvalidCheckError

#: Every event type name syswarden knows (the universe complements are taken in).
UNIVERSE: frozenset[str] = frozenset(name for name, _dir in types.EVENTS)

_ALL = None
EventTypes = frozenset[str] | None


def known_event_types() -> frozenset[str]:
    """Names ``evt.type`` may be compared with: Falco's event names plus every syscall name (Falco accepts
    syscalls that only have generic events, such as ``madvise``)."""
    if not _KNOWN:
        from syswarden.syscalls.tables import all_names

        _KNOWN.append(UNIVERSE | all_names())
    return _KNOWN[0]


_KNOWN: list[frozenset[str]] = []


def infer_event_types(expr: ast.Expr) -> EventTypes:
    """The event types ``expr`` may match, or None for all of them (macros must already be resolved).

    Raises:
        InvalidCheckError: ``evt.type`` compared with a name that is no event or syscall ("unknown event
            type X", Falco's message), at the value's span.
    """
    result = _infer(expr, False)
    if result is not None and UNIVERSE <= result:
        return None
    return result


def _infer(node: ast.Expr, inverted: bool) -> EventTypes:
    if isinstance(node, ast.Not):
        return _infer(node.child, not inverted)
    if isinstance(node, (ast.And, ast.Or)):
        sets = [_infer(c, inverted) for c in node.children]
        intersect = isinstance(node, ast.And) != inverted
        return _intersect(sets) if intersect else _union(sets)
    if isinstance(node, ast.Check):
        return _check(node, inverted)
    return _ALL


def _check(node: ast.Check, inverted: bool) -> EventTypes:
    if not isinstance(node.lhs, ast.FieldRef) or node.lhs.arg is not None or node.modifier:
        return _ALL
    if node.lhs.name == "evt.num" and node.op in ("=", "==") and isinstance(node.rhs, ast.Value):
        if node.rhs.text == "0":
            return _ALL if inverted else frozenset()
    if node.lhs.name != "evt.type":
        return _ALL
    names = _names(node.rhs)
    if names is None:
        return _ALL
    _check_known(node.rhs)
    negate = (node.op == "!=") != inverted
    if node.op not in ("=", "==", "!=", "in", "intersects"):
        return _ALL
    return (UNIVERSE | names) - names if negate else names


def _check_known(rhs: ast.Rhs | None) -> None:
    values = [rhs] if isinstance(rhs, ast.Value) else list(rhs.items) if isinstance(rhs, ast.ListValue) else []
    known = known_event_types()
    for value in values:
        if value.text not in known:
            raise InvalidCheckError(f"unknown event type {value.text}{did_you_mean(value.text, known)}",
                                    span=value.span)


def _names(rhs: ast.Rhs | None) -> frozenset[str] | None:
    if isinstance(rhs, ast.Value):
        return frozenset({rhs.text})
    if isinstance(rhs, ast.ListValue):
        return frozenset(v.text for v in rhs.items)
    return None


def _intersect(sets: list[EventTypes]) -> EventTypes:
    known = [s for s in sets if s is not None]
    if not known:
        return _ALL
    out = known[0]
    for s in known[1:]:
        out = out & s
    return out


def _union(sets: list[EventTypes]) -> EventTypes:
    if any(s is None for s in sets):
        return _ALL
    out: frozenset[str] = frozenset()
    for s in sets:
        assert s is not None
        out = out | s
    return out
