"""Tests for the JSON Lines replay format (syswarden.events.jsonl)."""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syswarden.errors import CaptureError
from syswarden.events.event import Event, FdInfo, FdType, SockAddr, SockTuple, ThreadInfo
from syswarden.events import types as T
from syswarden.events.records import LineError, check_param_values
from syswarden.events.jsonl import FdRecord, JsonlReader, JsonlWriter, dumps_records, read_jsonl

HEADER = '{"syswarden_replay": 1, "hostname": "h"}\n'
THREAD = ('{"kind": "thread", "tid": 100, "pid": 100, "ptid": 1, "comm": "bash", "exe": "bash", '
          '"exepath": "/bin/bash", "args": ["-c", "x"], "cwd": "/root", "uid": 0, "gid": 0, "loginuid": 1000, '
          '"tty": 34816, "start_ts": 0, "container_id": ""}\n')
FD = '{"kind": "fd", "tid": 100, "num": 3, "type": "file", "name": "/etc/passwd", "flags": 0}\n'
EVENT = ('{"kind": "event", "num": 1, "ts": 1700000000000000000, "tid": 100, "type": "openat", "dir": "<", '
         '"res": 3, "params": {"fd": 3, "dirfd": -100, "name": "/etc/shadow", "flags": 1, "mode": 0}}\n')

text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20) | st.just("\udcff/x")
ints = st.integers(min_value=-(2**63), max_value=2**64 - 1)
param_values = st.one_of(
    ints, text, st.binary(max_size=40), st.lists(text, max_size=4),
    st.builds(SockAddr, st.sampled_from(["AF_INET", "AF_INET6", "AF_UNIX"]), text, st.integers(0, 65535)),
    st.builds(SockTuple, st.sampled_from(["AF_INET", "AF_INET6"]), text, st.integers(0, 65535), text,
              st.integers(0, 65535), st.sampled_from(["tcp", "udp"])),
)
open_params = st.fixed_dictionaries({}, optional={k: param_values for k in ("fd", "dirfd", "name", "flags", "mode")})
events = st.builds(Event, num=st.integers(1, 2**40), ts=st.integers(0, 2**63), type=st.sampled_from(["openat"]),
                   tid=st.integers(1, 2**22), params=open_params, dir=st.sampled_from(["<", ">"]),
                   res=st.none() | ints, cpu=st.integers(0, 255), pid=st.none() | st.integers(1, 2**22),
                   state_only=st.booleans())
threads = st.builds(ThreadInfo, tid=st.integers(1, 2**22), pid=st.integers(1, 2**22), comm=text, exe=text,
                    exepath=text, args=st.lists(text, max_size=3), env=st.lists(text, max_size=3), cwd=text,
                    uid=st.integers(-1, 2**31), loginuid=st.integers(-1, 2**31), container_id=text,
                    cap_effective=st.integers(0, 2**41), exited=st.booleans())
fds = st.builds(FdInfo, num=st.integers(0, 2**20), type=st.sampled_from(list(FdType)), name=text,
                flags=st.integers(0, 2**32), sip=text, sport=st.integers(0, 65535), is_server=st.booleans())


def _strip(rec: object) -> object:
    if isinstance(rec, Event):
        rec.thread = rec.fd = None
    return rec


@settings(max_examples=150, deadline=None)
@given(st.lists(threads, max_size=3), st.lists(fds, max_size=3), st.lists(events, max_size=5), text)
def test_round_trip(ths: list[ThreadInfo], fdl: list[FdInfo], evs: list[Event], host: str) -> None:
    """Threads, fds and events written by JsonlWriter read back equal, whatever bytes the strings hold."""
    records = [*ths, *(FdRecord(7, f) for f in fdl), *evs]
    data = dumps_records(records, host)
    assert data.isascii() and data.count("\n") == len(records) + 1
    header, back, warnings = read_jsonl(io.StringIO(data))
    assert header.hostname == host and warnings == []
    assert back == records


