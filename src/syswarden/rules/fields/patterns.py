"""Regular expressions and globs on RE2: matching in time linear in the value, whatever the pattern.

``regex`` is Falco's: libsinsp compiles the constant with ``RE2::POSIX`` options (POSIX egrep syntax, leftmost
longest) and refuses a pattern RE2 refuses ("invalid regex pattern: ..."), then matches the whole value
(``ANCHOR_BOTH``) on its bytes as UTF-8; so ``\\d``, ``\\b``, back-references and look-arounds are errors here as
there, and a byte that is not UTF-8 is matched by no ``.``, as there.

``glob`` is fnmatch(3) without flags, as libsinsp calls it (``*`` and ``?`` also match ``/``, ``[...]``/``[!...]``
are classes, a backslash escapes), translated to a regular expression and run by RE2 over the value's bytes
(Latin-1 mode: one byte is one character, as fnmatch in the C locale), so ``*a*a*a*...b`` cannot backtrack
and invalid UTF-8 in a path is still crossed by ``*``.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import re2

NOTHING = "[^\\x00-\\xff]"      # matches no byte (RE2 has no (?!) look-ahead)


class CheckError(ValueError):
    """An operator that does not apply to a field type, or a constant that does not parse as that type."""


def _options(*, posix: bool = False, latin1: bool = False, casefold: bool = False) -> Any:
    options = re2.Options()
    options.log_errors = False            # errors are raised to the rules loader, not logged to stderr
    if posix:                             # RE2::POSIX, as libsinsp's regex operator
        options.posix_syntax = True
        options.longest_match = True
    if latin1:
        options.encoding = re2.Options.Encoding.LATIN1
        options.dot_nl = True
    options.case_sensitive = not casefold
    return options


def _bytes(value: Any) -> bytes:
    """A field value as the bytes the kernel gave (file names keep undecodable bytes as surrogates)."""
    return value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogateescape")


def regex_matcher(pattern: str) -> Callable[[Any], bool]:
    """``value -> bool``: RE2 (POSIX syntax) matches the whole value."""
    try:
        compiled = re2.compile(_bytes(pattern), _options(posix=True))
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise CheckError(f"invalid regex pattern: {reason}") from None
    match = compiled.fullmatch
    return lambda v: match(_bytes(v)) is not None


def glob_matcher(pattern: str, *, casefold: bool = False) -> Callable[[Any], bool]:
    """``value -> bool``: fnmatch(3) semantics, matched by RE2 over the value's bytes."""
    translated = glob_to_regex(pattern).encode("utf-8", "surrogateescape")
    match = re2.compile(translated, _options(latin1=True, casefold=casefold)).fullmatch
    return lambda v: match(_bytes(v)) is not None


def glob_to_regex(pattern: str) -> str:
    """fnmatch(3) without flags, as libsinsp calls it: ``*`` and ``?`` also match ``/``, ``[...]``/``[!...]``
    are classes, and a backslash makes the next character literal (Python's fnmatch has no escapes)."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "\\":
            if i >= n:
                return NOTHING    # glibc: a pattern ending in a lone backslash matches nothing
            out.append(re.escape(pattern[i]))
            i += 1
        elif ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "[":
            parsed = _glob_class(pattern, i)
            if parsed is None:
                out.append(re.escape(ch))
            else:
                out.append(parsed[0])
                i = parsed[1]
        else:
            out.append(re.escape(ch))
    return "".join(out)


def _glob_class(pattern: str, i: int) -> tuple[str, int] | None:
    """The bracket expression starting after ``[`` at ``i`` as a regex class, and the index after its ``]``;
    None when it is not closed (then ``[`` is literal, as in fnmatch). ``!``/``^`` negate, a leading ``]`` is
    a member, a backslash escapes the next character, and a reversed range matches nothing."""
    n = len(pattern)
    negate = i < n and pattern[i] in "!^"
    i += 1 if negate else 0
    chars: list[str] = []
    first = True
    while i < n and (pattern[i] != "]" or first):
        if pattern[i] == "\\" and i + 1 < n:
            i += 1
        chars.append(pattern[i])
        first = False
        i += 1
    if i >= n:
        return None
    members = _class_members(chars)
    if not members:            # only reversed ranges: nothing is a member
        return ("." if negate else NOTHING), i + 1
    return "[" + ("^" if negate else "") + members + "]", i + 1


def _class_members(chars: list[str]) -> str:
    out: list[str] = []
    k = 0
    while k < len(chars):
        if k + 2 < len(chars) and chars[k + 1] == "-":
            lo, hi = chars[k], chars[k + 2]
            if lo <= hi:
                out.append(f"{re.escape(lo)}-{re.escape(hi)}")
            k += 3
        else:
            out.append(re.escape(chars[k]))
            k += 1
    return "".join(out)
