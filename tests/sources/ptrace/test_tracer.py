"""The ptrace loop on the real kernel: tracees that vanish while stopped."""
from __future__ import annotations

import os
import signal

import pytest

from syswarden.sources.ptrace.tracer import StopKind, Tracer

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("ptrace_ok")]


def test_a_tracee_killed_in_a_syscall_stop_is_skipped_not_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGKILL of a tracee between waitpid's report of its syscall stop and the tracer's PTRACE_GET_SYSCALL_INFO
    (ESRCH): any traced program can do this to its own child, so it must not end monitoring. The stop is
    skipped, the kill shows as the task's exit, and the rest of the tree is still traced."""
    real_waitpid = os.waitpid
    killed: list[int] = []
    tracer = Tracer(["/bin/sh", "-c", "sleep 30 & wait; /bin/true"])

    def waitpid_then_kill(pid: int, options: int) -> tuple[int, int]:
        tid, status = real_waitpid(pid, options)
        is_syscall_stop = os.WIFSTOPPED(status) and os.WSTOPSIG(status) == signal.SIGTRAP | 0x80
        if is_syscall_stop and tid != tracer.root and not killed:
            os.kill(tid, signal.SIGKILL)   # the race, made certain: the tracee is gone before the tracer asks
            killed.append(tid)
        return tid, status

    monkeypatch.setattr(os, "waitpid", waitpid_then_kill)
    try:
        stops = list(tracer.stops())
    finally:
        monkeypatch.undo()
        tracer.close()
    assert killed
    exits = {s.tid: s.status for s in stops if s.kind is StopKind.EXITED}
    assert os.WIFSIGNALED(exits[killed[0]]) and os.WTERMSIG(exits[killed[0]]) == signal.SIGKILL
    assert not any(s.tid == killed[0] and s.kind in (StopKind.ENTRY, StopKind.EXIT) for s in stops)
    # the shell was still traced after its child died: its wait returned and it ran on to a clean exit
    assert os.WIFEXITED(exits[tracer.root]) and os.WEXITSTATUS(exits[tracer.root]) == 0
    assert any(s.kind is StopKind.ENTRY and s.tid == tracer.root and s.nr == 61 for s in stops)   # wait4
