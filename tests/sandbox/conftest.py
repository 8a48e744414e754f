"""Fixtures for the sandbox tests: run confinement code in a child interpreter, never in pytest itself."""
from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from syswarden.kernel import landlock_abi

REPO = Path(__file__).resolve().parents[2]
SYSWARDEN = [sys.executable, "-m", "syswarden"]


def run_child(code: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh Python child (so filters and rulesets never touch the test process)."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout)


def syswarden(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the syswarden CLI as a child process."""
    return subprocess.run([*SYSWARDEN, *args], capture_output=True, text=True, timeout=timeout)


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports that are free right now (bound to port 0, then released)."""
    socks = [socket.socket() for _ in range(count)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@pytest.fixture
def landlock_abi_version() -> int:
    abi = landlock_abi.abi_version()
    if abi < 1:
        pytest.skip("Landlock is not available in this kernel")
    return abi
