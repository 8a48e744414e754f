"""The seccomp BPF emulator: run a program on one ``seccomp_data`` the way the kernel would.

``check_program`` rejects what the kernel's checkers (``bpf_check_classic`` + ``seccomp_check_filter``)
reject, so a program that passes here loads in the kernel; ``run`` executes it and reports the returned
action value, how many instructions ran and the path taken, which the disassembler and ``syswarden check``
use to explain a decision.
"""
from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from syswarden.errors import CompileError
from syswarden.seccomp import insn as b
from syswarden.seccomp.insn import Insn, Program

_MASK32 = 0xFFFFFFFF
_AUDIT_ARCH_LE = 0x40000000

# seccomp_check_filter's explicit allow list (the ALU ops include XOR but not MOD).
_ALU_OPS = (b.BPF_ADD, b.BPF_SUB, b.BPF_MUL, b.BPF_DIV, b.BPF_AND, b.BPF_OR, b.BPF_XOR, b.BPF_LSH, b.BPF_RSH)
ALLOWED_CODES: frozenset[int] = frozenset(
    {b.BPF_LD | b.BPF_W | b.BPF_ABS, b.BPF_LD | b.BPF_W | b.BPF_LEN, b.BPF_LDX | b.BPF_W | b.BPF_LEN,
     b.BPF_RET | b.BPF_K, b.BPF_RET | b.BPF_A, b.BPF_ALU | b.BPF_NEG,
     b.BPF_LD | b.BPF_IMM, b.BPF_LDX | b.BPF_IMM, b.BPF_MISC | b.BPF_TAX, b.BPF_MISC | b.BPF_TXA,
     b.BPF_LD | b.BPF_MEM, b.BPF_LDX | b.BPF_MEM, b.BPF_ST, b.BPF_STX, b.BPF_JMP | b.BPF_JA}
    | {b.BPF_ALU | op | src for op in _ALU_OPS for src in (b.BPF_K, b.BPF_X)}
    | {b.BPF_JMP | op | src for op in (b.BPF_JEQ, b.BPF_JGE, b.BPF_JGT, b.BPF_JSET) for src in (b.BPF_K, b.BPF_X)}
)


@dataclass(frozen=True, slots=True)
class SeccompData:
    """The input of a filter: ``struct seccomp_data`` (arch is the AUDIT_ARCH value, nr a 32-bit number)."""

    arch: int
    nr: int
    args: tuple[int, int, int, int, int, int] = (0, 0, 0, 0, 0, 0)
    ip: int = 0

    @property
    def byte_order(self) -> str:
        """``<`` or ``>``: the byte order of the kernel that produces this arch value (__AUDIT_ARCH_LE), so
        filters compiled for a big-endian arch (s390x) emulate correctly on any host."""
        return "<" if self.arch & _AUDIT_ARCH_LE else ">"

    def to_bytes(self) -> bytes:
        args = tuple(a & 0xFFFFFFFFFFFFFFFF for a in self.args)
        return struct.pack(self.byte_order + "IIQ6Q", self.nr & _MASK32, self.arch & _MASK32,
                           self.ip & 0xFFFFFFFFFFFFFFFF, *args)


@dataclass(frozen=True, slots=True)
class Result:
    """What one run returned: the 32-bit action value, instructions executed, and the pcs visited in order."""

    action: int
    executed: int
    path: tuple[int, ...]


def _reject(pc: int, why: str) -> CompileError:
    return CompileError(f"invalid seccomp program at instruction {pc:04d}: {why}")


def _check_insn(pc: int, ins: Insn, length: int) -> None:
    code = ins.code
    if code not in ALLOWED_CODES:
        raise _reject(pc, f"opcode {code:#04x} is not allowed in seccomp filters")
    if code == b.BPF_LD | b.BPF_W | b.BPF_ABS and (ins.k >= b.SECCOMP_DATA_SIZE or ins.k & 3):
        raise _reject(pc, f"load offset {ins.k} is not an aligned word of seccomp_data (0..60)")
    if code == b.BPF_ALU | b.BPF_DIV | b.BPF_K and ins.k == 0:
        raise _reject(pc, "division by constant zero")
    if code in (b.BPF_ALU | b.BPF_LSH | b.BPF_K, b.BPF_ALU | b.BPF_RSH | b.BPF_K) and ins.k >= 32:
        raise _reject(pc, f"shift by {ins.k} (expected < 32)")
    if code in (b.BPF_LD | b.BPF_MEM, b.BPF_LDX | b.BPF_MEM, b.BPF_ST, b.BPF_STX) and ins.k >= b.BPF_MEMWORDS:
        raise _reject(pc, f"scratch slot {ins.k} (expected < {b.BPF_MEMWORDS})")
    if code == b.BPF_JMP | b.BPF_JA:
        if ins.k >= length - pc - 1:
            raise _reject(pc, f"jump offset {ins.k} leaves the program")
    elif b.bpf_class(code) == b.BPF_JMP and (pc + ins.jt + 1 >= length or pc + ins.jf + 1 >= length):
        raise _reject(pc, f"jump offsets {ins.jt}/{ins.jf} leave the program")


