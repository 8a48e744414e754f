"""One check of a rule condition, as the kernel can see it: TRUE, FALSE, or a box constraining one dimension.

``literal(check, negated, ctx)`` answers for the check (or its negation, ``not`` having been pushed down) on one
event type. It is sound: whenever the literal holds on an event of that type as state and the fields see it, the
event's ``KernelView`` passes the answer. It is exact where the field is a function of what the probe knows, and
the answers on small domains are computed with the engine's own matchers (``compare.constant_matcher``) on every
value the field can take, so they mean exactly what the engine means:

* the return sign (``evt.res``, ``evt.rawres``, ``evt.failed``, ``fd.num`` of the open family);
* open flags (``evt.is_open_read``/``write``, ``evt.arg.flags``): the satisfying flag values of Falco's file
  flag table, as a box hull (access modes, bits all set);
* ``fd.typechar``/``fd.type`` of the fd an open creates (``d`` iff ``O_DIRECTORY``, as state decides);
* the path parameter (``fd.name``, ``fd.nameraw``, ``fd.directory``, ``fd.filename`` of the open family, or
  ``evt.arg.<param>``): exact names, prefixes, suffixes, directories; ``contains '../'`` as a raw feature;
* ``proc.name`` equality and membership, and their negations (``comm_in``/``comm_not_in``).

Everything else (transformers, ``contains``, ``regex``, ``proc.cmdline``, ancestors, containers ...) is TRUE,
negated or not. Rules reading ``evt.dir`` are also judged on enter views (rules/passes/enter_dialect.py): for
them the return-value and open-mode fields, which differ there, are TRUE too.
"""
from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from syswarden.errors import SyswardenError
from syswarden.events import types
from syswarden.events.event import FdType
from syswarden.events.prefilter import OPEN_FD_TYPES, OPEN_FLAG_TYPES, O_ACCMODE, Box, RetSign
from syswarden.rules.codegen import rhs_texts
from syswarden.rules.fields import compare, params
from syswarden.rules.fields.model import FieldType
from syswarden.rules.filter import ast
from syswarden.rules.prefilter.paths import NAME_SET_OPS, Lit, directory_literal, filename_literal, path_literal


_PATH_FIELDS = frozenset({"fd.name", "fd.nameraw"})
_IP_FIELDS = frozenset({"fd.cip", "fd.sip", "fd.lip", "fd.rip", "fd.cport", "fd.sport", "fd.lport", "fd.rport",
                        "fd.ip", "fd.port", "fd.net", "fd.cnet", "fd.snet", "fd.lnet", "fd.rnet"})
_NEG_CLASSES = (-1, -2, -4095, -(2 ** 62))
_POS_CLASSES = (0, 1, 2, 2 ** 62)


@dataclass(frozen=True, slots=True)
class TypeContext:
    """The event type a condition is weakened for, and what the kernel reads on it.

    ``path_param`` is the parameter path tests are about (``name`` for the open family); ``path_fs`` says it
    is a filesystem path state resolves. ``enter_aware``: the rule also runs on enter views. ``fd_unknown``: judge
    the literal on an event whose fd user space does not know (every ``fd.*`` field but ``fd.num`` is <NA>).
    ``fd_kinds``: also map ``fd.typechar``/``fd.type`` of the fd a non-open event uses (user-space semantics;
    for the state-need analysis only, never for the kernel's boxes).
    """

    event_type: str
    path_param: str | None = None
    path_fs: bool = True
    enter_aware: bool = False
    fd_unknown: bool = False
    fd_kinds: bool = False


