"""Comparison operators by field type: Falco's ``filter_compare.cpp`` semantics as Python closures.

``constant_matcher`` decides everything at compile time (constants parsed to the field's type, sets built,
regexes and globs compiled) and returns ``value -> bool``; ``dynamic_matcher`` is for ``val(field)`` on the
right, ``(value, rhs) -> bool``. Semantics: strings compare exactly (``icontains``/``iglob`` fold case),
``<``/``>`` on strings compare lexicographically, ``regex`` and ``glob`` run on RE2 in linear time
(``patterns.py``), ``pmatch`` is path-prefix matching, IP fields compare addresses and ``IPNET`` fields test
membership in a CIDR network. Missing values never reach these functions: the compiler makes every check on
``<NA>`` false, ``!=`` included.
"""
from __future__ import annotations

import base64
import functools
import ipaddress
import operator
from collections.abc import Callable, Sequence
from typing import Any

from syswarden.rules.fields.model import FieldType
from syswarden.rules.fields.patterns import CheckError as CheckError  # every operator's error: part of this API
from syswarden.rules.fields.patterns import glob_matcher, regex_matcher

Matcher = Callable[[Any], bool]
DynamicMatcher = Callable[[Any, Any], bool]

_ORDER = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_EQUALITY = {"=": operator.eq, "==": operator.eq, "!=": operator.ne}
_STRING_OPS = frozenset({"=", "==", "!=", "<", "<=", ">", ">=", "contains", "icontains", "bcontains", "startswith",
                         "bstartswith", "endswith", "glob", "iglob", "regex", "in", "intersects", "pmatch"})
_SCALAR_OPS = frozenset({"=", "==", "!=", "<", "<=", ">", ">=", "in", "intersects"})
_EQ_OPS = frozenset({"=", "==", "!=", "in", "intersects"})
_BYTES_OPS = frozenset({"=", "==", "!=", "contains", "bcontains", "startswith", "bstartswith", "endswith"})


def allowed_ops(ftype: FieldType) -> frozenset[str]:
    """The binary operators a field of ``ftype`` supports (``exists`` always works)."""
    if ftype.is_string or ftype is FieldType.DYN:
        return _STRING_OPS
    if ftype.is_numeric:
        return _SCALAR_OPS
    if ftype is FieldType.BYTEBUF:
        return _BYTES_OPS
    return _EQ_OPS


def parse_constant(ftype: FieldType, text: str, op: str) -> Any:
    """``text`` as a value of ``ftype`` (raises CheckError saying what was expected)."""
    if ftype.is_numeric:
        return _parse_number(text)
    if ftype is FieldType.BOOL:
        if text not in ("true", "false"):
            raise CheckError(f"expected 'true' or 'false', got '{text}'")
        return text == "true"
    if ftype in (FieldType.IPADDR, FieldType.IPNET):
        return _parse_ip(ftype, text)
    if ftype is FieldType.BYTEBUF or op in ("bcontains", "bstartswith"):
        return _parse_bytes(text, op)
    return text


def _parse_number(text: str) -> int:
    """A numeric constant as libsinsp reads it (decimal, hex, or a float truncated), within 64 bits."""
    shown = text if len(text) <= 40 else text[:37] + "..."
    try:
        digits = text.lower().lstrip("+-").removeprefix("0x").lstrip("0")
        if text.lower().startswith(("0x", "+0x", "-0x")):
            value = int(text, 16) if len(digits) <= 17 else 1 << 64
        elif any(c in text for c in ".eE"):
            value = int(float(text))
        else:
            value = int(text) if len(digits) <= 21 else 1 << 64
    except OverflowError:
        value = 1 << 64             # float('1e999999') is inf: out of range like any other too-large number
    except ValueError:
        raise CheckError(f"expected a number, got '{shown}'") from None
    if not -(1 << 63) <= value < (1 << 64):
        raise CheckError(f"number {shown} is out of the 64-bit range")
    return value


def _parse_ip(ftype: FieldType, text: str) -> Any:
    try:
        if ftype is FieldType.IPNET or "/" in text:
            return ipaddress.ip_network(text, strict=False)
        return ipaddress.ip_address(text)
    except ValueError:
        kind = "a network such as 10.0.0.0/8" if ftype is FieldType.IPNET else "an IP address"
        raise CheckError(f"expected {kind}, got '{text}'") from None


def _parse_bytes(text: str, op: str) -> bytes:
    if op in ("bcontains", "bstartswith"):
        try:
            return bytes.fromhex(text)
        except ValueError:
            raise CheckError(f"expected an even number of hex digits for '{op}', got '{text}'") from None
    return text.encode("utf-8", "surrogateescape")


def constant_matcher(op: str, ftype: FieldType, values: Sequence[str], modifier: str | None = None) -> Matcher:
    """``value -> bool`` for ``field op constant`` (or ``op`` over a list for list operators and modifiers)."""
    if op not in allowed_ops(ftype):
        raise CheckError(f"operator '{op}' is not supported for fields of type {ftype.value}")
    if ftype is FieldType.DYN:
        return _dynamic_type(op, values, modifier)
    if modifier is not None:
        singles = [constant_matcher(op, ftype, [v]) for v in values]
        if modifier == "allof":
            return lambda v: all(m(v) for m in singles)
        if modifier == "oneof":
            # exactly one of the values matches (libsinsp matches_one_rhs)
            return lambda v: sum(1 for m in singles if m(v)) == 1
        return lambda v: any(m(v) for m in singles)
    if op in ("in", "intersects"):
        return _membership(ftype, values)
    if op == "pmatch":
        return _pmatch(values)
    return _single(op, ftype, parse_constant(ftype, values[0], op))


