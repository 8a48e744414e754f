"""Fixtures for the recorder tests: the test programs (built once per session with gcc, incl. a ``gcc -m32``
child), and helpers running ``syswarden record`` / ``syswarden run`` as child processes."""
from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "data" / "recorder"
SYSWARDEN = [sys.executable, "-m", "syswarden"]
BACKENDS = ("ptrace", "ebpf")
FORMATS = ("yaml", "docker")


def syswarden(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SYSWARDEN, *args], capture_output=True, text=True, timeout=timeout)


def needs_backend(backend: str) -> None:
    """Skip an eBPF case where BPF cannot be loaded (not root)."""
    if backend == "ebpf":
        from syswarden.sources.ebpf.source import can_load_bpf
        if not can_load_bpf():
            pytest.skip("the eBPF backend needs root")


def record(tmp: Path, cmd: list[str], *options: str, backend: str = "ptrace", fmt: str = "yaml",
           name: str = "policy") -> tuple[Path, subprocess.CompletedProcess[str]]:
    """``syswarden record`` CMD into a file; returns the file and the recording run."""
    needs_backend(backend)
    out = tmp / f"{name}.{'json' if fmt == 'docker' else 'yaml'}"
    result = syswarden("record", "--backend", backend, "--format", fmt, "-o", str(out), *options, "--", *cmd)
    assert out.exists(), result.stderr
    return out, result


def confined(policy: Path, cmd: list[str], *options: str) -> subprocess.CompletedProcess[str]:
    return syswarden("run", "-q", "--no-cache", "--policy", str(policy), *options, "--", *cmd)


def bare(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


@dataclass(frozen=True)
class Programs:
    threads: Path
    forks32: Path
    child32: Path
    minimal: Path
    minimal_target: Path


def _gcc(*args: str) -> None:
    subprocess.run(["gcc", *args], check=True, capture_output=True)


@pytest.fixture(scope="session")
def programs(tmp_path_factory: pytest.TempPathFactory) -> Programs:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    out = tmp_path_factory.mktemp("recorder-programs")
    target = out / "minimal.txt"
    target.write_text("minimal program read this\n")
    _gcc("-O1", "-pthread", "-o", str(out / "threads"), str(DATA / "threads.c"))
    _gcc("-O1", "-o", str(out / "forks32"), str(DATA / "forks32.c"))
    try:
        _gcc("-O1", "-m32", "-o", str(out / "child32"), str(DATA / "child32.c"))
    except subprocess.CalledProcessError:
        pytest.skip("gcc -m32 cannot build (install gcc-multilib)")
    _gcc("-O1", "-nostdlib", "-static", f"-DTARGET=\"{target}\"", "-o", str(out / "minimal"),
         str(DATA / "minimal.c"))
    return Programs(out / "threads", out / "forks32", out / "child32", out / "minimal", target)
