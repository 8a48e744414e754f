"""The ptrace backend: every syscall of the command's tree (threads, forks, exec'd programs) from the
tracer's entry and exit stops (``sources/ptrace/tracer.py``), with its ABI as ``PTRACE_GET_SYSCALL_INFO``
reports it, so an i386 child of a 64-bit program lands in the i386 section under its i386 name.

Recording starts at the command's first ``execve``: what the forked child did before (waiting on the gate
that holds it until the tracer is attached) is syswarden's, not the command's.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from syswarden.recorder.recording import Recording, SyscallId, arch_from_audit, identify
from syswarden.recorder.safety import safety_args, wanted_values
from syswarden.sources.ptrace.tracer import StopKind, Tracer
from syswarden.syscalls.arch import Arch

if TYPE_CHECKING:
    from syswarden.recorder.files import FileTracker

_EXECS = ("execve", "execveat")


@dataclass(slots=True)
class PtraceRecorder:
    """Records ``command``; ``recording`` fills while ``run()`` goes (an interrupted run keeps what it saw)."""

    command: list[str]
    with_args: bool = False
    files: FileTracker | None = None
    recording: Recording = field(default_factory=Recording)
    exit_status: int | None = None
    _tracer: Tracer | None = None

    def run(self) -> int | None:
        """Trace the command to the end of its tree; returns its wait status (None if never reaped)."""
        rec = self.recording
        rec.commands.append(tuple(self.command))
        tracer = self._tracer = Tracer(self.command)
        root, started = tracer.root, False
        pending: dict[int, SyscallId] = {}
        first_exec: SyscallId | None = None
        try:
            for stop in tracer.stops():
                if stop.kind is StopKind.ENTRY:
                    arch = arch_from_audit(stop.arch, stop.nr)
                    sid = identify(arch, stop.nr, stop.args[0] if stop.args else 0) if arch else None
                    if not started:
                        # the gate's execvp may try several PATH entries: only the exec that succeeds is CMD's
                        if stop.tid == root and sid is not None and sid.name in _EXECS:
                            first_exec = sid
                            if self.files is not None:
                                self.files.entry(stop.tid, sid, stop.args)
                        continue
                    if sid is None:
                        key = (arch or Arch.native(), stop.nr)
                        rec.unknown[key] = rec.unknown.get(key, 0) + 1
                        continue
                    pending[stop.tid] = sid
                    rec.count(sid.arch, sid.name)
                    spec = safety_args(sid.name, self.with_args, sid.arch is Arch.I386)
                    if spec is not None:
                        rec.add_values(sid.arch, sid.name, wanted_values(spec, stop.args))
                    if self.files is not None:
                        self.files.entry(stop.tid, sid, stop.args)
                elif stop.kind is StopKind.EXIT:
                    if not started:
                        if stop.tid == root and first_exec is not None:
                            if stop.rval == 0:
                                started = True
                                rec.count(first_exec.arch, first_exec.name)
                            if self.files is not None:
                                self.files.exit(stop.tid, stop.rval)
                        continue
                    sid = pending.pop(stop.tid, None)
                    if sid is None:
                        continue
                    if -4095 <= stop.rval < 0:
                        rec.count(sid.arch, sid.name, calls=0, errors=1)
                    if self.files is not None:
                        self.files.exit(stop.tid, stop.rval)
                elif stop.kind is StopKind.EXITED:
                    pending.pop(stop.tid, None)
        finally:
            self.close()
        self.exit_status = tracer.exit_status
        return self.exit_status

    def close(self) -> None:
        """Kill and reap whatever is still traced (Ctrl-C, a tracer error): nothing stays stopped."""
        if self._tracer is not None:
            self._tracer.close()


def exit_code(status: int | None) -> int:
    """The shell's view of a wait status (128+N for a signal), 1 when unknown."""
    if status is None:
        return 1
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code