def literal(check: ast.Check, negated: bool, ctx: TypeContext) -> Lit:
    """The kernel's view of ``check`` (``not check`` when ``negated``) on events of ``ctx.event_type``."""
    name, arg = field_of(check)
    if name is None or check.op == "exists" or isinstance(check.rhs, ast.Transform):
        return True
    try:
        values = rhs_texts(check)
        matcher = compare.constant_matcher(check.op, _field_type(name, arg), values, check.modifier)
    except (compare.CheckError, SyswardenError, LookupError, ValueError, TypeError):
        return True               # whatever the analysis cannot read passes (the engine compiled the rule)
    t = ctx.event_type
    if ctx.fd_unknown and name.startswith("fd.") and name != "fd.num":
        return negated            # <NA>: the check is false, its negation true
    if name == "evt.type":
        return matcher(t) != negated
    if name == "proc.name":
        return _comm(check, values, negated)
    if not ctx.enter_aware:
        sign = _ret_literal(name, t, values, matcher, negated)
        if sign is not None:
            return sign
        if name in ("evt.is_open_read", "evt.is_open_write"):
            return _open_mode(name, t, matcher, negated)
        if name == "evt.is_open_exec":
            return _open_exec(t, matcher, negated)
    if name == "evt.arg" and arg == "flags" and t in OPEN_FLAG_TYPES:
        return _flag_hull(matcher, negated)
    if name in ("fd.typechar", "fd.type") and (t in OPEN_FD_TYPES or ctx.fd_kinds):
        return _typechars(name, t, matcher, negated)
    if negated:
        return True               # a path test is a union of positive tests: its complement cannot be said
    if ctx.fd_kinds and name in _IP_FIELDS:
        return Box(typechars=frozenset({"4", "6"}))   # <NA> but for an IPv4/IPv6 socket
    if t in OPEN_FD_TYPES and ctx.path_param == "name" and name in ("fd.directory", "fd.filename"):
        return directory_literal(check, values) if name == "fd.directory" else filename_literal(check, values)
    if (t in OPEN_FD_TYPES and ctx.path_param == "name" and name in _PATH_FIELDS) or \
            (name in ("evt.arg", "evt.rawarg") and arg is not None and arg == ctx.path_param):
        return path_literal(check, values)
    return True


def field_of(check: ast.Check) -> tuple[str | None, str | None]:
    """(field, argument) of a check's left side, ``evt.arg.flags`` as (``evt.arg``, ``flags``); (None, None)
    behind a transformer."""
    lhs = check.lhs
    if not isinstance(lhs, ast.FieldRef):
        return None, None
    for base in ("evt.arg", "evt.rawarg"):
        if lhs.arg is None and lhs.name.startswith(base + "."):
            return base, lhs.name[len(base) + 1:]
    return lhs.name, lhs.arg


@functools.lru_cache(maxsize=512)
def _field_type(name: str, arg: str | None) -> FieldType:
    from syswarden.rules.fields import registry

    return registry.lookup(name, arg).type


def _allowed(samples: Mapping[Any, tuple[Any, ...]], matcher: compare.Matcher, negated: bool) -> frozenset[Any]:
    """The classes with a sample value on which the literal holds."""
    return frozenset(cls for cls, values in samples.items() if any(matcher(v) != negated for v in values))


# -- the return sign -------------------------------------------------------------------------------------------
def _ret_literal(name: str, t: str, values: list[str], matcher: compare.Matcher, negated: bool) -> Lit | None:
    samples: Mapping[RetSign, tuple[object, ...]]
    if name == "evt.rawres":
        samples = _number_samples(values)
    elif name == "evt.res":
        samples = {RetSign.OK: ("SUCCESS",), RetSign.ERR: _error_texts()}
    elif name == "evt.failed":
        samples = {RetSign.OK: (False,), RetSign.ERR: (True,)}
    elif name == "fd.num" and t in OPEN_FD_TYPES:
        samples = {RetSign.OK: _number_samples(values)[RetSign.OK], RetSign.ERR: (-1,)}
    else:
        return None
    allowed = _allowed(samples, matcher, negated)
    if len(allowed) == 2:
        return True
    return Box(ret=next(iter(allowed))) if allowed else False


def _number_samples(values: list[str]) -> dict[RetSign, tuple[int, ...]]:
    """Values standing for every behaviour an integer check can have: the constants it names, their neighbours
    and both extremes, on each side of zero."""
    consts = []
    for value in values:
        try:
            consts.append(compare.parse_constant(FieldType.INT64, value, "="))
        except compare.CheckError:
            pass
    near = {n for c in consts for n in (c - 1, c, c + 1)}
    return {RetSign.OK: tuple(sorted({*_POS_CLASSES, *(n for n in near if n >= 0)})),
            RetSign.ERR: tuple(sorted({*_NEG_CLASSES, *(n for n in near if n < 0)}))}


