"""The ptrace source sees i386 (int 0x80) syscalls of 64-bit tasks under the 64-bit event names."""
from __future__ import annotations

from pathlib import Path

import pytest

from syswarden.events.event import Event
from syswarden.sources.base import SourceConfig
from syswarden.sources.ptrace.source import PtraceSource

from ..compat_calls import (build, build_int80io, check_32bit_binary, check_compat_filter, check_i386_fork,
                            check_i386_setuid, check_int80_events, run_int80io)

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("ptrace_ok")]


def capture(cmd: list[str], types: set[str] | None = None) -> list[Event]:
    with PtraceSource(SourceConfig(command=cmd, event_types=frozenset(types) if types else None)) as src:
        return list(src.events())


def test_int80_open_openat_and_socketcall_connect(tmp_path: Path) -> None:
    """open/openat through int 0x80 (junk in the upper register halves), socketcall SOCKET/CONNECT/SENDMSG,
    a failed execve."""
    target = tmp_path / "secret.txt"
    target.write_text("secret\n")
    events, result = run_int80io(capture, build_int80io(tmp_path), target, tmp_path)
    check_int80_events(events, result, target)


def test_x32_numbers_get_x86_64_names(tmp_path: Path) -> None:
    """An x32 open (nr 2 | 0x40000000; this kernel has no x32 ABI, so ENOSYS) is an `open` marked x32."""
    rawsys = build("bypass/rawsys.c", tmp_path)
    events = capture(["/bin/sh", "-c", f"exec {rawsys} x32 2 0"])
    x32 = [e for e in events if e.params.get("abi") == "x32"]
    assert [(e.type, e.res) for e in x32] == [("open", -38)]


def test_i386_id_calls_take_64bit_names_and_16bit_ids(tmp_path: Path) -> None:
    """setuid32 is reported as setuid; the old 16-bit setuid's id is widened as the kernel widens it."""
    check_i386_setuid(capture, tmp_path)


def test_32bit_executable(tmp_path: Path) -> None:
    """A real i386 executable's open is seen with its fd."""
    check_32bit_binary(capture, tmp_path)


def test_compat_calls_are_filtered_like_native_ones(tmp_path: Path) -> None:
    """Only wanted compat calls are captured (by their i386 numbers)."""
    check_compat_filter(capture, tmp_path)


def test_i386_fork_on_both_sides(tmp_path: Path) -> None:
    """An i386 fork is reported for the parent and the child, both marked."""
    check_i386_fork(capture, tmp_path)
