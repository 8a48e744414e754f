"""The ``proc.*`` field class: the process of the calling thread, its parent and its ancestors.

Values come from the ``ThreadInfo`` state attached to the event; an event without one gives ``<NA>`` for every
field. Ancestor fields take an index (``proc.aname[0]`` is the process itself, ``[1]`` its parent); without an
index they are multi-valued over every ancestor from the parent up, so ``proc.aname = sshd`` is true when any
ancestor is ``sshd`` (libsinsp's behaviour).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from syswarden.events.event import Event, ThreadInfo
from syswarden.rules.fields.model import ArgKind, Extractor, FieldSpec, FieldType
from syswarden.rules.fields.model import thread_field as _thread

_MAX_ANCESTORS = 256     # guards against a loop in a corrupt parent chain




def _parent(fn: Callable[[ThreadInfo], Any]) -> Callable[[str | None], Extractor]:
    """A field of the parent process."""
    return _thread(lambda t: fn(t.parent) if t.parent is not None else None)


def _ancestors(thread: ThreadInfo) -> list[ThreadInfo]:
    out: list[ThreadInfo] = []
    node = thread.parent
    while node is not None and len(out) < _MAX_ANCESTORS:
        out.append(node)
        node = node.parent
    return out


def _ancestor(fn: Callable[[ThreadInfo], Any]) -> Callable[[str | None], Extractor]:
    """``proc.aX[N]``: the N-th ancestor (0 = self); without N, every ancestor from the parent up."""
    def make(arg: str | None) -> Extractor:
        if arg is None:
            def extract_all(event: Event) -> Any:
                if event.thread is None:
                    return None
                values = tuple(v for v in (fn(a) for a in _ancestors(event.thread)) if v is not None)
                return values or None
            return extract_all
        depth = int(arg)

        def extract(event: Event) -> Any:
            node = event.thread
            for _ in range(depth):
                if node is None:
                    return None
                node = node.parent
            return fn(node) if node is not None else None
        return extract
    return make


def _env(arg: str | None) -> Extractor:
    """``proc.env`` (all, space separated) or ``proc.env[NAME]`` (one variable's value)."""
    def extract(event: Event) -> Any:
        thread = event.thread
        if thread is None:
            return None
        if arg is None:
            return " ".join(thread.env)
        prefix = arg + "="
        return next((e[len(prefix):] for e in thread.env if e.startswith(prefix)), None)
    return extract


def _duration(_arg: str | None) -> Extractor:
    def extract(event: Event) -> int | None:
        thread = event.thread
        if thread is None or not thread.start_ts:
            return None
        return max(event.ts - thread.start_ts, 0)
    return extract


def _leader(key: Callable[[ThreadInfo], int], is_leader: Callable[[ThreadInfo], bool]) -> Callable[
        [ThreadInfo], ThreadInfo | None]:
    """The group leader libsinsp names: the process that leads the group (``is_leader``), else the eldest
    ancestor still in the same group (``key``); None when even the process itself is not in a group."""
    def find(thread: ThreadInfo) -> ThreadInfo | None:
        group = key(thread)
        node: ThreadInfo | None = thread
        eldest: ThreadInfo | None = None
        for _ in range(_MAX_ANCESTORS):
            if node is None or key(node) != group:
                break
            if is_leader(node):
                return node
            eldest, node = node, node.parent
        return eldest
    return find


_session_leader = _leader(lambda t: t.sid, lambda t: t.sid == (t.vpid or t.pid))
_group_leader = _leader(lambda t: t.vpgid, lambda t: t.vpgid == (t.vpid or t.pid))


def _of_leader(find: Callable[[ThreadInfo], ThreadInfo | None],
               fn: Callable[[ThreadInfo], Any]) -> Callable[[ThreadInfo], Any]:
    def value(thread: ThreadInfo) -> Any:
        leader = find(thread)
        return fn(leader) if leader is not None else None
    return value


def _login_shell(thread: ThreadInfo) -> int | None:
    """proc.loginshellid: the pid of the eldest shell among the process and its ancestors."""
    found = None
    node: ThreadInfo | None = thread
    for _ in range(_MAX_ANCESTORS):
        if node is None:
            break
        if node.comm in _SHELLS:
            found = node.pid
        node = node.parent
    return found


_SHELLS = frozenset({"sh", "bash", "zsh", "ksh", "csh", "tcsh", "dash", "ash", "fish"})


def _parent_duration(_arg: str | None) -> Extractor:
    def extract(event: Event) -> int | None:
        parent = event.thread.parent if event.thread is not None else None
        if parent is None or not parent.start_ts:
            return None
        return max(event.ts - parent.start_ts, 0)
    return extract


def _nonzero(value: int) -> int | None:
    return value if value else None


def _ctime_since_start(t: ThreadInfo) -> int | None:
    if not t.exe_ino_ctime or not t.start_ts:
        return None
    return t.start_ts - t.exe_ino_ctime


def _comm(t: ThreadInfo) -> str | None:
    """A thread state knows only by its tid (empty comm, libsinsp's "invalid" thread) has no name: <NA>."""
    return t.comm or None


def _cmdline(t: ThreadInfo) -> str:
    return t.cmdline


def _exeline(t: ThreadInfo) -> str:
    return " ".join([t.exe, *t.args])


S, P, N, B = FieldType.CHARBUF, FieldType.FSPATH, FieldType.INT64, FieldType.BOOL
IDX = ArgKind.INDEX_OPTIONAL

FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("proc.pid", N, "Process id (thread group id).", _thread(lambda t: t.pid),
              inline='(None if (t := e.thread) is None else t.pid)'),
    FieldSpec("proc.ppid", N, "Parent process id.", _thread(lambda t: t.parent.pid if t.parent else t.ptid)),
    FieldSpec("proc.vpid", N, "Process id as seen in its own pid namespace.", _thread(lambda t: t.vpid),
              inline='(None if (t := e.thread) is None else t.vpid)'),
    FieldSpec("proc.pvpid", N, "Parent's process id in its pid namespace.", _parent(lambda t: t.vpid)),
    FieldSpec("proc.name", S, "Process name: the kernel's comm (up to 15 characters).", _thread(_comm),
              inline='(None if (t := e.thread) is None else (t.comm or None))'),
    FieldSpec("proc.exe", S, "First command-line argument (argv[0]) as executed.", _thread(lambda t: t.exe),
              inline='(None if (t := e.thread) is None else t.exe)'),
    FieldSpec("proc.exepath", P, "Full path of the executable.", _thread(lambda t: t.exepath),
              inline='(None if (t := e.thread) is None else t.exepath)'),
    FieldSpec("proc.exeline", S, "argv[0] followed by the arguments.", _thread(_exeline)),
    FieldSpec("proc.cmdline", S, "Process name followed by the arguments, space separated.", _thread(_cmdline),
              inline='(None if (t := e.thread) is None else t.cmdline)'),
    FieldSpec("proc.args", S, "Arguments (argv[1:]), space separated.", _thread(lambda t: " ".join(t.args))),
    FieldSpec("proc.cmdnargs", FieldType.UINT64, "Number of arguments.", _thread(lambda t: len(t.args))),
    FieldSpec("proc.cmdlenargs", FieldType.UINT64, "Total length of the arguments, without separators.",
              _thread(lambda t: sum(len(a) for a in t.args))),
    FieldSpec("proc.env", S, "Environment, space separated; proc.env[NAME] gives one variable's value.",
              _env, ArgKind.KEY_OPTIONAL),
    FieldSpec("proc.cwd", P, "Current working directory.", _thread(lambda t: t.cwd or None)),
    FieldSpec("proc.tty", FieldType.UINT32, "Controlling terminal (0 when none).", _thread(lambda t: t.tty),
              inline='(None if (t := e.thread) is None else t.tty)'),
    FieldSpec("proc.sid", N, "Session id.", _thread(lambda t: t.sid)),
    FieldSpec("proc.sname", S, "Name of the session leader (or of the eldest ancestor in the same session).",
              _thread(_of_leader(_session_leader, lambda t: t.comm))),
    FieldSpec("proc.sid.exe", S, "argv[0] of the session leader.",
              _thread(_of_leader(_session_leader, lambda t: t.exe))),
    FieldSpec("proc.sid.exepath", P, "Executable path of the session leader.",
              _thread(_of_leader(_session_leader, lambda t: t.exepath))),
    FieldSpec("proc.vpgid.name", S, "Name of the process group leader.",
              _thread(_of_leader(_group_leader, lambda t: t.comm))),
    FieldSpec("proc.vpgid.exe", S, "argv[0] of the process group leader.",
              _thread(_of_leader(_group_leader, lambda t: t.exe))),
    FieldSpec("proc.vpgid.exepath", P, "Executable path of the process group leader.",
              _thread(_of_leader(_group_leader, lambda t: t.exepath))),
    FieldSpec("proc.loginshellid", N, "Pid of the eldest shell among the process and its ancestors.",
              _thread(_login_shell)),
    FieldSpec("proc.vpgid", N, "Process group id in the pid namespace.", _thread(lambda t: t.vpgid)),
    FieldSpec("proc.is_vpgid_leader", B, "true when the process leads its process group.",
              _thread(lambda t: t.vpgid == (t.vpid or t.pid))),
    FieldSpec("proc.is_sid_leader", B, "true when the process leads its session (proc.sid == proc.vpid).",
              _thread(lambda t: t.sid == (t.vpid or t.pid))),
    FieldSpec("proc.pname", S, "Parent's name.", _parent(_comm),
              inline='(None if (t := e.thread) is None or (p := t.parent) is None else (p.comm or None))'),
    FieldSpec("proc.pcmdline", S, "Parent's command line.", _parent(_cmdline),
              inline='(None if (t := e.thread) is None or (p := t.parent) is None else p.cmdline)'),
    FieldSpec("proc.pexe", S, "Parent's argv[0].", _parent(lambda t: t.exe),
              inline='(None if (t := e.thread) is None or (p := t.parent) is None else p.exe)'),
    FieldSpec("proc.pexepath", P, "Parent's executable path.", _parent(lambda t: t.exepath),
              inline='(None if (t := e.thread) is None or (p := t.parent) is None else p.exepath)'),
    FieldSpec("proc.aname", S, "Ancestor name: [0] self, [1] parent ...; without index, any ancestor.",
              _ancestor(_comm), IDX, multi_without_arg=True),
    FieldSpec("proc.aexe", S, "Ancestor argv[0]; indexed like proc.aname.",
              _ancestor(lambda t: t.exe), IDX, multi_without_arg=True),
    FieldSpec("proc.aexepath", P, "Ancestor executable path; indexed like proc.aname.",
              _ancestor(lambda t: t.exepath), IDX, multi_without_arg=True),
    FieldSpec("proc.acmdline", S, "Ancestor command line; indexed like proc.aname.",
              _ancestor(_cmdline), IDX, multi_without_arg=True),
    FieldSpec("proc.apid", N, "Ancestor process id; indexed like proc.aname.",
              _ancestor(lambda t: t.pid), IDX, multi_without_arg=True),
    FieldSpec("proc.duration", FieldType.RELTIME, "Nanoseconds since the process started.", _duration),
    FieldSpec("proc.pid.ts", FieldType.RELTIME, "Process start time, ns since the epoch.",
              _thread(lambda t: _nonzero(t.start_ts))),
    FieldSpec("proc.ppid.ts", FieldType.RELTIME, "Parent's start time, ns since the epoch.",
              _parent(lambda t: _nonzero(t.start_ts))),
    FieldSpec("proc.ppid.duration", FieldType.RELTIME, "Nanoseconds since the parent started.", _parent_duration),
    FieldSpec("proc.is_exe_writable", B, "true when the executable is writable by the process's user.",
              _thread(lambda t: t.exe_writable), inline='(None if (t := e.thread) is None else t.exe_writable)'),
    FieldSpec("proc.is_exe_upper_layer", B, "true when the executable lives in an overlayfs upper layer.",
              _thread(lambda t: t.exe_upper_layer), inline='(None if (t := e.thread) is None else t.exe_upper_layer)'),
    FieldSpec("proc.is_exe_lower_layer", B, "true when the executable lives in an overlayfs lower layer.",
              _thread(lambda t: t.exe_lower_layer), inline='(None if (t := e.thread) is None else t.exe_lower_layer)'),
    FieldSpec("proc.is_exe_from_memfd", B, "true when the executable is a memfd (fileless execution).",
              _thread(lambda t: t.exe_from_memfd), inline='(None if (t := e.thread) is None else t.exe_from_memfd)'),
    FieldSpec("proc.exe_ino", N, "Inode number of the executable.", _thread(lambda t: _nonzero(t.exe_ino))),
    FieldSpec("proc.exe_ino.ctime", FieldType.ABSTIME, "Last status change of the executable's inode (ns).",
              _thread(lambda t: _nonzero(t.exe_ino_ctime))),
    FieldSpec("proc.exe_ino.mtime", FieldType.ABSTIME, "Last modification of the executable's inode (ns).",
              _thread(lambda t: _nonzero(t.exe_ino_mtime))),
    FieldSpec("proc.exe_ino.ctime_duration_proc_start", FieldType.ABSTIME,
              "Nanoseconds between the executable's ctime and the process start.", _thread(_ctime_since_start)),
)
