"""The per-event fast paths of hot fields give the values of the general code they replace.

``evt.is_open_read``/``evt.is_open_write`` have inline templates that test the access mode in place (generated
predicates must decide as the closures do, also for flags that are absent, bools or IntFlags, and for enter or
non-open events); ``fd.directory``/``fd.filename`` split paths without ``posixpath`` (same results on odd paths).
"""
from __future__ import annotations

import enum
import posixpath

import pytest

from syswarden.events.event import Event, FdInfo, FdType
from syswarden.rules.compiler import compile_condition
from syswarden.rules.fields import registry
from syswarden.rules.filter.parser import parse


class _Flags(enum.IntFlag):
    WRONLY = 1
    RDWR = 2


FLAG_VALUES: list[object] = [0, 1, 2, 3, 0o101, 0o2000002, True, False, None, "1", _Flags.WRONLY, _Flags.RDWR, -1]
ODD_PATHS = ["/etc/x", "x", "/x", "//x", "///", "/", "/a//b", "/a/b/", "a//", "a/b", "/usr/lib/libc.so.6"]


def _open_events() -> list[Event]:
    out = []
    for etype in ("open", "openat", "openat2", "open_by_handle_at", "creat", "close", "execve"):
        for direction in ("<", ">"):
            for flags in FLAG_VALUES:
                params: dict[str, object] = {"fd": 3, "name": "/etc/x"}
                if flags is not None:
                    params["flags"] = flags
                out.append(Event(num=1, ts=0, type=etype, tid=1, dir=direction, res=3, params=params))
    return out


@pytest.mark.parametrize("name", ["evt.is_open_read", "evt.is_open_write"])
def test_open_mode_template_equals_extractor(name: str) -> None:
    fdef = registry.lookup(name)
    assert fdef.spec.inline is not None
    fn = eval(f"lambda e: {fdef.spec.inline.replace('@X', 'X')}", {"X": fdef.extract})  # noqa: S307
    for e in _open_events():
        got, want = fn(e), fdef.extract(e)
        assert got == want and type(got) is type(want), (e.type, e.dir, e.params.get("flags"))


@pytest.mark.parametrize("cond", ["evt.is_open_read = true", "evt.is_open_write = true",
                                  "evt.is_open_read = false and evt.is_open_write = true",
                                  "not evt.is_open_write = true"])
def test_open_mode_backends_agree(cond: str) -> None:
    fast = compile_condition(parse(cond)).predicate
    slow = compile_condition(parse(cond), codegen=False).predicate
    assert fast.__qualname__ == "pred"          # the generated backend took it
    decided = [(fast(e), slow(e)) for e in _open_events()]
    assert all(a is b for a, b in decided)
    assert {a for a, _ in decided} == {True, False}


@pytest.mark.parametrize("path", ODD_PATHS)
def test_directory_and_filename_match_posixpath(path: str) -> None:
    directory, filename = registry.lookup("fd.directory").extract, registry.lookup("fd.filename").extract
    event = Event(num=1, ts=0, type="openat", tid=1, res=3, fd=FdInfo(num=3, type=FdType.FILE, name=path))
    assert directory(event) == (posixpath.dirname(path) or "/")
    assert filename(event) == posixpath.basename(path)
