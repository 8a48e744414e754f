"""Path checks as the kernel can test them: exact names, prefixes, suffixes, parent directories and raw features
of the type's path parameter (``atoms.literal`` calls these for ``fd.name``, ``fd.nameraw``, ``fd.directory``,
``fd.filename`` and ``evt.arg.<path param>``; only positive checks: a path test's complement cannot be said).

Prefixes and suffixes longer than the probe's keys are cut (a shorter prefix accepts more); ``glob`` keeps its
literal start (or end, for ``fd.filename``); ``pmatch`` keeps the search path and what lies below it up to the
first component with glob characters.
"""
from __future__ import annotations

from typing import Union

from syswarden.events.prefilter import MAX_PREFIX_BYTES, MAX_SUFFIX_BYTES, Box, PathTest, RawFeature, RetSign
from syswarden.rules.filter import ast

Lit = Union[bool, Box, tuple[Box, ...]]
"""What a literal weakens to: True (the kernel cannot tell: pass), False (never holds on this type), a box, or
a union of boxes."""

NAME_SET_OPS = frozenset({"=", "==", "in", "intersects"})
"""Operators that compare with a set of names (no modifier)."""


def path_literal(check: ast.Check, values: list[str]) -> Lit:
    op = check.op
    if op in ("contains", "icontains") and all("../" in v for v in values):
        return Box(raw_features=RawFeature.DOTDOT_SLASH)
    if op == "glob" and all(any("../" in run for run in glob_runs(v)) for v in values):
        return Box(raw_features=RawFeature.DOTDOT_SLASH)
    if op in NAME_SET_OPS and check.modifier is None:
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


def directory_literal(check: ast.Check, values: list[str]) -> Lit:
    """``fd.directory`` of the open's path: names as directory entries; a directory prefix, ``pmatch`` or a glob's
    literal start is a prefix of the path itself."""
    if check.op in NAME_SET_OPS and check.modifier is None:
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


def filename_literal(check: ast.Check, values: list[str]) -> Lit:
    """``fd.filename``: the path ends with ``/name``; it exists only for a successful open."""
    tests: list[PathTest | None] = []
    if check.op in NAME_SET_OPS or check.op in ("=", "=="):
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


def _union_box(tests: list[PathTest | None]) -> bool | Box:
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


__all__ = ["Lit", "path_literal", "directory_literal", "filename_literal", "glob_prefix", "glob_runs"]
