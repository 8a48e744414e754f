"""``PtraceSource``: the events of one command's process tree, captured with ptrace (no root, no eBPF).

It produces the same Falco-named events as the eBPF source: syscall exits (arguments read while the tracee
is stopped at the exit), the new task's ``clone`` with res 0, ``execve`` from the new image, ``procexit``.
Syscalls outside ``config.event_types`` (plus state's needs) are restarted without being decoded.
"""
from __future__ import annotations

import os
from collections.abc import Iterator

from syswarden.errors import SourceError
from syswarden.events.event import Event, ThreadInfo
from syswarden.kernel import ptrace
from syswarden.sources.base import SourceConfig, SourceStats
from syswarden.sources.ptrace.decode import PtraceDecoder, exec_params
from syswarden.sources.ptrace.tracer import Stop, StopKind, Tracer
from syswarden.sources.syscall_decode import syscall_names_for
from syswarden.sources.targets import required_event_types, seed_threads
from syswarden.syscalls import tables
from syswarden.syscalls.arch import Arch

_FORK_EVENT_NAMES = {ptrace.PTRACE_EVENT_FORK: "fork", ptrace.PTRACE_EVENT_VFORK: "vfork",
                     ptrace.PTRACE_EVENT_CLONE: "clone"}
_CLONE_THREAD = 0x10000


class PtraceSource:
    """Traces ``config.command``; ``events()`` ends when its whole tree has exited."""

    def __init__(self, config: SourceConfig) -> None:
        if not config.command:
            raise SourceError("the ptrace source needs a command to start (syswarden monitor -- CMD)")
        self.config = config
        self.stats = SourceStats()
        self._decoder = PtraceDecoder()
        self._arch = Arch.native()
        wanted = None if config.event_types is None else frozenset(config.event_types) | required_event_types()
        self._wanted: dict[int, str] = {}
        for name in syscall_names_for(wanted):
            nr = tables.number(self._arch, name)
            if nr is not None:
                self._wanted[nr] = name
        self._entries: dict[int, tuple[int, tuple[int, ...], str]] = {}
        self._tgid: dict[int, int] = {}
        self._tracer = Tracer(config.command)
        self._tgid[self._tracer.root] = self._tracer.root

    @property
    def exit_code(self) -> int | None:
        """The command's exit status once it has exited."""
        status = self._tracer.exit_status
        return None if status is None else os.waitstatus_to_exitcode(status)

    def initial_threads(self) -> Iterator[ThreadInfo]:
        """Every process alive now, from /proc, so the command's parent and ancestors have full context."""
        return seed_threads()

    def events(self) -> Iterator[Event]:
        """Events of the traced tree, in the order the tracees stopped."""
        try:
            for stop in self._tracer.stops():
                event = self._on_stop(stop)
                if event is not None:
                    self.stats.events += 1
                    yield event
        except BaseException:
            self.close()
            raise

    def _pid_of(self, tid: int) -> int:
        pid = self._tgid.get(tid)
        if pid is None:
            pid = _tgid_from_proc(tid)
            self._tgid[tid] = pid
        return pid

    def _on_stop(self, stop: Stop) -> Event | None:
        kind, tid = stop.kind, stop.tid
        if kind is StopKind.ENTRY:
            name = self._wanted.get(stop.nr)
            if name is not None:
                filename = ""
                if name in ("execve", "execveat"):
                    # The path lives in the old image: read it before the exec replaces it.
                    ptr = stop.args[1 if name == "execveat" else 0]
                    filename = ptrace.read_string(tid, ptr).decode("utf-8", "surrogateescape")
                self._entries[tid] = (stop.nr, stop.args, filename)
            return None
        if kind is StopKind.EXIT:
            entry = self._entries.pop(tid, None)
            if entry is None:
                return None
            name = self._wanted[entry[0]]
            if name in ("execve", "execveat") and stop.rval == 0:
                self._tgid[tid] = tid
                return self._decoder.event(name, tid, tid, exec_params(tid, tid, entry[2]), 0)
            return self._decoder.syscall(name, tid, self._pid_of(tid), entry[1], stop.rval)
        if kind is StopKind.NEW_TASK:
            child = stop.child
            parent_pid = self._pid_of(tid)
            name, flags = self._clone_call(tid, stop.event)
            is_thread = bool(flags & _CLONE_THREAD) or _tgid_from_proc(child) == parent_pid != child
            self._tgid[child] = parent_pid if is_thread else child
            ptid = _ppid_from_proc(parent_pid) if is_thread else parent_pid
            return self._decoder.child(name, child, self._tgid[child], ptid, flags)
        if kind is StopKind.EXITED:
            self._entries.pop(tid, None)
            return self._decoder.exit(tid, self._tgid.pop(tid, tid), stop.status)
        return None

    def _clone_call(self, tid: int, event: int) -> tuple[str, int]:
        """Which syscall created the new task, and its clone flags (clone3 keeps them in user memory)."""
        entry = self._entries.get(tid)
        name = self._wanted.get(entry[0], "") if entry else ""
        if name == "clone3" and entry:
            raw = ptrace.read_memory(tid, entry[1][0], 8)
            return name, int.from_bytes(raw, "little") if len(raw) == 8 else 0
        if name == "clone" and entry:
            return name, entry[1][0]
        return _FORK_EVENT_NAMES.get(event, "clone"), 0

    def close(self) -> None:
        """Kill and reap whatever is still traced."""
        self._tracer.close()

    def __enter__(self) -> "PtraceSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _status_field(tid: int, key: str) -> int:
    try:
        with open(f"/proc/{tid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return tid if key == "Tgid" else 0


def _tgid_from_proc(tid: int) -> int:
    return _status_field(tid, "Tgid")


def _ppid_from_proc(pid: int) -> int:
    return _status_field(pid, "PPid")