def test_example_lines_parse(tmp_path: Path) -> None:
    """The documented example lines parse into the model with the documented meaning."""
    path = tmp_path / "r.jsonl"
    path.write_text(HEADER + THREAD + FD + EVENT)
    header, recs, _ = read_jsonl(path)
    thread, fd, event = recs
    assert header.hostname == "h"
    assert isinstance(thread, ThreadInfo) and thread.args == ["-c", "x"] and thread.loginuid == 1000
    assert isinstance(fd, FdRecord) and fd.fd.type is FdType.FILE and fd.fd.name == "/etc/passwd"
    assert isinstance(event, Event) and event.res == 3 and event.params["dirfd"] == -100


def test_bytes_and_sockets_encoding() -> None:
    """bytes are written as {"b64": ...} and socket tuples as objects with their field names."""
    ev = Event(num=1, ts=2, type="connect", tid=3, res=0,
               params={"tuple": SockTuple("AF_INET", "10.0.0.1", 4000, "1.2.3.4", 443),
                       "addr": SockAddr("AF_INET", "1.2.3.4", 443)})
    ev2 = Event(num=2, ts=3, type="write", tid=3, res=2, params={"data": b"\x00\xff"})
    lines = dumps_records([ev, ev2]).splitlines()
    assert json.loads(lines[1])["params"]["tuple"] == {"family": "AF_INET", "sip": "10.0.0.1", "sport": 4000,
                                                       "dip": "1.2.3.4", "dport": 443, "l4proto": "tcp"}
    assert json.loads(lines[2])["params"]["data"] == {"b64": "AP8="}


def test_loginuid_unset_is_normalised() -> None:
    """A loginuid of 4294967295 (unset in the kernel) reads back as -1."""
    _, recs, _ = read_jsonl(io.StringIO(HEADER + '{"kind":"thread","tid":1,"pid":1,"loginuid":4294967295}\n'))
    assert isinstance(recs[0], ThreadInfo) and recs[0].loginuid == -1


BAD = [
    ("", "r.jsonl:1:1: empty file; expected a header {\"syswarden_replay\": 1, \"hostname\": ...}"),
    ('{"hostname": "h"}\n',
     "r.jsonl:1:1: expected a header {\"syswarden_replay\": 1, \"hostname\": ...} as the first line"),
    ('{"syswarden_replay": 2}\n', "r.jsonl:1:1: unsupported replay version 2; this syswarden reads version 1"),
    (HEADER + "{nope}\n", "r.jsonl:2:2: expected a JSON object: Expecting property name enclosed in double quotes"),
    (HEADER + "[1]\n", "r.jsonl:2:1: expected a JSON object, got list"),
    (HEADER + '{"kind": "evnt"}\n',
     "r.jsonl:2:1: unknown record kind 'evnt'; expected \"thread\", \"fd\" or \"event\""),
    (HEADER + '{"kind": "event", "num": 1, "ts": 0, "tid": 1}\n',
     "r.jsonl:2:1: event record lacks required key 'type'"),
    (HEADER + '{"kind": "event", "num": 1, "ts": 0, "tid": 1, "type": "opne"}\n',
     "r.jsonl:2:1: unknown event type 'opne'; expected a Falco event name (openat, execve, ...)"),
    (HEADER + '{"kind": "event", "num": 1, "ts": 0, "tid": "1", "type": "open"}\n',
     "r.jsonl:2:1: event key 'tid' must be int, not str"),
    (HEADER + '{"kind": "event", "num": 1, "ts": 0, "tid": 1, "type": "close", "params": {"fdd": 1}}\n',
     ("r.jsonl:2:1: unknown parameter 'fdd' for event 'close'; expected one of fd, res (or a generic event's ID, "
      "nativeID)")),
    (HEADER + '{"kind": "event", "num": 1, "ts": 0, "tid": 1, "type": "close", "colour": 1}\n',
     ("r.jsonl:2:1: unknown key 'colour' in event record; expected one of cpu, dir, num, params, pid, res, source, "
      "state_only, tid, ts, type")),
    (HEADER + '{"kind": "fd", "tid": 1, "num": 3, "type": "socket"}\n',
     ("r.jsonl:2:1: unknown fd type 'socket'; expected one of file, directory, ipv4, ipv6, unix, pipe, event, "
      "signalfd, eventpoll, inotify, timerfd, netlink, bpf, userfaultfd, io_uring, memfd, pidfd, unknown")),
    (HEADER + '{"kind": "thread", "tid": 1, "pid": 1, "args": "x"}\n',
     "r.jsonl:2:1: thread key 'args' must be list, not str"),
    (HEADER + '{"kind": "event", "num": 1, "ts": 0, "tid": 1, "type": "write", "params": {"data": {"b64": "@@"}}}\n',
     "r.jsonl:2:1: \"b64\" is not valid base64: Only base64 data is allowed"),
]


