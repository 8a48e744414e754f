"""Classic BPF instructions as seccomp uses them: the ``Insn`` record, opcode constants and ``Program``.

A ``Program`` is what the compiler produces and what the emulator, disassembler and installer consume; its
byte form is the kernel's array of 8-byte ``struct sock_filter {u16 code; u8 jt; u8 jf; u32 k;}`` records in
native byte order (what ``seccomp(SECCOMP_SET_MODE_FILTER)`` and libseccomp's ``seccomp_export_bpf`` use).
"""
from __future__ import annotations

import struct
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import overload

from syswarden.errors import InputError

# Instruction classes.
BPF_LD = 0x00
BPF_LDX = 0x01
BPF_ST = 0x02
BPF_STX = 0x03
BPF_ALU = 0x04
BPF_JMP = 0x05
BPF_RET = 0x06
BPF_MISC = 0x07

# Load sizes and modes.
BPF_W = 0x00
BPF_H = 0x08
BPF_B = 0x10
BPF_IMM = 0x00
BPF_ABS = 0x20
BPF_IND = 0x40
BPF_MEM = 0x60
BPF_LEN = 0x80
BPF_MSH = 0xA0

# ALU and jump operations.
BPF_ADD = 0x00
BPF_SUB = 0x10
BPF_MUL = 0x20
BPF_DIV = 0x30
BPF_OR = 0x40
BPF_AND = 0x50
BPF_LSH = 0x60
BPF_RSH = 0x70
BPF_NEG = 0x80
BPF_MOD = 0x90
BPF_XOR = 0xA0
BPF_JA = 0x00
BPF_JEQ = 0x10
BPF_JGT = 0x20
BPF_JGE = 0x30
BPF_JSET = 0x40

# Operand sources.
BPF_K = 0x00
BPF_X = 0x08
BPF_A = 0x10

# Misc operations.
BPF_TAX = 0x00
BPF_TXA = 0x80

BPF_MAXINSNS = 4096
BPF_MEMWORDS = 16

# struct seccomp_data { int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]; }
SECCOMP_DATA_SIZE = 64
OFF_NR = 0
OFF_ARCH = 4
OFF_IP = 8
OFF_ARGS = 16

_RECORD = struct.Struct("=HBBI")
SOCK_FILTER_BYTES = _RECORD.size     # one struct sock_filter as a raw filter file holds it


def bpf_class(code: int) -> int:
    return code & 0x07


def bpf_op(code: int) -> int:
    return code & 0xF0


def bpf_src(code: int) -> int:
    return code & 0x08


@dataclass(frozen=True, slots=True)
class Insn:
    """One ``struct sock_filter``: opcode, jump-if-true and jump-if-false offsets (relative), constant."""

    code: int
    jt: int = 0
    jf: int = 0
    k: int = 0

    def __post_init__(self) -> None:
        if not (0 <= self.code <= 0xFFFF and 0 <= self.jt <= 0xFF and 0 <= self.jf <= 0xFF
                and 0 <= self.k <= 0xFFFFFFFF):
            raise ValueError(f"instruction field out of range: {self!r}")

    def to_bytes(self) -> bytes:
        return _RECORD.pack(self.code, self.jt, self.jf, self.k)


def stmt(code: int, k: int = 0) -> Insn:
    """A non-jump instruction (``BPF_STMT``)."""
    return Insn(code, 0, 0, k)


def jump(code: int, k: int, jt: int, jf: int) -> Insn:
    """A conditional jump (``BPF_JUMP``)."""
    return Insn(code, jt, jf, k)


def arg_offsets(index: int, big_endian: bool = sys.byteorder == "big") -> tuple[int, int]:
    """Offsets (low word, high word) of ``args[index]`` in ``seccomp_data`` (the u64 is in host order)."""
    base = OFF_ARGS + 8 * index
    return (base + 4, base) if big_endian else (base, base + 4)


@dataclass(frozen=True, slots=True)
class Program:
    """A classic BPF program: an immutable sequence of instructions."""

    insns: tuple[Insn, ...]

    def __len__(self) -> int:
        return len(self.insns)

    def __iter__(self) -> Iterator[Insn]:
        return iter(self.insns)

    @overload
    def __getitem__(self, index: int) -> Insn: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Insn, ...]: ...

    def __getitem__(self, index: int | slice) -> Insn | tuple[Insn, ...]:
        return self.insns[index]

    def to_bytes(self) -> bytes:
        """The kernel's ``struct sock_filter[]`` image, native endian."""
        return b"".join(insn.to_bytes() for insn in self.insns)

    @classmethod
    def from_bytes(cls, data: bytes, *, name: str = "<bytes>") -> "Program":
        """Parse ``struct sock_filter[]`` records; the length must be a non-zero multiple of 8.

        Raises:
            InputError: the data is empty or not a whole number of records.
        """
        if not data or len(data) % _RECORD.size:
            raise InputError(f"{name}: expected a non-empty sequence of 8-byte sock_filter records, "
                             f"got {len(data)} bytes")
        return cls(tuple(Insn(*fields) for fields in _RECORD.iter_unpack(data)))
