"""The ``evt.*`` field class: the event itself (number, time, type, result, parameters, open flags).

Times follow libsinsp: ``evt.time`` is local time ``HH:MM:SS.nnnnnnnnn``; ``evt.time.iso8601`` is UTC with
``+0000`` (sysdig agrees; Falco's JSON ``time`` key, built elsewhere, uses ``Z``); ``evt.datetime`` is local
``YYYY-MM-DD HH:MM:SS.nnnnnnnnn``. ``evt.res`` is ``SUCCESS`` or the errno name, ``evt.rawres`` the number.
``evt.arg.NAME`` / ``evt.arg[N]`` render a parameter as Falco does (see ``params.py``); ``evt.rawarg.NAME`` is the raw
typed value.
"""
from __future__ import annotations

import socket
import time
from typing import Any

from syswarden.events import types
from syswarden.events.event import Event
from syswarden.rules.fields import params
from syswarden.rules.fields.model import ArgKind, Extractor, FieldSpec, FieldType

_OPEN_EVENTS = frozenset({"open", "openat", "openat2", "open_by_handle_at"})


def _const(fn: Extractor) -> Any:
    return lambda _arg: fn


def _clock(ts: int) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts // 1_000_000_000)) + f".{ts % 1_000_000_000:09d}"


def _datetime(ts: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts // 1_000_000_000)) + f".{ts % 1_000_000_000:09d}"


def _iso8601(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts // 1_000_000_000)) + f".{ts % 1_000_000_000:09d}+0000"


def _res(event: Event) -> str | None:
    res = params.param_value(event, "res")
    if not isinstance(res, int):
        return None
    return "SUCCESS" if res >= 0 else (params.errno_name(res) or str(res))


def _rawres(event: Event) -> int | None:
    res = params.param_value(event, "res")
    return res if isinstance(res, int) else None


def _failed(event: Event) -> bool:
    res = params.param_value(event, "res")
    return isinstance(res, int) and res < 0


def _open_flags(event: Event) -> int | None:
    if event.type not in _OPEN_EVENTS or event.dir != "<":
        return None
    flags = event.params.get("flags")
    return flags if isinstance(flags, int) else None


def _open_mode_inline(modes: tuple[int, int]) -> str:
    """Inline template of evt.is_open_read/write: stock rules test these on every open event, several rules per
    event, so generated code tests the access mode in place; flags that are not a plain int (absent, a subclass)
    and non-open events take the extractor's path, so the value is the extractor's on every event."""
    names = "{" + ", ".join(repr(name) for name in sorted(_OPEN_EVENTS)) + "}"
    test = f"(fl & {types.O_ACCMODE}) in {modes!r}"
    return (f"(({test} if (fl := e.params.get('flags')).__class__ is int else @X(e)) "
            f"if e.dir == '<' and e.type in {names} else False)")


def _is_open_read(event: Event) -> bool:
    flags = _open_flags(event)
    return flags is not None and types.is_open_read(flags)


def _is_open_write(event: Event) -> bool:
    flags = _open_flags(event)
    return flags is not None and types.is_open_write(flags)


def _is_open_exec(event: Event) -> bool:
    flags = _open_flags(event)
    mode = event.params.get("mode", 0)
    return flags is not None and types.is_open_exec(flags, mode if isinstance(mode, int) else 0)


def _buffer(event: Event) -> bytes | None:
    data = event.params.get("data")
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    if isinstance(data, str):
        return data.encode("utf-8", "surrogateescape")
    return None


def _arg_name(event: Event, arg: str) -> str | None:
    return params.param_name_at(event, int(arg)) if arg.isdigit() else arg


def _make_arg(arg: str | None) -> Extractor:
    assert arg is not None

    def extract(event: Event) -> str | None:
        name = _arg_name(event, arg)
        return params.arg_text(event, name) if name is not None else None
    return extract


def _make_rawarg(arg: str | None) -> Extractor:
    assert arg is not None

    def extract(event: Event) -> Any:
        name = _arg_name(event, arg)
        return params.param_value(event, name) if name is not None else None
    return extract


_IO_CATEGORIES = frozenset({"io_read", "io_write", "io_other"})
_FD_CATEGORY = {"f": "file", "d": "file", "4": "net", "6": "net", "u": "ipc", "p": "ipc"}


def _category(event: Event) -> str | None:
    """libsinsp's evt.category: the event table's category, except that I/O events take their fd's kind."""
    spec = params.spec_of(event)
    if spec is None:
        return "unknown" if event.type == "<unknown>" else None
    if spec.category not in _IO_CATEGORIES:
        return spec.category
    if event.fd is None:
        return "unknown"
    return _FD_CATEGORY.get(event.fd.type.value, "unknown")


_HOSTNAME: list[str] = []


def _hostname(_event: Event) -> str:
    if not _HOSTNAME:
        _HOSTNAME.append(socket.gethostname())
    return _HOSTNAME[0]


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("evt.num", FieldType.UINT64, "Event number, counting every event of the capture.",
              _const(lambda e: e.num), inline='e.num'),
    FieldSpec("evt.time", FieldType.CHARBUF, "Event time, local, as HH:MM:SS.nnnnnnnnn.",
              _const(lambda e: _clock(e.ts))),
    FieldSpec("evt.time.s", FieldType.CHARBUF, "Event time, local, as HH:MM:SS.",
              _const(lambda e: _clock(e.ts)[:8])),
    FieldSpec("evt.time.iso8601", FieldType.CHARBUF, "Event time, UTC, ISO 8601 with nanoseconds and +0000.",
              _const(lambda e: _iso8601(e.ts))),
    FieldSpec("evt.datetime", FieldType.CHARBUF, "Event date and time, local, YYYY-MM-DD HH:MM:SS.nnnnnnnnn.",
              _const(lambda e: _datetime(e.ts))),
    FieldSpec("evt.datetime.s", FieldType.CHARBUF, "Event date and time, local, YYYY-MM-DD HH:MM:SS.",
              _const(lambda e: _datetime(e.ts)[:19])),
    FieldSpec("evt.rawtime", FieldType.ABSTIME, "Event time in nanoseconds since the epoch.",
              _const(lambda e: e.ts), inline='e.ts'),
    FieldSpec("evt.rawtime.s", FieldType.ABSTIME, "Integer part of the event time in seconds since the epoch.",
              _const(lambda e: e.ts // 1_000_000_000)),
    FieldSpec("evt.rawtime.ns", FieldType.ABSTIME, "Fractional part of the event time, in nanoseconds.",
              _const(lambda e: e.ts % 1_000_000_000)),
    FieldSpec("evt.type", FieldType.CHARBUF, "Event type name: open, execve, connect, procexit ...",
              _const(lambda e: e.type), inline='e.type'),
    FieldSpec("evt.dir", FieldType.CHARBUF, "Direction: '<' exit (the only one modern drivers send), '>' enter. "
              "Deprecated.", _const(lambda e: e.dir), inline='e.dir'),
    FieldSpec("evt.cpu", FieldType.INT16, "CPU the event happened on.", _const(lambda e: e.cpu)),
    FieldSpec("evt.category", FieldType.CHARBUF, "Category: file, net, ipc, process, memory, ... (I/O events take "
              "the kind of their fd, 'unknown' without one; syscalls without their own event are 'other').",
              _const(_category)),
    FieldSpec("evt.source", FieldType.CHARBUF, "Event source: syscall.", _const(lambda e: e.source)),
    FieldSpec("evt.hostname", FieldType.CHARBUF, "Host name of the machine running syswarden.",
              _const(_hostname)),
    FieldSpec("evt.res", FieldType.CHARBUF, "Result: SUCCESS, or the errno name (ENOENT ...) on failure.",
              _const(_res)),
    FieldSpec("evt.rawres", FieldType.INT64, "Result as a number (negative errno on failure).",
              _const(_rawres)),
    FieldSpec("evt.failed", FieldType.BOOL, "true when the syscall failed (negative result).",
              _const(_failed)),
    FieldSpec("evt.args", FieldType.CHARBUF, "Every parameter as name=value, space separated.",
              _const(params.args_text)),
    FieldSpec("evt.info", FieldType.CHARBUF, "Same as evt.args for syscall events.", _const(params.args_text)),
    FieldSpec("evt.arg", FieldType.CHARBUF, "One parameter as text, by name (evt.arg.flags) or index "
              "(evt.arg[1]): flags and errnos by name, fds by path.", _make_arg, ArgKind.KEY_REQUIRED),
    FieldSpec("evt.rawarg", FieldType.DYN, "One parameter's raw value, by name (evt.rawarg.flags): "
              "numbers compare as numbers.", _make_rawarg, ArgKind.KEY_REQUIRED),
    FieldSpec("evt.is_open_read", FieldType.BOOL, "true for an open-family exit event whose access mode reads.",
              _const(_is_open_read), inline=_open_mode_inline((types.O_RDONLY, types.O_RDWR))),
    FieldSpec("evt.is_open_write", FieldType.BOOL, "true for an open-family exit event whose access mode writes.",
              _const(_is_open_write), inline=_open_mode_inline((types.O_WRONLY, types.O_RDWR))),
    FieldSpec("evt.is_open_exec", FieldType.BOOL, "true for an open-family exit event creating an executable "
              "file.", _const(_is_open_exec)),
    FieldSpec("evt.buffer", FieldType.BYTEBUF, "The data buffer of read/write/send/recv events.",
              _const(_buffer)),
    FieldSpec("evt.latency", FieldType.RELTIME, "Deprecated: enter events are gone, so always <NA>.",
              _const(lambda e: None)),
)
