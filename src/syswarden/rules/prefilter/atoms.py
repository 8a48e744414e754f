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
from dataclasses import dataclass
from typing import Any, Union

from syswarden.events import types
from syswarden.events.event import FdType
from syswarden.events.prefilter import (MAX_PREFIX_BYTES, MAX_SUFFIX_BYTES, OPEN_FD_TYPES, OPEN_FLAG_TYPES,
                                         O_ACCMODE, Box, PathTest, RawFeature, RetSign)
from syswarden.rules.codegen import rhs_texts
from syswarden.rules.fields import compare, params
from syswarden.rules.fields.model import FieldType
from syswarden.rules.filter import ast

Lit = Union[bool, Box, tuple[Box, ...]]
"""What a literal weakens to: True (the kernel cannot tell: pass), False (never holds on this type), a box, or
a union of boxes."""

_PATH_FIELDS = frozenset({"fd.name", "fd.nameraw"})
_IP_FIELDS = frozenset({"fd.cip", "fd.sip", "fd.lip", "fd.rip", "fd.cport", "fd.sport", "fd.lport", "fd.rport",
                        "fd.ip", "fd.port", "fd.net", "fd.cnet", "fd.snet", "fd.lnet", "fd.rnet"})
_NAME_SET_OPS = frozenset({"=", "==", "in", "intersects"})
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
    except (compare.CheckError, LookupError, ValueError):
        return True
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
        return _directory(check, values) if name == "fd.directory" else _filename(check, values)
    if (t in OPEN_FD_TYPES and ctx.path_param == "name" and name in _PATH_FIELDS) or \
            (name in ("evt.arg", "evt.rawarg") and arg is not None and arg == ctx.path_param):
        return _path(check, values)
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


def _allowed(samples: dict[Any, tuple[Any, ...]], matcher: compare.Matcher, negated: bool) -> frozenset[Any]:
    """The classes with a sample value on which the literal holds."""
    return frozenset(cls for cls, values in samples.items() if any(matcher(v) != negated for v in values))


# -- the return sign -------------------------------------------------------------------------------------------
def _ret_literal(name: str, t: str, values: list[str], matcher: compare.Matcher, negated: bool) -> Lit | None:
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
    if check.op in _NAME_SET_OPS:
        names = frozenset(values)
        return Box(comm_not_in=names) if negated else Box(comm_in=names)
    if check.op == "!=":
        names = frozenset(values)
        return Box(comm_in=names) if negated else Box(comm_not_in=names)
    return True


# -- paths -----------------------------------------------------------------------------------------------------
def _path(check: ast.Check, values: list[str]) -> Lit:
    op = check.op
    if op in ("contains", "icontains") and all("../" in v for v in values):
        return Box(raw_features=RawFeature.DOTDOT_SLASH)
    if op == "glob" and all(any("../" in run for run in glob_runs(v)) for v in values):
        return Box(raw_features=RawFeature.DOTDOT_SLASH)
    if op in _NAME_SET_OPS and check.modifier is None:
        return Box(path=PathTest(exact=frozenset(values)))
    tests = [_one_path(op, v) for v in values]
    if any(t is None for t in tests):
        return True
    merged = PathTest()
    for test in tests:
        assert test is not None
        merged = merged.union(test)
    return Box(path=merged) if merged.entries() else False


def _one_path(op: str, value: str) -> PathTest | None:
    if op in ("=", "=="):
        return PathTest(exact=frozenset({value}))
    if op == "startswith":
        return _prefix(value)
    if op == "endswith":
        return _suffix(value)
    if op == "glob":
        head, literal_only = glob_prefix(value)
        return PathTest(exact=frozenset({head})) if literal_only else _prefix(head)
    if op == "pmatch":
        return _pmatch(value)
    return None


def _prefix(value: str) -> PathTest | None:
    value = _shorten(value, MAX_PREFIX_BYTES, keep_end=False)
    return PathTest(prefixes=frozenset({value})) if value else None


def _suffix(value: str) -> PathTest | None:
    value = _shorten(value, MAX_SUFFIX_BYTES, keep_end=True)
    return PathTest(suffixes=frozenset({value})) if value else None


