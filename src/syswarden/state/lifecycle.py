"""Process lifecycle events -> thread table: clone/fork/vfork, execve/execveat, procexit, cwd and credentials.

Semantics follow libsinsp's parsers: a clone exit (seen in the parent with ``res`` = child tid, or in the child
with ``res`` = 0, whichever comes first) creates the child, which inherits the caller's identity, cwd,
credentials and container; a new process copies the fd table, a thread (or ``CLONE_FILES``) shares it.
A successful execve replaces comm/exe/exepath/args/env and closes close-on-exec fds. Each handler takes
``(state, event, thread, params)``, where ``params`` are the exit params merged over a legacy enter event's.
"""
from __future__ import annotations

from typing import Any

from syswarden.events.event import Event, ThreadInfo
from syswarden.state.containers import HOST, parse_cgroups_param
from syswarden.state.context import StateContext
from syswarden.state.exe_flags import EXE_FROM_MEMFD, EXE_LOWER_LAYER, EXE_UPPER_LAYER, EXE_WRITABLE
from syswarden.state.fds import close_on_exec, copy_table, join_path

CLONE_FILES = 0x400
CLONE_PARENT = 0x8000
CLONE_THREAD = 0x10000
FRESH_NS = 5_000_000_000          # a tid created within 5 s by the other side of the same clone is the same thread
_UNSET_ID = 4294967295

_INHERITED = ("comm", "exe", "exepath", "args", "env", "cwd", "uid", "gid", "euid", "egid", "loginuid", "tty",
              "sid", "vpgid", "exe_writable", "exe_upper_layer", "exe_lower_layer", "exe_from_memfd", "exe_ino",
              "exe_ino_ctime", "exe_ino_mtime", "cap_permitted", "cap_effective", "cap_inheritable", "container_id",
              "container_runtime")


def ret(event: Event, params: dict[str, Any]) -> int | None:
    """The syscall result: ``event.res``, else a ``res`` param."""
    if event.res is not None:
        return event.res
    value = params.get("res")
    return value if isinstance(value, int) else None


def strings(value: Any) -> list[str]:
    """argv/env as a list of strings, from a list or from NUL-separated bytes/str."""
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, bytes | bytearray):
        value = bytes(value).decode("utf-8", "surrogateescape")
    if isinstance(value, str):
        return [s for s in value.split("\0") if s] if value else []
    return []


def _int(params: dict[str, Any], key: str) -> int | None:
    value = params.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _set_ids(thread: ThreadInfo, uid: int | None = None, gid: int | None = None) -> None:
    # Falco's user.uid/group.gid are the effective ids; -1 (unchanged) arguments are ignored.
    if uid is not None and uid not in (-1, _UNSET_ID):
        thread.uid = thread.euid = uid
    if gid is not None and gid not in (-1, _UNSET_ID):
        thread.gid = thread.egid = gid


def _apply_identity(thread: ThreadInfo, params: dict[str, Any]) -> None:
    """Fields clone and execve exits both carry: exe, args, comm, cwd, ids, container."""
    if isinstance(params.get("exe"), str):
        thread.exe = params["exe"]
    if "args" in params:
        thread.args = strings(params["args"])
    if isinstance(params.get("comm"), str) and params["comm"]:
        thread.comm = params["comm"]
    if isinstance(params.get("cwd"), str) and params["cwd"]:
        thread.cwd = params["cwd"]
    _set_ids(thread, _int(params, "uid"), _int(params, "gid"))
    # 0: the source did not say (the parent's side of a clone); a namespace's ids start at 1
    if (_int(params, "vtid") or 0) > 0:
        thread.vtid = params["vtid"]
    if (_int(params, "vpid") or 0) > 0:
        thread.vpid = params["vpid"]
    if params.get("cgroups"):
        ref = parse_cgroups_param(params["cgroups"])
        thread.container_id, thread.container_runtime = ref.id, ref.runtime
        if ref is HOST:
            thread.container_id = thread.container_runtime = ""


