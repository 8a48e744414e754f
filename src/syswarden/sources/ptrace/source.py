"""``PtraceSource``: the events of one command's process tree, captured with ptrace (no root, no eBPF).

It produces the same Falco-named events as the eBPF source: syscall exits (arguments read while the tracee
is stopped at the exit), the new task's ``clone`` with res 0, ``execve`` from the new image, ``procexit``.
Syscalls outside ``config.event_types`` are restarted without being decoded.
"""
from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from syswarden.errors import SourceError
from syswarden.events.event import Event, ThreadInfo
from syswarden.kernel import ptrace
from syswarden.sources.base import SourceConfig, SourceStats
from syswarden.sources.ptrace.decode import PtraceDecoder, exec_params
from syswarden.sources.ptrace.tracer import Stop, StopKind, Tracer
from syswarden.events.types import ABI_PARAM
from syswarden.sources.compat import (ABI_LABELS, I386_NR_SOCKETCALL, SOCKETCALL_NARGS, Abi, CompatCall,
                                      abi_of, compat_args, numbers_for)
from syswarden.sources.syscall_decode import syscall_names_for
from syswarden.sources.targets import seed_threads
from syswarden.syscalls.arch import X32_SYSCALL_BIT

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
        names = syscall_names_for(config.event_types)
        # (abi, number) -> call, for every ABI a task can call through (i386 numbers differ from x86_64 ones)
        self._wanted: dict[tuple[Abi, int], CompatCall] = {
            (abi, nr): call for abi in Abi for nr, call in numbers_for(abi, names).items()}
        self._buffers, self._snaplen = config.buffer_types, config.snaplen
        self._entries: dict[int, _Entry] = {}
        self._tgid: dict[int, int] = {}
        self._tracer = Tracer(config.command)
        self._tgid[self._tracer.root] = self._tracer.root

    @property
    def exit_code(self) -> int | None:
        """The command's exit status once it has exited."""
        status = self._tracer.exit_status
        return None if status is None else os.waitstatus_to_exitcode(status)

    def set_buffer_types(self, buffer_types: frozenset[str]) -> None:
        """Read the I/O buffer (``config.snaplen`` bytes) of these event types only."""
        self._buffers = buffer_types

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
            entry = self._entry(stop)
            if entry is not None:
                self._entries[tid] = entry
            return None
        if kind is StopKind.EXIT:
            entry = self._entries.pop(tid, None)
            if entry is None:
                return None
            name = entry.call.name
            # an i386 call returns a 32-bit value
            rval = _i32(stop.rval) if entry.abi in (Abi.I386, Abi.SOCKETCALL) else stop.rval
            if name in ("execve", "execveat") and rval == 0:
                self._tgid[tid] = tid
                event = self._decoder.event(name, tid, tid, exec_params(tid, tid, entry.filename), 0)
                if entry.abi is not Abi.X64:
                    event.params[ABI_PARAM] = ABI_LABELS[entry.abi]
                return event
            snaplen = self._snaplen if name in self._buffers else 0
            return self._decoder.syscall(name, tid, self._pid_of(tid), entry.args, rval, entry.abi, snaplen)
        if kind is StopKind.NEW_TASK:
            child = stop.child
            parent_pid = self._pid_of(tid)
            name, flags = self._clone_call(tid, stop.event)
            is_thread = bool(flags & _CLONE_THREAD) or _tgid_from_proc(child) == parent_pid != child
            self._tgid[child] = parent_pid if is_thread else child
            ptid = _ppid_from_proc(parent_pid) if is_thread else parent_pid
            event = self._decoder.child(name, child, self._tgid[child], ptid, flags)
            entry = self._entries.get(tid)
            if entry is not None and entry.abi is not Abi.X64:
                event.params[ABI_PARAM] = ABI_LABELS[entry.abi]   # the child returns from the same compat call
            return event
        if kind is StopKind.EXITED:
            self._entries.pop(tid, None)
            return self._decoder.exit(tid, self._tgid.pop(tid, tid), stop.status)
        return None

    def _entry(self, stop: Stop) -> _Entry | None:
        """The wanted call this entry stop starts (its ABI, number and widened arguments), or None."""
        abi = abi_of(stop.arch, stop.nr)
        nr, args = stop.nr, stop.args
        if abi is Abi.X32:
            nr &= ~X32_SYSCALL_BIT
        elif abi is Abi.I386:
            # the i386 gate keeps the low 32 bits of each register; 64-bit code may leave junk above them
            nr, args = nr & 0xFFFFFFFF, tuple(a & 0xFFFFFFFF for a in args)
            if nr == I386_NR_SOCKETCALL:
                abi, nr, args = Abi.SOCKETCALL, args[0], _socketcall_args(stop.tid, args[0], args[1])
        call = self._wanted.get((abi, nr))
        if call is None:
            return None
        args = compat_args(abi, call, args)
        filename = ""
        if call.name in ("execve", "execveat"):
            # The path lives in the old image: read it before the exec replaces it.
            ptr = args[1 if call.name == "execveat" else 0]
            filename = ptrace.read_string(stop.tid, ptr).decode("utf-8", "surrogateescape")
        return _Entry(abi, nr, call, args, filename)

    def _clone_call(self, tid: int, event: int) -> tuple[str, int]:
        """Which syscall created the new task, and its clone flags (clone3 keeps them in user memory)."""
        entry = self._entries.get(tid)
        name = entry.call.name if entry else ""
        if name == "clone3" and entry:
            raw = ptrace.read_memory(tid, entry.args[0], 8)
            return name, int.from_bytes(raw, "little") if len(raw) == 8 else 0
        if name == "clone" and entry:
            return name, entry.args[0]
        return _FORK_EVENT_NAMES.get(event, "clone"), 0

    def close(self) -> None:
        """Kill and reap whatever is still traced."""
        self._tracer.close()

    def __enter__(self) -> "PtraceSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True, slots=True)
class _Entry:
    """A wanted syscall between its entry and exit stops."""

    abi: Abi
    nr: int
    call: CompatCall
    args: tuple[int, ...]
    filename: str          # execve's path, read at entry (the exec replaces the memory holding it)


def _socketcall_args(tid: int, call: int, uargs: int) -> tuple[int, ...]:
    """socketcall's sub-call arguments: as many 32-bit words at ``uargs`` as the kernel reads for ``call``."""
    n = SOCKETCALL_NARGS[call] if 0 <= call < len(SOCKETCALL_NARGS) else 0
    raw = ptrace.read_memory(tid, uargs, 4 * n)
    words = struct.unpack(f"<{len(raw) // 4}I", raw[:len(raw) // 4 * 4])
    return (*words, *(0,) * (6 - len(words)))


def _i32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


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