def _check_memory(program: Sequence[Insn]) -> None:
    """Every scratch load must follow a store on all paths (the kernel's ``check_load_and_stores``)."""
    masks = [0xFFFF] * len(program)
    valid = 0
    for pc, ins in enumerate(program):
        valid &= masks[pc]
        code = ins.code
        if code in (b.BPF_ST, b.BPF_STX):
            valid |= 1 << ins.k
        elif code in (b.BPF_LD | b.BPF_MEM, b.BPF_LDX | b.BPF_MEM) and not valid & (1 << ins.k):
            raise _reject(pc, f"scratch slot {ins.k} read before it is written")
        elif code == b.BPF_JMP | b.BPF_JA:
            masks[pc + 1 + ins.k] &= valid
            valid = 0xFFFF
        elif b.bpf_class(code) == b.BPF_JMP:
            masks[pc + 1 + ins.jt] &= valid
            masks[pc + 1 + ins.jf] &= valid
            valid = 0xFFFF


def check_program(program: Program | Sequence[Insn]) -> None:
    """Reject a program the kernel would refuse with EINVAL.

    Raises:
        CompileError: naming the first offending instruction and what was expected.
    """
    insns = list(program)
    if not 1 <= len(insns) <= b.BPF_MAXINSNS:
        raise CompileError(f"invalid seccomp program: {len(insns)} instructions (expected 1..{b.BPF_MAXINSNS})")
    for pc, ins in enumerate(insns):
        _check_insn(pc, ins, len(insns))
    if insns[-1].code not in (b.BPF_RET | b.BPF_K, b.BPF_RET | b.BPF_A):
        raise _reject(len(insns) - 1, "the last instruction must be a return")
    _check_memory(insns)


def _alu(op: int, a: int, operand: int) -> int | None:
    """32-bit ALU; ``None`` means division by zero (the kernel then returns 0 from the filter)."""
    if op == b.BPF_DIV:
        return None if operand == 0 else a // operand
    if op in (b.BPF_LSH, b.BPF_RSH):
        shift = operand & 31
        return (a << shift if op == b.BPF_LSH else a >> shift) & _MASK32
    table = {b.BPF_ADD: a + operand, b.BPF_SUB: a - operand, b.BPF_MUL: a * operand,
             b.BPF_AND: a & operand, b.BPF_OR: a | operand, b.BPF_XOR: a ^ operand}
    return table[op] & _MASK32


def _jump_taken(op: int, a: int, operand: int) -> bool:
    if op == b.BPF_JEQ:
        return a == operand
    if op == b.BPF_JGT:
        return a > operand
    if op == b.BPF_JGE:
        return a >= operand
    return bool(a & operand)


class Emulator:
    """A checked program, ready to run on many inputs (checking happens once, in the constructor)."""

    def __init__(self, program: Program | Sequence[Insn]) -> None:
        check_program(program)
        self.insns: tuple[Insn, ...] = tuple(program)

    def run(self, data: SeccompData) -> Result:
        """Execute the program on ``data``."""
        words = struct.unpack(data.byte_order + "16I", data.to_bytes())
        a = x = 0
        mem = [0] * b.BPF_MEMWORDS
        pc = 0
        path: list[int] = []
        while True:
            ins = self.insns[pc]
            path.append(pc)
            code, k = ins.code, ins.k
            cls = b.bpf_class(code)
            if cls == b.BPF_RET:
                return Result(k if code == b.BPF_RET | b.BPF_K else a, len(path), tuple(path))
            if cls == b.BPF_JMP:
                if code == b.BPF_JMP | b.BPF_JA:
                    pc += 1 + k
                else:
                    taken = _jump_taken(b.bpf_op(code), a, x if b.bpf_src(code) == b.BPF_X else k)
                    pc += 1 + (ins.jt if taken else ins.jf)
                continue
            if cls == b.BPF_ALU:
                if b.bpf_op(code) == b.BPF_NEG:
                    a = -a & _MASK32
                else:
                    res = _alu(b.bpf_op(code), a, x if b.bpf_src(code) == b.BPF_X else k)
                    if res is None:
                        return Result(0, len(path), tuple(path))
                    a = res
            elif code == b.BPF_LD | b.BPF_W | b.BPF_ABS:
                a = words[k // 4]
            elif code == b.BPF_LD | b.BPF_W | b.BPF_LEN:
                a = b.SECCOMP_DATA_SIZE
            elif code == b.BPF_LDX | b.BPF_W | b.BPF_LEN:
                x = b.SECCOMP_DATA_SIZE
            elif code == b.BPF_LD | b.BPF_IMM:
                a = k
            elif code == b.BPF_LDX | b.BPF_IMM:
                x = k
            elif code == b.BPF_LD | b.BPF_MEM:
                a = mem[k]
            elif code == b.BPF_LDX | b.BPF_MEM:
                x = mem[k]
            elif code == b.BPF_ST:
                mem[k] = a
            elif code == b.BPF_STX:
                mem[k] = x
            elif code == b.BPF_MISC | b.BPF_TAX:
                x = a
            elif code == b.BPF_MISC | b.BPF_TXA:
                a = x
            pc += 1


def run(program: Program | Sequence[Insn], arch: int, nr: int,
        args: Sequence[int] = (0, 0, 0, 0, 0, 0), ip: int = 0) -> Result:
    """Check and run ``program`` once on ``(arch audit value, nr, args[6], ip)``."""
    padded = (tuple(args) + (0,) * 6)[:6]
    return Emulator(program).run(SeccompData(arch, nr, padded, ip))  # type: ignore[arg-type]