@functools.lru_cache(maxsize=1)
def _error_texts() -> tuple[str, ...]:
    """``evt.res`` of every failed call: the errno name, or the number when it has none."""
    return tuple(params.errno_name(-n) or str(-n) for n in range(1, 4096))


# -- open flags --------------------------------------------------------------------------------------------------
def _open_mode(name: str, t: str, matcher: compare.Matcher, negated: bool) -> Lit:
    if t not in OPEN_FLAG_TYPES:
        return matcher(False) != negated            # not an open: the field is false
    test = types.is_open_read if name == "evt.is_open_read" else types.is_open_write
    allowed = _allowed({mode: (test(mode),) for mode in range(4)}, matcher, negated)
    if len(allowed) == 4:
        return True
    return Box(accmodes=allowed) if allowed else False


def _open_exec(t: str, matcher: compare.Matcher, negated: bool) -> Lit:
    """``evt.is_open_exec``: true only when the open creates a file (``O_CREAT``, or ``O_TMPFILE``'s bits)."""
    if t not in OPEN_FLAG_TYPES or matcher(False) != negated:
        return matcher(False) != negated
    if matcher(True) == negated:
        return False
    return (Box(flags_all=types.O_CREAT), Box(flags_all=types.O_TMPFILE))


def _flag_hull(matcher: compare.Matcher, negated: bool) -> Lit:
    """``evt.arg.flags`` (Falco's text of the flags): the box hull of the flag values on which the literal
    holds, over every combination of the bits Falco's table names (other bits do not change the text)."""
    accmodes: set[int] = set()
    common = -1
    for value, text in _flag_texts():
        if matcher(text) != negated:
            accmodes.add(value & O_ACCMODE)
            common &= value & ~O_ACCMODE
    if not accmodes:
        return False
    box = Box(accmodes=frozenset(accmodes) if len(accmodes) < 4 else None, flags_all=max(common, 0))
    return box if box.constrained() else True


@functools.lru_cache(maxsize=1)
def _flag_texts() -> tuple[tuple[int, str], ...]:
    table = types.flag_table("file_flags")
    bits = sorted({bit for e in table.entries if e.linux for bit in _bits(e.linux) if bit > O_ACCMODE})
    out = []
    for combo in range(1 << len(bits)):
        rest = sum(bit for k, bit in enumerate(bits) if combo >> k & 1)
        for mode in range(4):
            out.append((rest | mode, table.render(rest | mode)))
    return tuple(out)


def _bits(value: int) -> list[int]:
    return [1 << k for k in range(value.bit_length()) if value >> k & 1]


def _typechars(name: str, t: str, matcher: compare.Matcher, negated: bool) -> Lit:
    kinds = ("f",) if t == "creat" else ("f", "d") if t in OPEN_FD_TYPES else tuple(k.value for k in _FD_TYPES)
    samples = {k: (k if name == "fd.typechar" else _FD_NAMES[k],) for k in kinds}
    allowed = _allowed(samples, matcher, negated)
    if len(allowed) == len(kinds):
        return True
    return Box(typechars=allowed) if allowed else False


_FD_TYPES = tuple(FdType)
_FD_NAMES = {k.value: k.falco_name for k in FdType}


# -- proc.name -----------------------------------------------------------------------------------------------
def _comm(check: ast.Check, values: list[str], negated: bool) -> Lit:
    if check.modifier is not None:
        return True
    if check.op in NAME_SET_OPS:
        names = frozenset(values)
        return Box(comm_not_in=names) if negated else Box(comm_in=names)
    if check.op == "!=":
        names = frozenset(values)
        return Box(comm_in=names) if negated else Box(comm_not_in=names)
    return True


__all__ = ["Lit", "TypeContext", "literal", "field_of"]