def _dynamic_type(op: str, values: Sequence[str], modifier: str | None) -> Matcher:
    """evt.rawarg: numbers compare as numbers when the constant is one, anything else as text."""
    as_text = constant_matcher(op, FieldType.CHARBUF, values, modifier)
    try:
        as_number: Matcher | None = constant_matcher(op, FieldType.INT64, values, modifier)
    except CheckError:
        as_number = None

    def match(v: Any) -> bool:
        if isinstance(v, int) and not isinstance(v, bool) and as_number is not None:
            return as_number(v)
        return as_text(v if isinstance(v, str) else _text(v))
    return match


def _text(v: Any) -> str:
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).decode("utf-8", "replace")
    return str(v)


def _membership(ftype: FieldType, values: Sequence[str]) -> Matcher:
    constants = [parse_constant(ftype, v, "in") for v in values]
    if ftype in (FieldType.IPADDR, FieldType.IPNET):
        nets = tuple(c for c in constants if isinstance(c, (ipaddress.IPv4Network, ipaddress.IPv6Network)))
        addrs = frozenset(c for c in constants if not isinstance(c, (ipaddress.IPv4Network, ipaddress.IPv6Network)))

        def member(v: Any) -> bool:
            addr = _as_ip(v)
            if addr is None:
                return False
            return addr in addrs or any(addr.version == n.version and addr in n for n in nets)
        return member
    members = frozenset(constants)
    return members.__contains__


def _pmatch(values: Sequence[str]) -> Matcher:
    """Path-prefix match as libsinsp's path_prefix_search: paths compare component by component (empty
    components ignored, so ``/var//run`` is ``/var/run``), a search path matches itself and everything below
    it, and a component with glob characters matches by fnmatch (``/home/*/.ssh``)."""
    prefixes = [tuple(_component_matcher(c) for c in _components(v)) for v in values]

    def match(v: Any) -> bool:
        parts = _components(v)
        return any(len(p) <= len(parts) and all(m(part) for m, part in zip(p, parts)) for p in prefixes)
    return match


def _components(path: str) -> list[str]:
    return [c for c in path.split("/") if c]


def _component_matcher(component: str) -> Callable[[str], bool]:
    if any(ch in component for ch in "*?["):
        return glob_matcher(component)
    return component.__eq__


def _single(op: str, ftype: FieldType, c: Any) -> Matcher:
    if ftype in (FieldType.IPADDR, FieldType.IPNET):
        return _ip_matcher(op, c)
    if op in _EQUALITY or op in _ORDER:
        fn = _EQUALITY.get(op) or _ORDER[op]
        return lambda v: bool(fn(v, c))
    return _string_matcher(op, c)


def _ip_matcher(op: str, c: Any) -> Matcher:
    if isinstance(c, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        def inside(v: Any) -> bool:
            addr = _as_ip(v)
            return addr is not None and addr.version == c.version and addr in c
        return inside if op != "!=" else (lambda v: not inside(v))
    want = str(c)
    same: Matcher = lambda v: _as_ip(v) == c or v == want  # noqa: E731
    return same if op != "!=" else (lambda v: not same(v))


@functools.lru_cache(maxsize=8192)
def _as_ip(v: Any) -> Any:
    """An address parsed once per distinct text (parsing dominates IP checks otherwise)."""
    try:
        return ipaddress.ip_address(v)
    except ValueError:
        return None


def _string_matcher(op: str, c: Any) -> Matcher:
    if op in ("bcontains", "bstartswith"):
        if op == "bcontains":
            return lambda v: c in _raw(v)
        return lambda v: _raw(v).startswith(c)
    if op == "contains":
        return lambda v: c in v
    if op == "icontains":
        low = c.lower()
        return lambda v: low in v.lower()
    if op == "startswith":
        return lambda v: v.startswith(c)
    if op == "endswith":
        return lambda v: v.endswith(c)
    if op in ("glob", "iglob"):
        return glob_matcher(c, casefold=op == "iglob")
    if op == "regex":
        return regex_matcher(c)
    raise CheckError(f"operator '{op}' is not supported here")


def _raw(v: Any) -> bytes:
    return v if isinstance(v, bytes) else str(v).encode("utf-8", "surrogateescape")


def dynamic_matcher(op: str, ftype: FieldType) -> DynamicMatcher:
    """``(value, rhs_value) -> bool`` for ``field op val(other)``; list operators test equality."""
    if op not in allowed_ops(ftype):
        raise CheckError(f"operator '{op}' is not supported for fields of type {ftype.value}")
    if op in ("in", "intersects"):
        op = "="
    if op in _EQUALITY or op in _ORDER:
        fn = _EQUALITY.get(op) or _ORDER[op]
        return lambda v, r: bool(fn(v, r))
    if op == "pmatch":
        return lambda v, r: v == r or v.startswith(r.rstrip("/") + "/")
    return lambda v, r: _string_matcher(op, r)(v)


def transformer(name: str) -> tuple[Callable[[Any], Any], FieldType | None]:
    """The value function of a transformer and the type it produces (None: same as its input)."""
    if name == "tolower":
        return (lambda v: v.lower()), None
    if name == "toupper":
        return (lambda v: v.upper()), None
    if name == "basename":
        return (lambda v: v.rsplit("/", 1)[-1]), None
    if name == "len":
        return len, FieldType.INT64
    if name == "b64":
        return _b64, FieldType.CHARBUF
    raise CheckError(f"unknown transformer '{name}'")


def _b64(v: Any) -> Any:
    try:
        return base64.b64decode(v, validate=True).decode("utf-8", "replace")
    except (ValueError, TypeError):
        return None