@pytest.mark.parametrize(("content", "message"), BAD, ids=range(len(BAD)))
def test_malformed_files_give_exact_errors(tmp_path: Path, content: str, message: str) -> None:
    """Each malformed file fails with file:line:col and what was expected."""
    path = tmp_path / "r.jsonl"
    path.write_text(content)
    with pytest.raises(CaptureError) as info:
        read_jsonl(path)
    assert str(info.value).replace(str(tmp_path) + "/", "") == message
    assert info.value.exit_code == 2


def test_truncated_last_line_is_a_warning_and_keeps_the_rest(tmp_path: Path) -> None:
    """A last line cut mid-write is reported as a warning; every record before it is kept."""
    path = tmp_path / "r.jsonl"
    path.write_text(HEADER + THREAD + EVENT + EVENT[:40])
    with JsonlReader(path) as reader:
        recs = list(reader)
    assert len(recs) == 2
    assert [str(w).replace(str(tmp_path) + "/", "") for w in reader.warnings] == [
        ("r.jsonl:4:41: truncated last line (40 characters, no newline) ignored: expected a JSON object: "
         "Expecting ',' delimiter")]


def test_complete_last_line_without_newline_is_accepted(tmp_path: Path) -> None:
    """A hand-written file whose valid last line lacks a newline reads fully, without warnings."""
    path = tmp_path / "r.jsonl"
    path.write_text(HEADER + EVENT.rstrip("\n"))
    _, recs, warnings = read_jsonl(path)
    assert len(recs) == 1 and warnings == []


def test_missing_file_is_a_capture_error(tmp_path: Path) -> None:
    """A missing file is a CaptureError naming it, not an OSError."""
    with pytest.raises(CaptureError, match=r"nope\.jsonl: cannot open replay file: No such file or directory"):
        JsonlReader(tmp_path / "nope.jsonl")


def test_writer_to_path_then_reader(tmp_path: Path) -> None:
    """JsonlWriter on a path writes a header and records that JsonlReader reads back."""
    path = tmp_path / "w.jsonl"
    with JsonlWriter(path, "box") as w:
        w.write_thread(ThreadInfo(tid=5, pid=5, comm="sh"))
        w.write_fd(5, FdInfo(num=0, type=FdType.PIPE, name="pipe:[12]"))
        w.write_event(Event(num=1, ts=1, type="procexit", tid=5, dir=">"))
    header, recs, _ = read_jsonl(path)
    assert header.hostname == "box" and len(recs) == 3
    assert path.read_text().splitlines()[0] == '{"syswarden_replay":1,"hostname":"box"}'


def test_generic_and_meta_events_are_accepted() -> None:
    """A generic syscall (madvise with ID/nativeID) and capture metadata (useradded) read back."""
    text = HEADER + ('{"kind":"event","num":1,"ts":0,"tid":1,"type":"madvise","params":{"ID":28,"nativeID":28}}\n'
                     '{"kind":"event","num":2,"ts":0,"tid":-1,"type":"useradded","dir":">",'
                     '"params":{"uid":0,"gid":0,"name":"root","home":"/root","shell":"/bin/sh","container_id":""}}\n')
    _, recs, _ = read_jsonl(io.StringIO(text))
    assert [r.type for r in recs if isinstance(r, Event)] == ["madvise", "useradded"]


