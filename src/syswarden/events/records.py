"""Replay records <-> JSON objects: the codec of the JSON Lines replay format (``events/jsonl.py`` reads and
writes files with it; ``docs/replay-format.md`` documents it).

``thread_to_json``/``fd_to_json``/``event_to_json`` and their inverses map ``ThreadInfo``/``FdInfo``/``Event`` to
plain JSON data (bytes as ``{"b64": ...}``, ``SockAddr``/``SockTuple`` as objects with their field names). Decoding
checks keys, types, event names and parameter names against the event table and raises ``LineError`` saying
what was expected; the reader adds the file and line.
"""
from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from syswarden.events.event import Event, FdInfo, FdType, SockAddr, SockTuple, ThreadInfo
from syswarden.events.types import EVENT_NAMES, EVENTS, ParamType, extension_params

VERSION = 1
_UNSET_ID = 4294967295

_THREAD_FIELDS = {f.name: f for f in dataclasses.fields(ThreadInfo) if f.name not in ("parent", "fds")}
_FD_FIELDS = {f.name: f for f in dataclasses.fields(FdInfo)}
_EVENT_KEYS = ("num", "ts", "tid", "type", "dir", "res", "params", "cpu", "pid", "state_only", "source")
_EVENT_REQUIRED = ("num", "ts", "tid", "type")
_EVENT_KEYSET = frozenset(_EVENT_KEYS) | {"kind"}
_EVENT_REQUIRED_SET = frozenset(_EVENT_REQUIRED)
_FD_TYPES = {t.name.lower(): t for t in FdType}
_SOCKTUPLE_KEYS = {f.name for f in dataclasses.fields(SockTuple)}
_SOCKADDR_KEYS = {f.name for f in dataclasses.fields(SockAddr)}
_PARAMS_OF: dict[str, frozenset[str]] = {}
for (_name, _dir), _spec in EVENTS.items():
    _PARAMS_OF[_name] = _PARAMS_OF.get(_name, frozenset()) | {p.name for p in _spec.params}
# fdlist params are lists of (fd, flags) pairs: JSON turns the tuples into lists, decoding turns them back.
_FDLIST_PARAMS: dict[str, frozenset[str]] = {}
for (_name, _dir), _spec in EVENTS.items():
    _fdl = {p.name for p in _spec.params if p.type is ParamType.FDLIST}
    if _fdl:
        _FDLIST_PARAMS[_name] = _FDLIST_PARAMS.get(_name, frozenset()) | _fdl
# Any syscall may come as Falco's generic event (ID, nativeID): older captures record e.g. mprotect that way.
_GENERIC_PARAMS = _PARAMS_OF["syscall"]
for _name in EVENT_NAMES:
    _PARAMS_OF[_name] = _PARAMS_OF.get(_name, frozenset()) | _GENERIC_PARAMS

# The Python types a parameter value may have once decoded, by event-table type (docs/replay-format.md); None
# (the source could not read it) is valid for every parameter. Sources deliver these and nothing else, so rules,
# state and the writers may rely on them.
_NONE: type = type(None)
_TEXT: frozenset[type] = frozenset({str, _NONE})
_VALUE_TYPES: dict[ParamType, frozenset[type]] = {
    ParamType.FSPATH: _TEXT, ParamType.FSRELPATH: _TEXT, ParamType.CHARBUF: _TEXT,
    ParamType.BYTEBUF: frozenset({bytes, list, _NONE}),
    ParamType.SOCKADDR: frozenset({SockAddr, _NONE}), ParamType.SOCKTUPLE: frozenset({SockTuple, _NONE}),
    ParamType.FDLIST: frozenset({list, _NONE}), ParamType.DYN: frozenset({int, str, bytes, _NONE}),
}
_INTEGER: frozenset[type] = frozenset({int, _NONE})
_PARAM_VALUE_TYPES: dict[str, dict[str, frozenset[type]]] = {}
for (_name, _dir), _spec in EVENTS.items():
    for _param in _spec.params:
        _PARAM_VALUE_TYPES.setdefault(_name, {})[_param.name] = _VALUE_TYPES.get(_param.type, _INTEGER)
for _name in _PARAMS_OF:
    for _p in _GENERIC_PARAMS:
        _PARAM_VALUE_TYPES.setdefault(_name, {}).setdefault(_p, _INTEGER)
    for _p in extension_params(_name):           # the live sources' additions are paths (events/types.py)
        _PARAM_VALUE_TYPES[_name].setdefault(_p, _TEXT)
INT_MIN, INT_MAX = -(1 << 63), (1 << 64) - 1          # every integer a capture can carry: s64 or u64