def _shorten(value: str, limit: int, *, keep_end: bool) -> str:
    """The longest start (or end) of ``value`` within ``limit`` bytes, cut between characters: a shorter
    prefix or suffix accepts more, so the cut is sound."""
    while len(value.encode("utf-8", "surrogateescape")) > limit:
        value = value[1:] if keep_end else value[:-1]
    return value


def _pmatch(value: str) -> PathTest | None:
    """``pmatch`` on a normal absolute path: the search path itself or anything below it, up to the first
    component with glob characters."""
    comps = [c for c in value.split("/") if c]
    literal = []
    for comp in comps:
        if any(ch in comp for ch in "*?["):
            break
        literal.append(comp)
    if not literal:
        return None
    base = "/" + "/".join(literal)
    below = _prefix(base + "/")
    if len(literal) < len(comps) or below is None:
        return below
    return below.union(PathTest(exact=frozenset({base})))


def _directory(check: ast.Check, values: list[str]) -> Lit:
    """``fd.directory`` of the open's path: names as directory entries; a directory prefix, ``pmatch`` or a glob's
    literal start is a prefix of the path itself."""
    if check.op in _NAME_SET_OPS and check.modifier is None:
        return Box(path=PathTest(dirs=frozenset(values)))
    tests: list[PathTest | None] = []
    for value in values:
        if check.op in ("=", "=="):
            tests.append(PathTest(dirs=frozenset({value})))
        elif check.op == "startswith":
            tests.append(_prefix(value))
        elif check.op == "pmatch":
            tests.append(_pmatch(value))
        elif check.op == "glob":
            head, literal_only = glob_prefix(value)
            tests.append(PathTest(dirs=frozenset({head})) if literal_only else _prefix(head))
        else:
            return True
    return _union_box(tests)


def _filename(check: ast.Check, values: list[str]) -> Lit:
    """``fd.filename``: the path ends with ``/name``; it exists only for a successful open."""
    tests: list[PathTest | None] = []
    if check.op in _NAME_SET_OPS or check.op in ("=", "=="):
        names = [v for v in values if "/" not in v]
        if not names:
            return False
        tests.append(PathTest(suffixes=frozenset(_shorten("/" + v, MAX_SUFFIX_BYTES, keep_end=True)
                                                 for v in names)))
    elif check.op == "endswith":
        tests += [_suffix(v) for v in values]
    elif check.op == "glob":
        for value in values:
            head, literal_only = glob_prefix(value)
            tail = glob_runs(value)[-1] if _ends_literal(value) else ""
            tests.append(_suffix("/" + head) if literal_only else _suffix(tail))
    else:
        return True
    box = _union_box(tests)
    return box if isinstance(box, bool) else Box(ret=RetSign.OK, path=box.path)


def _union_box(tests: list[PathTest | None]) -> Lit:
    if not tests or any(t is None for t in tests):
        return True
    merged = PathTest()
    for test in tests:
        assert test is not None
        merged = merged.union(test)
    return Box(path=merged)


def glob_prefix(pattern: str) -> tuple[str, bool]:
    """(the literal start of a glob pattern, whether the whole pattern is literal); backslash escapes resolved."""
    runs = _glob_tokens(pattern)
    head = runs[0] if runs and isinstance(runs[0], str) else ""
    return head, len(runs) <= 1 and (not runs or isinstance(runs[0], str))


def glob_runs(pattern: str) -> list[str]:
    """The literal runs between a glob pattern's wildcards and classes."""
    return [r for r in _glob_tokens(pattern) if isinstance(r, str)] or [""]


def _ends_literal(pattern: str) -> bool:
    tokens = _glob_tokens(pattern)
    return bool(tokens) and isinstance(tokens[-1], str)


def _glob_tokens(pattern: str) -> list[str | None]:
    """Literal runs (str) and wildcards (None); ``[`` always counts as a wildcard (even unclosed: a shorter
    literal run only widens)."""
    out: list[str | None] = []
    run: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= len(pattern):
                run, i = [], i + 1
                out.append(None)          # a lone trailing backslash: treat as a wildcard (matches nothing)
                continue
            run.append(pattern[i + 1])
            i += 2
            continue
        if ch in "*?[":
            if run:
                out.append("".join(run))
                run = []
            out.append(None)
        else:
            run.append(ch)
        i += 1
    if run:
        out.append("".join(run))
    return out


__all__ = ["Lit", "TypeContext", "literal", "field_of", "glob_prefix", "glob_runs"]
