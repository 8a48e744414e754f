"""Fixtures for the ptrace source tests: skip when ptrace is not permitted here."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture
def ptrace_ok() -> None:
    """Skip when Yama forbids ptrace of children or strace (the oracle) is missing."""
    scope = Path("/proc/sys/kernel/yama/ptrace_scope")
    if scope.exists() and scope.read_text().strip() == "3":
        pytest.skip("Yama ptrace_scope=3 forbids ptrace")
    if shutil.which("strace") is None:
        pytest.skip("strace (the oracle) is not installed")
