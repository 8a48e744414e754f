"""Tests for seccomp/insn.py: the sock_filter record layout and Program byte round trips."""
from __future__ import annotations

import ctypes

import pytest

from syswarden.errors import InputError
from syswarden.kernel.seccomp_abi import INSN_SIZE
from syswarden.seccomp import insn as b
from syswarden.seccomp.insn import Insn, Program


class SockFilter(ctypes.Structure):
    """The kernel's struct sock_filter (include/uapi/linux/filter.h), as the oracle of the layout."""

    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


def test_record_matches_struct_sock_filter() -> None:
    """Each instruction is 8 bytes laid out exactly like the kernel's struct sock_filter."""
    ins = Insn(b.BPF_JMP | b.BPF_JEQ | b.BPF_K, 3, 7, 0xC000003E)
    raw = ins.to_bytes()
    assert len(raw) == ctypes.sizeof(SockFilter) == INSN_SIZE == 8
    rec = SockFilter.from_buffer_copy(raw)
    assert (rec.code, rec.jt, rec.jf, rec.k) == (0x15, 3, 7, 0xC000003E)


def test_program_round_trips_through_bytes() -> None:
    """from_bytes(to_bytes(p)) == p."""
    prog = Program((b.stmt(b.BPF_LD | b.BPF_W | b.BPF_ABS, 4), b.jump(b.BPF_JMP | b.BPF_JEQ, 5, 0, 1),
                    b.stmt(b.BPF_RET, 0x7FFF0000), b.stmt(b.BPF_RET, 0)))
    assert Program.from_bytes(prog.to_bytes()) == prog
    assert len(prog.to_bytes()) == 32


@pytest.mark.parametrize("data", [b"", b"\x00" * 7, b"\x00" * 12])
def test_from_bytes_rejects_partial_records(data: bytes) -> None:
    """Empty input or a length that is not a multiple of 8 is an InputError saying what was expected."""
    with pytest.raises(InputError, match="8-byte sock_filter records"):
        Program.from_bytes(data)


def test_insn_rejects_out_of_range_fields() -> None:
    """jt/jf are 8-bit and k is 32-bit."""
    with pytest.raises(ValueError):
        Insn(0x15, 256, 0, 0)
    with pytest.raises(ValueError):
        Insn(0x06, 0, 0, 1 << 32)
