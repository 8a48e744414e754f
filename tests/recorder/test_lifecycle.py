"""No traced, stopped or orphaned process is left behind (issue 17): on Ctrl-C (the policy seen so far is still
written, exit 130), when CMD crashes (its status passes through), and when the tracer itself fails."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from syswarden.errors import KernelError
from syswarden.sources.targets import descendants
from tests.recorder.conftest import BACKENDS, SYSWARDEN, needs_backend, record

pytestmark = pytest.mark.kernel


def _state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def _gone(pids: set[int], timeout: float = 5.0) -> set[int]:
    """The pids still alive (not exited, not a zombie) after ``timeout``."""
    deadline = time.monotonic() + timeout
    alive = set(pids)
    while alive and time.monotonic() < deadline:
        alive = {p for p in alive if _state(p) not in (None, "Z", "X")}
        time.sleep(0.05)
    return alive


def _wait_for_tree(pid: int, size: int, timeout: float = 20.0) -> set[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tree = descendants([pid]) - {pid}
        if len(tree) >= size:
            return tree
        time.sleep(0.05)
    raise AssertionError(f"the traced tree never reached {size} processes")


@pytest.mark.parametrize("backend", BACKENDS)
def test_ctrl_c_kills_the_tree_and_writes_what_was_seen(backend: str, tmp_path: Path) -> None:
    needs_backend(backend)
    out = tmp_path / "partial.yaml"
    proc = subprocess.Popen([*SYSWARDEN, "record", "--backend", backend, "-o", str(out), "--",
                             "sh", "-c", "sleep 60 & sleep 60; wait"], stderr=subprocess.PIPE, text=True)
    try:
        tree = _wait_for_tree(proc.pid, 3)
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr
    assert not _gone(tree), {p: _state(p) for p in tree}
    assert "nanosleep" in out.read_text() or "clock_nanosleep" in out.read_text()


@pytest.mark.parametrize("backend", BACKENDS)
def test_crashing_command_passes_its_status_through(backend: str, tmp_path: Path) -> None:
    policy, run = record(tmp_path, ["sh", "-c", "sleep 0.1; kill -SEGV $$"], backend=backend)
    assert run.returncode == 128 + signal.SIGSEGV, run.stderr
    assert "kill" in policy.read_text()


def test_tracer_error_leaves_nothing_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    from syswarden.kernel import ptrace
    from syswarden.recorder.ptrace_backend import PtraceRecorder
    real, calls = ptrace.syscall_info, []

    def failing(pid: int) -> ptrace.SyscallInfo:
        calls.append(pid)
        if len(calls) > 200:
            raise KernelError("injected tracer failure")
        return real(pid)

    monkeypatch.setattr(ptrace, "syscall_info", failing)
    recorder = PtraceRecorder(["sh", "-c", "sleep 60 & sleep 60; wait"])
    with pytest.raises(KernelError, match="injected"):
        recorder.run()
    pids = set(calls)
    assert pids and not _gone(pids), {p: _state(p) for p in pids}
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


def test_ebpf_error_kills_the_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure while the eBPF backend waits for the tree (here injected once the tree has three processes)."""
    needs_backend("ebpf")
    from syswarden.recorder import ebpf_backend
    seen: set[int] = set()

    def failing_wait(self: ebpf_backend.EbpfRecorder, census: object, gate: object) -> None:
        deadline = time.monotonic() + 20
        while len(seen) < 3 and time.monotonic() < deadline:
            seen.update(census.traced())  # type: ignore[attr-defined]
            time.sleep(0.02)
        raise KernelError("injected census failure")

    monkeypatch.setattr(ebpf_backend.EbpfRecorder, "_wait", failing_wait)
    recorder = ebpf_backend.EbpfRecorder(["sh", "-c", "sleep 60 & sleep 60; wait"])
    with pytest.raises(KernelError, match="injected"):
        recorder.run()
    assert len(seen) >= 3 and not _gone(seen), {p: _state(p) for p in seen}