def _value_for(ptype: T.ParamType) -> st.SearchStrategy[object]:
    if ptype in (T.ParamType.FSPATH, T.ParamType.FSRELPATH, T.ParamType.CHARBUF):
        return text
    if ptype is T.ParamType.BYTEBUF:
        return st.binary(max_size=30) | st.lists(text, max_size=3)
    if ptype is T.ParamType.SOCKADDR:
        return st.builds(SockAddr, st.sampled_from(["AF_INET", "AF_UNIX"]), text, st.integers(0, 65535))
    if ptype is T.ParamType.SOCKTUPLE:
        return st.builds(SockTuple, st.just("AF_INET6"), text, st.integers(0, 65535), text, st.integers(0, 65535))
    if ptype is T.ParamType.FDLIST:
        return st.lists(st.tuples(st.integers(0, 2**20), st.integers(0, 65535)), max_size=3)
    return ints


@st.composite
def any_event(draw: st.DrawFn) -> Event:
    key = draw(st.sampled_from(sorted(T.EVENTS)))
    spec = T.EVENTS[key]
    chosen = draw(st.lists(st.sampled_from(spec.params), unique=True, max_size=len(spec.params))) if spec.params else []
    params = {p.name: draw(_value_for(p.type) | st.none()) for p in chosen}
    return Event(num=draw(st.integers(1, 2**40)), ts=draw(st.integers(0, 2**63)), type=spec.name, tid=draw(ints),
                 params=params, dir=spec.dir, res=draw(st.none() | ints))


@settings(max_examples=300, deadline=None)
@given(st.lists(any_event(), min_size=1, max_size=8))
def test_round_trip_any_event_of_the_table(evs: list[Event]) -> None:
    """Any event of the table, with values of its parameters' types, reads back equal."""
    _, back, _ = read_jsonl(io.StringIO(dumps_records(list(evs))))
    assert back == evs


def test_live_source_extension_params_round_trip_and_are_checked(tmp_path: Path) -> None:
    """The eBPF source's name_dirpath (and fchdir's cwd) survive a recording; a non-path value there is refused."""
    ev = Event(num=1, ts=1, type="openat", tid=7, params={"fd": 3, "dirfd": -100, "name": "rel",
                                                          "name_dirpath": "/srv/x", "flags": 0, "mode": 0})
    path = tmp_path / "r.jsonl"
    path.write_text(dumps_records([ev]))
    (got,) = [r for r in read_jsonl(path)[1] if isinstance(r, Event)]
    assert got.params["name_dirpath"] == "/srv/x"
    assert T.extension_params("fchdir") >= {"cwd"} and "name_dirpath" in T.extension_params("openat")
    check_param_values("openat", got.params)
    with pytest.raises(LineError, match="name_dirpath"):       # what the replay source checks per event
        check_param_values("openat", {**got.params, "name_dirpath": 5})


def test_a_compat_events_abi_survives_a_recording(tmp_path: Path) -> None:
    """An i386 or x32 event's ``abi`` (added by the live sources) reads back, so replay and ``evt.arg.abi`` rules
    see what the live run saw; it used to stop the replay ("unknown parameter 'abi'")."""
    evs = [Event(num=n, ts=n, type="openat", tid=7, params={"fd": 3, "dirfd": -100, "name": "/etc/shadow",
                                                              "flags": 0, "mode": 0, "abi": abi})
           for n, abi in ((1, "i386"), (2, "x32"))]
    path = tmp_path / "r.jsonl"
    path.write_text(dumps_records(evs))
    got = [r for r in read_jsonl(path)[1] if isinstance(r, Event)]
    assert [e.params["abi"] for e in got] == ["i386", "x32"]
    check_param_values("openat", got[0].params)
    with pytest.raises(LineError, match="abi"):
        check_param_values("openat", {**got[0].params, "abi": 32})