@dataclass(frozen=True, slots=True)
class Header:
    """The first line of a replay file."""

    version: int
    hostname: str


@dataclass(frozen=True, slots=True)
class FdRecord:
    """An fd of thread ``tid`` in the initial snapshot."""

    tid: int
    fd: FdInfo


Record = Header | ThreadInfo | FdRecord | Event


# ----------------------------------------------------------------------------------------------- encoding

def encode_value(value: Any) -> Any:
    """A param value as JSON data: bytes -> {"b64": ...}, SockAddr/SockTuple -> objects, lists recursively."""
    if isinstance(value, bytes | bytearray):
        return {"b64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, SockAddr | SockTuple):
        return dataclasses.asdict(value)
    if isinstance(value, list | tuple):
        return [encode_value(v) for v in value]
    return value


def thread_to_json(t: ThreadInfo) -> dict[str, Any]:
    """A thread record: every ThreadInfo field that differs from its default, plus tid/pid always."""
    out: dict[str, Any] = {"kind": "thread", "tid": t.tid, "pid": t.pid}
    for name, f in _THREAD_FIELDS.items():
        value = getattr(t, name)
        if name not in out and value != _default(f):
            out[name] = list(value) if isinstance(value, list) else value
    return out


def fd_to_json(tid: int, fd: FdInfo) -> dict[str, Any]:
    """An fd record: tid, num, type (lowercased FdType name) and every other non-default FdInfo field."""
    out: dict[str, Any] = {"kind": "fd", "tid": tid, "num": fd.num, "type": fd.type.name.lower()}
    for name, f in _FD_FIELDS.items():
        value = getattr(fd, name)
        if name not in out and value != _default(f):
            out[name] = value
    return out


def event_to_json(e: Event) -> dict[str, Any]:
    """An event record; ``dir``/``cpu``/``pid``/``state_only``/``source`` only when not their defaults."""
    out: dict[str, Any] = {"kind": "event", "num": e.num, "ts": e.ts, "tid": e.tid, "type": e.type}
    if e.dir != "<":
        out["dir"] = e.dir
    if e.res is not None:
        out["res"] = e.res
    out["params"] = {k: encode_value(v) for k, v in e.params.items()}
    for key, default in (("cpu", 0), ("pid", None), ("state_only", False), ("source", "syscall")):
        if getattr(e, key) != default:
            out[key] = getattr(e, key)
    return out


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def dumps(obj: dict[str, Any]) -> str:
    # ensure_ascii: lone surrogates (undecodable file names) and control characters stay escaped on one line.
    return json.dumps(obj, ensure_ascii=True, separators=(",", ":"))


# ----------------------------------------------------------------------------------------------- decoding

class LineError(Exception):
    """A problem in one record, before the file name and line number are known."""

    def __init__(self, message: str, col: int = 1) -> None:
        super().__init__(message)
        self.col = col


def decode_value(value: Any) -> Any:
    """The inverse of ``encode_value``. Raises LineError for objects that are none of the known shapes."""
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    if not isinstance(value, dict):
        return value
    keys = set(value)
    if keys == {"b64"}:
        return _b64(value["b64"])
    if keys == _SOCKTUPLE_KEYS or keys == _SOCKTUPLE_KEYS - {"l4proto"}:
        return SockTuple(**value)
    if {"family"} <= keys <= _SOCKADDR_KEYS:
        return SockAddr(**value)
    raise LineError(f"unknown param object with keys {sorted(keys)}; expected {{\"b64\": ...}}, "
                     f"a SockAddr {sorted(_SOCKADDR_KEYS)} or a SockTuple {sorted(_SOCKTUPLE_KEYS)}")


def _b64(text: Any) -> bytes:
    if not isinstance(text, str):
        raise LineError("\"b64\" must be a base64 string")
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise LineError(f"\"b64\" is not valid base64: {exc}") from exc


def _check_keys(obj: dict[str, Any], allowed: set[str] | tuple[str, ...], required: tuple[str, ...], what: str) -> None:
    for key in required:
        if key not in obj:
            raise LineError(f"{what} record lacks required key {key!r}")
    unknown = sorted(set(obj) - set(allowed) - {"kind"})
    if unknown:
        raise LineError(f"unknown key {unknown[0]!r} in {what} record; expected one of {', '.join(sorted(allowed))}")


def _check_type(value: Any, expected: type | tuple[type, ...], key: str, what: str) -> None:
    if isinstance(value, bool) and expected is int or not isinstance(value, expected):
        names = " or ".join(t.__name__ for t in (expected if isinstance(expected, tuple) else (expected,)))
        raise LineError(f"{what} key {key!r} must be {names}, not {type(value).__name__}")
    if type(value) is int and not INT_MIN <= value <= INT_MAX:
        raise LineError(f"{what} key {key!r} is out of range: {_short(value)} (expected a 64-bit integer)")


def _short(value: int) -> str:
    text = str(value)
    return text if len(text) <= 24 else f"{text[:10]}...({len(text)} digits)"


def check_param_values(etype: str, params: dict[str, Any]) -> None:
    """Each parameter value has a type its event-table type allows (integers within 64 bits), as every source
    delivers them: the replay source checks this for the values a file chose (the codec round-trips any).

    Raises:
        LineError: the first parameter that does not fit, saying what was expected.
    """
    allowed = _PARAM_VALUE_TYPES.get(etype, {})
    for key, value in params.items():
        kind = type(value)
        if kind not in allowed.get(key, _INTEGER):
            expected = " or ".join(sorted("null" if t is _NONE else t.__name__ for t in allowed.get(key, _INTEGER)))
            raise LineError(f"event {etype!r} parameter {key!r} must be {expected}, not {kind.__name__}")
        if kind is int:
            if not INT_MIN <= value <= INT_MAX:
                raise LineError(f"event {etype!r} parameter {key!r} is out of range: {_short(value)} "
                                "(expected a 64-bit integer)")
        elif kind is list:
            _check_list(etype, key, value)
        elif kind is SockAddr or kind is SockTuple:
            _check_endpoint(etype, key, value)


def _check_list(etype: str, key: str, items: list[Any]) -> None:
    if key in _FDLIST_PARAMS.get(etype, ()):
        if not all(type(i) is tuple and len(i) == 2 and all(type(x) is int and INT_MIN <= x <= INT_MAX for x in i)
                   for i in items):
            raise LineError(f"event {etype!r} parameter {key!r} must be a list of [fd, flags] integer pairs")
    elif not all(type(i) is str for i in items):
        raise LineError(f"event {etype!r} parameter {key!r} must be a list of strings (or {{\"b64\": ...}})")


def _check_endpoint(etype: str, key: str, value: SockAddr | SockTuple) -> None:
    for f in dataclasses.fields(value):
        field_value = getattr(value, f.name)
        if f.name.endswith("port"):                          # a unix tuple's "dport" is a kernel address
            if type(field_value) is not int or not INT_MIN <= field_value <= INT_MAX:
                raise LineError(f"event {etype!r} parameter {key!r}: {f.name!r} must be a 64-bit integer")
        elif type(field_value) is not str:
            raise LineError(f"event {etype!r} parameter {key!r}: {f.name!r} must be a string")


def thread_from_json(obj: dict[str, Any]) -> ThreadInfo:
    """A ThreadInfo from a thread record (``loginuid`` 4294967295 normalised to -1)."""
    _check_keys(obj, set(_THREAD_FIELDS), ("tid", "pid"), "thread")
    kwargs: dict[str, Any] = {}
    for key, value in obj.items():
        if key == "kind":
            continue
        default = _default(_THREAD_FIELDS[key])
        _check_type(value, type(default) if default is not dataclasses.MISSING else int, key, "thread")
        if isinstance(value, list) and not all(isinstance(v, str) for v in value):
            raise LineError(f"thread key {key!r} must be a list of strings")
        kwargs[key] = list(value) if isinstance(value, list) else value
    if kwargs.get("loginuid") == _UNSET_ID:
        kwargs["loginuid"] = -1
    return ThreadInfo(**kwargs)


def fd_from_json(obj: dict[str, Any]) -> FdRecord:
    """An FdRecord from an fd record."""
    _check_keys(obj, {"tid", *_FD_FIELDS}, ("tid", "num", "type"), "fd")
    _check_type(obj["tid"], int, "tid", "fd")
    kind = obj["type"]
    if kind not in _FD_TYPES:
        raise LineError(f"unknown fd type {kind!r}; expected one of {', '.join(_FD_TYPES)}")
    kwargs: dict[str, Any] = {"type": _FD_TYPES[kind]}
    for key, value in obj.items():
        if key in ("kind", "tid", "type"):
            continue
        default = _default(_FD_FIELDS[key])
        _check_type(value, type(default) if default is not dataclasses.MISSING else int, key, "fd")
        kwargs[key] = value
    return FdRecord(obj["tid"], FdInfo(**kwargs))


def event_from_json(obj: dict[str, Any]) -> Event:
    """An Event from an event record; the type and parameter names must be in the event table."""
    # The hot path of every replay: cheap whole-record checks first, detailed messages only on failure.
    if not obj.keys() <= _EVENT_KEYSET or not _EVENT_REQUIRED_SET <= obj.keys():
        _check_keys(obj, _EVENT_KEYS, _EVENT_REQUIRED, "event")
    num, ts, tid = obj["num"], obj["ts"], obj["tid"]
    if not (type(num) is int and type(ts) is int and type(tid) is int and 0 <= num <= INT_MAX
            and 0 <= ts <= INT_MAX and INT_MIN <= tid <= INT_MAX):
        for key in ("num", "ts", "tid"):
            _check_type(obj[key], int, key, "event")
        if num < 0 or ts < 0:
            raise LineError(f"event key {'num' if num < 0 else 'ts'!r} must not be negative")
    for key in ("res", "pid", "cpu"):
        value = obj.get(key)
        if value is not None and (type(value) is not int or not INT_MIN <= value <= INT_MAX):
            _check_type(value, int, key, "event")
    if not 0 <= obj.get("cpu", 0) <= 0xFFFF:
        raise LineError("event key 'cpu' must be a CPU number 0-65535")
    if type(obj.get("state_only", False)) is not bool or type(obj.get("source", "")) is not str:
        _check_type(obj.get("state_only", False), bool, "state_only", "event")
        _check_type(obj.get("source", ""), str, "source", "event")
    etype = obj["type"]
    known = _PARAMS_OF.get(etype) if isinstance(etype, str) else None
    if known is None:
        raise LineError(f"unknown event type {etype!r}; expected a Falco event name (openat, execve, ...)")
    params = obj.get("params", {})
    if type(params) is not dict:
        _check_type(params, dict, "params", "event")
    if not params.keys() <= known and not params.keys() <= known | extension_params(etype):
        name = next(n for n in params if n not in known and n not in extension_params(etype))
        own = sorted(known - _GENERIC_PARAMS) if etype != "syscall" else sorted(known)
        raise LineError(f"unknown parameter {name!r} for event {etype!r}; expected one of "
                        f"{', '.join(own) or '(none)'} (or a generic event's ID, nativeID)")
    direction = obj.get("dir", "<")
    if direction != "<" and direction != ">":
        raise LineError(f"event key 'dir' must be \"<\" or \">\", not {direction!r}")
    for value in params.values():
        if type(value) is dict or type(value) is list:
            params = {k: decode_value(v) for k, v in params.items()}
            for name in _FDLIST_PARAMS.get(etype, ()) & params.keys():
                if isinstance(params[name], list):
                    params[name] = [tuple(item) if isinstance(item, list) else item for item in params[name]]
            break
    return Event(num=num, ts=ts, type=etype, tid=tid, params=params, dir=direction,
                 res=obj.get("res"), cpu=obj.get("cpu", 0), pid=obj.get("pid"),
                 state_only=obj.get("state_only", False), source=obj.get("source", "syscall"))


_DECODERS: dict[str, Callable[[dict[str, Any]], Record]] = {
    "thread": thread_from_json, "fd": fd_from_json, "event": event_from_json}


_decode = json.JSONDecoder().decode


def parse_line(text: str) -> dict[str, Any]:
    try:
        obj = _decode(text)
    except json.JSONDecodeError as exc:
        raise LineError(f"expected a JSON object: {exc.msg}", exc.colno) from exc
    except RecursionError:
        raise LineError("JSON nested too deeply") from None
    except ValueError as exc:       # an integer of more digits than Python converts (4300)
        raise LineError(f"expected a JSON object: {exc}") from None
    if not isinstance(obj, dict):
        raise LineError(f"expected a JSON object, got {type(obj).__name__}")
    return obj


def header_from_json(obj: dict[str, Any]) -> Header:
    version = obj.get("syswarden_replay")
    if version is None:
        raise LineError('expected a header {"syswarden_replay": 1, "hostname": ...} as the first line')
    if version != VERSION:
        raise LineError(f"unsupported replay version {version!r}; this syswarden reads version {VERSION}")
    hostname = obj.get("hostname", "")
    _check_type(hostname, str, "hostname", "header")
    return Header(VERSION, hostname)


def record_from_json(obj: dict[str, Any]) -> Record:
    kind = obj.get("kind")
    decoder = _DECODERS.get(kind) if isinstance(kind, str) else None
    if decoder is None:
        raise LineError(f"unknown record kind {kind!r}; expected \"thread\", \"fd\" or \"event\"")
    return decoder(obj)


__all__ = ["VERSION", "Header", "FdRecord", "Record", "LineError", "check_param_values", "encode_value", "decode_value",
           "thread_to_json", "fd_to_json", "event_to_json", "thread_from_json", "fd_from_json", "event_from_json",
           "parse_line", "header_from_json", "record_from_json", "dumps"]