def _spawn(st: StateContext, event: Event, params: dict[str, Any], src: ThreadInfo | None,
           tid: int, pid: int, ptid: int) -> ThreadInfo:
    flags = _int(params, "flags") or 0
    child = ThreadInfo(tid=tid, pid=pid, ptid=ptid, start_ts=event.ts)
    if src is not None:
        for name in _INHERITED:
            value = getattr(src, name)
            setattr(child, name, list(value) if isinstance(value, list) else value)
        shared = flags & (CLONE_THREAD | CLONE_FILES)
        child.fds = src.fds if shared else copy_table(src.fds)
    _apply_identity(child, params)
    if not child.comm and child.exe:
        child.comm = child.exe.rsplit("/", 1)[-1][:15]
    st.threads.add(child)
    st.stats.threads_created += 1
    return child


def _fresh(thread: ThreadInfo | None, ts: int) -> bool:
    return thread is not None and not thread.exited and 0 <= ts - thread.start_ts < FRESH_NS


def on_clone(st: StateContext, event: Event, thread: ThreadInfo | None, params: dict[str, Any]) -> ThreadInfo | None:
    """clone/clone3/fork/vfork exit: create the child from whichever side reports first."""
    res = ret(event, params)
    if res is None or res < 0:
        return thread
    flags = _int(params, "flags") or 0
    if res == 0:
        existing = st.threads.live(event.tid)
        if _fresh(existing, event.ts):
            return existing
        pid = _int(params, "pid") or event.pid or event.tid
        ptid = _int(params, "ptid") or 0
        src = st.threads.process_of(pid if flags & CLONE_THREAD else ptid)
        return _spawn(st, event, params, src, event.tid, pid, ptid)
    if thread is None or _fresh(st.threads.live(res), event.ts):
        return thread
    pid = thread.pid if flags & CLONE_THREAD else res
    ptid = thread.ptid if flags & (CLONE_THREAD | CLONE_PARENT) else thread.pid
    _spawn(st, event, params, thread, res, pid, ptid)
    return thread


def _exe_flags(thread: ThreadInfo, flags: int | None) -> None:
    if flags is None:
        return
    thread.exe_writable = bool(flags & EXE_WRITABLE)
    thread.exe_upper_layer = bool(flags & EXE_UPPER_LAYER)
    thread.exe_lower_layer = bool(flags & EXE_LOWER_LAYER)
    thread.exe_from_memfd = bool(flags & EXE_FROM_MEMFD)


def on_execve(st: StateContext, event: Event, thread: ThreadInfo | None, params: dict[str, Any]) -> ThreadInfo | None:
    """execve/execveat exit: on success the process image changes; close-on-exec fds are closed."""
    res = ret(event, params)
    if thread is None or (res is not None and res != 0):
        return thread
    placeholder = not thread.comm
    _apply_identity(thread, params)
    path = params.get("trusted_exepath") or params.get("filename")
    if isinstance(path, str) and path:
        thread.exepath = path
    elif thread.exe.startswith("/"):
        thread.exepath = thread.exe
    if "comm" not in params and (thread.exepath or thread.exe):
        thread.comm = (thread.exepath or thread.exe).rsplit("/", 1)[-1][:15]
    if "env" in params:
        thread.env = strings(params["env"])
    for key in ("tty", "cap_inheritable", "cap_permitted", "cap_effective", "exe_ino", "exe_ino_ctime",
                "exe_ino_mtime"):
        if _int(params, key) is not None:
            setattr(thread, key, params[key])
    if _int(params, "loginuid") is not None:
        thread.loginuid = -1 if params["loginuid"] in (_UNSET_ID, -1) else params["loginuid"]
    _exe_flags(thread, _int(params, "flags"))
    vpgid = _int(params, "vpgid")
    if vpgid is not None and vpgid > 0:
        # the kernel's group at the exec, as Falco reads it: a job-control shell's setpgid between fork and
        # exec is not traced, and a setpgid of another process cannot be followed from its caller's event
        # (0: the source did not say, or the group's leader is outside the namespace; the inherited one stays)
        thread.vpgid = vpgid
    if placeholder:
        _adopt_ids(st, thread, params)
    close_on_exec(thread.fds)
    for other in st.threads.threads_of(thread.pid):
        if other is not thread:       # a successful exec kills every other thread of the process
            st.threads.remove(other.tid)
    return thread


