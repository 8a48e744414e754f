"""What state tells the kernel prefilter it needs: every handler type is classified, and the claim behind
``ON_SUCCESS`` holds for the real handlers: a failed call of those types leaves every table as it was (while a
successful one changes it, so the comparison can fail)."""
from __future__ import annotations

import copy
from typing import Any

import pytest

from syswarden.events import types as T
from syswarden.events.event import Event, FdInfo, FdType, SockAddr, SockTuple, ThreadInfo
from syswarden.events.prefilter import RetSign
from syswarden.state import State, prefilter_needs
from syswarden.state.state import HANDLERS


def test_every_handler_type_is_classified() -> None:
    classified = set(prefilter_needs.ALWAYS) | set(prefilter_needs.ON_SUCCESS) | prefilter_needs.OPENS
    assert set(HANDLERS) == classified
    assert not set(prefilter_needs.ALWAYS) & set(prefilter_needs.ON_SUCCESS)


def test_needs_boxes() -> None:
    needs = prefilter_needs.needs(keep_file_fds=("rule 'r' reads fd state on write",))
    opens = needs["openat"]
    assert opens[0].ret is RetSign.OK and opens[0].returns_dir
    assert opens[1].ret is RetSign.OK and not opens[1].returns_dir and opens[1].origins == (
        "rule 'r' reads fd state on write",)
    assert len(prefilter_needs.needs()["openat"]) == 1          # no rule reads file fds: directories only
    assert needs["close"][0].ret is RetSign.OK
    assert not needs["connect"][0].constrained()
    assert set(prefilter_needs.needs(["openat", "read"])) == {"openat"}


def _state() -> tuple[State, ThreadInfo]:
    state = State()
    parent = ThreadInfo(tid=10, pid=10, ptid=1, comm="bash", exe="bash", exepath="/bin/bash", cwd="/root",
                        uid=0, gid=0)
    proc = ThreadInfo(tid=20, pid=20, ptid=10, comm="cat", exe="cat", exepath="/bin/cat", cwd="/tmp", uid=1000,
                      gid=1000)
    proc.fds = {3: FdInfo(3, FdType.FILE, "/etc/passwd"), 4: FdInfo(4, FdType.IPV4, "1.2.3.4:5->6.7.8.9:80"),
                5: FdInfo(5, FdType.DIRECTORY, "/etc")}
    state.seed([parent, proc])
    return state, proc


def _tables(state: State) -> Any:
    """Everything state keeps that later events read: threads with their identity, cwd and fds."""
    out = []
    for thread in sorted(state.threads, key=lambda t: t.tid):
        fds = {n: (f.type, f.name, f.flags, f.is_server, f.connected) for n, f in thread.fds.items()}
        out.append((thread.tid, thread.comm, thread.exepath, thread.cwd, thread.uid, thread.euid, thread.gid,
                    thread.sid, thread.cap_effective, fds))
    return out, state.stats.threads_created


def _params(etype: str, res: int) -> dict[str, Any]:
    spec = T.event_spec(etype, "<")
    assert spec is not None
    params: dict[str, Any] = {}
    for p in spec.params:
        if p.name == "res":
            params[p.name] = res
        elif p.type is T.ParamType.FD:
            params[p.name] = {"fd": 3, "oldfd": 3, "newfd": 7, "fd1": 8, "fd2": 9}.get(p.name, res if res >= 0 else 5)
        elif p.type in (T.ParamType.FSPATH, T.ParamType.FSRELPATH, T.ParamType.CHARBUF):
            params[p.name] = "/var/tmp"
        elif p.type is T.ParamType.SOCKTUPLE:
            params[p.name] = SockTuple("AF_INET", "10.0.0.1", 4000, "1.1.1.1", 53, "udp")
        elif p.type is T.ParamType.SOCKADDR:
            params[p.name] = SockAddr("AF_INET", "1.1.1.1", 53)
        elif p.type in (T.ParamType.UID, T.ParamType.GID):
            params[p.name] = 4242
        elif p.type is T.ParamType.PID:
            params[p.name] = 20
        elif p.type is T.ParamType.BYTEBUF:
            params[p.name] = b""
        else:
            params[p.name] = 2 if etype == "socket" and p.name == "domain" else 0
    if etype in ("fcntl",):
        params["cmd"] = 1030
    return params


def _apply(etype: str, res: int) -> tuple[Any, Any]:
    state, proc = _state()
    before = copy.deepcopy(_tables(state))
    state.apply(Event(1, 1, etype, proc.tid, _params(etype, res), res=res, pid=proc.pid))
    return before, _tables(state)


ON_SUCCESS = sorted(set(prefilter_needs.ON_SUCCESS) | prefilter_needs.OPENS)


@pytest.mark.parametrize("etype", ON_SUCCESS)
def test_a_failed_call_changes_nothing(etype: str) -> None:
    before, after = _apply(etype, -13)
    assert before == after


@pytest.mark.parametrize("etype", ["openat", "close", "dup2", "fcntl", "socket", "pipe", "accept", "clone",
                                   "setuid", "chdir", "execve", "memfd_create"])
def test_a_successful_call_does_change_state(etype: str) -> None:
    res = {"openat": 6, "dup2": 7, "fcntl": 7, "socket": 6, "accept": 6, "clone": 31, "memfd_create": 6}.get(etype, 0)
    before, after = _apply(etype, res)
    assert before != after
