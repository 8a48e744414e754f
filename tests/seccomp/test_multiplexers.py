"""Tests for syscalls/multiplexers.py: the sub-call numbers equal the kernel's uapi headers."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from syswarden.syscalls.arch import Arch
from syswarden.syscalls.multiplexers import IPC, SOCKETCALL, multiplexers_for

HEADERS = Path("/usr/include/linux")


def _defines(header: str, pattern: str) -> dict[str, int]:
    path = HEADERS / header
    if not path.exists():
        pytest.skip(f"{path} is not installed (linux-libc-dev)")
    return {m[1]: int(m[2]) for m in re.finditer(pattern, path.read_text(), re.M)}


def test_socketcall_numbers_match_linux_net_h() -> None:
    """Every SYS_* in <linux/net.h> is in the table under its lower-case name, with the same number."""
    defines = _defines("net.h", r"^#define SYS_([A-Z0-9]+)\s+(\d+)")
    assert len(defines) == 20
    assert {k.lower(): v for k, v in defines.items()} == SOCKETCALL.calls


def test_ipc_numbers_match_linux_ipc_h() -> None:
    """SEMOP..SHMCTL in <linux/ipc.h> equal the ipc call numbers."""
    defines = _defines("ipc.h", r"^#define (SEM[A-Z]*|MSG[A-Z]*|SHM[A-Z]*)\s+(\d+)\s*$")
    assert {k.lower(): v for k, v in defines.items()} == IPC.calls


def test_sub_calls_include_send_and_recv_aliases() -> None:
    """sendto also reaches SYS_SEND (9), recvfrom SYS_RECV (10); x86_64 has no multiplexer."""
    assert SOCKETCALL.sub_calls("sendto") == (11, 9)
    assert SOCKETCALL.sub_calls("recvfrom") == (12, 10)
    assert SOCKETCALL.sub_calls("read") == ()
    assert multiplexers_for(Arch.X86_64) == ()
    assert [m.name for m in multiplexers_for(Arch.I386)] == ["socketcall", "ipc"]