def _adopt_ids(st: StateContext, thread: ThreadInfo, params: dict[str, Any]) -> None:
    """A thread first seen at its execve learns its pid/ptid from the event and links its parent."""
    if _int(params, "pid"):
        thread.pid = params["pid"]
    if _int(params, "ptid"):
        thread.ptid = params["ptid"]
        thread.parent = None
        st.threads.link_parent(thread)


def on_procexit(st: StateContext, event: Event, thread: ThreadInfo | None, params: dict[str, Any]) -> ThreadInfo | None:
    """procexit: the thread leaves the live table (children keep their ``parent`` reference)."""
    st.threads.remove(event.tid)
    st.forget_enter(event.tid)
    return thread


def on_chdir(st: StateContext, event: Event, thread: ThreadInfo | None, params: dict[str, Any]) -> ThreadInfo | None:
    """chdir/fchdir exit: the process's cwd (shared by its threads) changes."""
    if thread is None or ret(event, params) not in (0, None):
        return thread
    if event.type == "chdir":
        path = params.get("path")
        new = join_path(thread.cwd, path) if isinstance(path, str) else ""
    else:
        num = _int(params, "fd")
        fd = thread.fds.get(num if num is not None else -1)
        new = fd.name if fd is not None else ""
        # the eBPF probe adds the cwd it walked after the call: right even when the fd's open was filtered
        cwd = params.get("cwd")
        if isinstance(cwd, str) and cwd.startswith("/"):
            new = cwd
    if new:
        for t in {id(x): x for x in (thread, *st.threads.threads_of(thread.pid))}.values():
            t.cwd = new
    return thread


_CRED_PARAMS = {
    "setuid": ("uid", None), "setgid": (None, "gid"), "setreuid": ("euid", None), "setregid": (None, "egid"),
    "setresuid": ("euid", None), "setresgid": (None, "egid"),
}


def on_setid(st: StateContext, event: Event, thread: ThreadInfo | None, params: dict[str, Any]) -> ThreadInfo | None:
    """setuid family exit: the effective uid/gid of the calling thread changes on success."""
    if thread is None or ret(event, params) not in (0, None):
        return thread
    ukey, gkey = _CRED_PARAMS[event.type]
    _set_ids(thread, _int(params, ukey) if ukey else None, _int(params, gkey) if gkey else None)
    return thread


def on_capset(st: StateContext, event: Event, thread: ThreadInfo | None, params: dict[str, Any]) -> ThreadInfo | None:
    """capset exit: the thread's capability sets change on success."""
    if thread is not None and ret(event, params) in (0, None):
        for key in ("cap_inheritable", "cap_permitted", "cap_effective"):
            if _int(params, key) is not None:
                setattr(thread, key, params[key])
    return thread


def on_setsid(st: StateContext, event: Event, thread: ThreadInfo | None, params: dict[str, Any]) -> ThreadInfo | None:
    """setsid exit: the new session id is the result, and (as the kernel does) the caller also leads a new process
    group of that id, so ``proc.is_vpgid_leader`` holds for what it runs next (Falco reads the pgid at execve)."""
    res = ret(event, params)
    if thread is not None and res is not None and res > 0:
        thread.sid = thread.vpgid = res
    return thread


HANDLERS = {
    **dict.fromkeys(("clone", "clone3", "fork", "vfork"), on_clone),
    **dict.fromkeys(("execve", "execveat"), on_execve),
    "procexit": on_procexit,
    **dict.fromkeys(("chdir", "fchdir"), on_chdir),
    **dict.fromkeys(tuple(_CRED_PARAMS), on_setid),
    "capset": on_capset,
    "setsid": on_setsid,
}
"""Lifecycle handlers by event name."""

CREATES_THREAD = frozenset({"clone", "clone3", "fork", "vfork"})

__all__ = ["HANDLERS", "CREATES_THREAD", "ret", "strings", "CLONE_THREAD", "CLONE_FILES"]
