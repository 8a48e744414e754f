"""The ptrace loop: start a command stopped on a gate, seize it (children are followed automatically through
TRACEFORK/VFORK/CLONE), and turn every wait status into a ``Stop`` — a syscall entry or exit, a new task,
an exec, or an exit. The tracer restarts tracees itself; callers only look at the stops.
"""
from __future__ import annotations

import enum
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field

from syswarden.kernel import ptrace
from syswarden.sources.targets import GatedCommand

_WALL = 0x40000000
_SYSCALL_TRAP = signal.SIGTRAP | 0x80


class StopKind(enum.Enum):
    ENTRY = "entry"
    EXIT = "exit"
    NEW_TASK = "new_task"     # a fork/vfork/clone event of the parent; ``child`` is the new tid
    EXITED = "exited"         # the task is gone; ``status`` is its wait status


@dataclass(slots=True)
class Stop:
    kind: StopKind
    tid: int
    nr: int = -1
    args: tuple[int, ...] = ()
    rval: int = 0
    child: int = 0
    event: int = 0
    status: int = 0
    arch: int = 0             # AUDIT_ARCH_* of a syscall stop (AUDIT_ARCH_I386 for an i386 call)


@dataclass(slots=True)
class _Task:
    tid: int
    in_syscall: bool = False
    pending: dict[str, int] = field(default_factory=dict)


class Tracer:
    """Traces one command's process tree. ``stops()`` ends when the last tracee is gone."""

    def __init__(self, command: list[str]) -> None:
        gate = GatedCommand(command)
        self.root = gate.pid
        self._proc = gate
        self.tasks: dict[int, _Task] = {}
        self.exit_status: int | None = None
        try:
            ptrace.seize(self.root)
            ptrace.interrupt(self.root)
        except BaseException:
            gate.abandon()
            raise
        self.tasks[self.root] = _Task(self.root)
        gate.release()

    def stops(self) -> Iterator[Stop]:
        """Every stop of every tracee, in the order waitpid reports them."""
        while self.tasks:
            try:
                tid, status = os.waitpid(-1, _WALL)
            except ChildProcessError:
                break
            yield from self._handle(tid, status)

    def _handle(self, tid: int, status: int) -> Iterator[Stop]:
        if os.WIFEXITED(status) or os.WIFSIGNALED(status):
            self.tasks.pop(tid, None)
            if tid == self.root:
                self.exit_status = status
                self._proc.returncode = os.waitstatus_to_exitcode(status)
            yield Stop(StopKind.EXITED, tid, status=status)
            return
        if not os.WIFSTOPPED(status):
            return
        try:
            yield from self._stopped(tid, status)
        except ptrace.TraceeGoneError:
            # Killed while stopped (SIGKILL from anyone, the traced program included): nothing of this stop
            # can be read any more; its exit follows through waitpid. Never a reason to stop monitoring.
            return

    def _stopped(self, tid: int, status: int) -> Iterator[Stop]:
        task = self.tasks.setdefault(tid, _Task(tid))
        sig, event = os.WSTOPSIG(status), status >> 16
        inject = 0
        if sig == _SYSCALL_TRAP:
            yield self._syscall_stop(task)
        elif event in (ptrace.PTRACE_EVENT_FORK, ptrace.PTRACE_EVENT_VFORK, ptrace.PTRACE_EVENT_CLONE):
            child = ptrace.event_msg(tid)
            self.tasks.setdefault(child, _Task(child))
            yield Stop(StopKind.NEW_TASK, tid, child=child, event=event)
        elif event == ptrace.PTRACE_EVENT_EXEC:
            former = ptrace.event_msg(tid)
            if former != tid and former in self.tasks:
                # A non-leader thread exec'ed: it now has the leader's tid and keeps its syscall state.
                self.tasks[tid] = self.tasks.pop(former)
                self.tasks[tid].tid = tid
        elif event == ptrace.PTRACE_EVENT_STOP:
            if sig in (signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU):
                ptrace.listen(tid)   # a real group stop: stay stopped until SIGCONT
                return
        elif sig != signal.SIGTRAP:
            inject = sig
        ptrace.resume_syscall(tid, inject)

    def _syscall_stop(self, task: _Task) -> Stop:
        # The tracee stays stopped until the consumer of this stop returns to the generator.
        info = ptrace.syscall_info(task.tid)
        if info.op == ptrace.SYSCALL_INFO_ENTRY:
            task.in_syscall = True
            return Stop(StopKind.ENTRY, task.tid, nr=info.nr, args=info.args, arch=info.arch)
        task.in_syscall = False
        return Stop(StopKind.EXIT, task.tid, rval=info.rval, arch=info.arch)

    def close(self) -> None:
        """Kill the traced tree (EXITKILL also does this if we die) and reap what is left."""
        for tid in list(self.tasks):
            try:
                os.kill(tid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        while self.tasks:
            try:
                tid, _ = os.waitpid(-1, _WALL)
            except ChildProcessError:
                break
            self.tasks.pop(tid, None)
        self.tasks.clear()
