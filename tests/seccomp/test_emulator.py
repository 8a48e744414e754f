"""Tests for seccomp/emulator.py: it rejects what the kernel rejects and computes what the kernel computes."""
from __future__ import annotations

import errno

import pytest

from syswarden.errors import CompileError
from syswarden.kernel import prctl, seccomp_abi
from syswarden.sandbox.apply import install_filter
from syswarden.seccomp import insn as b
from syswarden.seccomp.emulator import Emulator, SeccompData, check_program, run
from syswarden.seccomp.insn import Insn, Program
from syswarden.syscalls import tables
from syswarden.syscalls.arch import Arch

from .helpers import in_child, raw_syscall

LD = b.BPF_LD | b.BPF_W | b.BPF_ABS
RET = b.BPF_RET | b.BPF_K
ALLOW = 0x7FFF0000
X86_64 = Arch.X86_64.audit_arch

BAD_PROGRAMS = {
    "jump past the end": [Insn(b.BPF_JMP | b.BPF_JEQ, 0, 5, 0), b.stmt(RET, ALLOW)],
    "ja past the end": [b.stmt(b.BPF_JMP | b.BPF_JA, 1), b.stmt(RET, ALLOW)],
    "no final return": [b.stmt(RET, ALLOW), b.stmt(LD, 0)],
    "unaligned load": [b.stmt(LD, 2), b.stmt(RET, ALLOW)],
    "load past seccomp_data": [b.stmt(LD, 64), b.stmt(RET, ALLOW)],
    "mod is not allowed": [b.stmt(b.BPF_ALU | b.BPF_MOD | b.BPF_K, 3), b.stmt(RET, ALLOW)],
    "byte load": [b.stmt(b.BPF_LD | b.BPF_B | b.BPF_ABS, 0), b.stmt(RET, ALLOW)],
    "divide by constant zero": [b.stmt(b.BPF_ALU | b.BPF_DIV | b.BPF_K, 0), b.stmt(RET, ALLOW)],
    "shift by 32": [b.stmt(b.BPF_ALU | b.BPF_LSH | b.BPF_K, 32), b.stmt(RET, ALLOW)],
    "scratch read before write": [b.stmt(b.BPF_LD | b.BPF_MEM, 3), b.stmt(RET, ALLOW)],
    "scratch slot 16": [b.stmt(b.BPF_ST, 16), b.stmt(RET, ALLOW)],
    "store on one path only": [b.stmt(LD, 0), Insn(b.BPF_JMP | b.BPF_JEQ, 0, 1, 39), b.stmt(b.BPF_ST, 1),
                               b.stmt(b.BPF_LD | b.BPF_MEM, 1), b.stmt(RET, ALLOW)],
}


def _kernel_refuses(program: list[Insn]) -> int:
    """Exit code of a child that asks the kernel itself (no checker of ours) to install ``program``:
    the errno if refused, 0 if accepted."""
    def raw() -> int:
        prctl.set_no_new_privs()
        try:
            seccomp_abi.set_mode_filter(Program(tuple(program)).to_bytes(), 0)
        except OSError as exc:
            return exc.errno or 126
        return 0
    return in_child(raw)


@pytest.mark.kernel
@pytest.mark.parametrize("why", sorted(BAD_PROGRAMS))
def test_rejects_what_the_kernel_rejects(why: str) -> None:
    """Each malformed program fails our checker and the kernel's (EINVAL)."""
    program = BAD_PROGRAMS[why]
    with pytest.raises(CompileError):
        check_program(program)
    assert _kernel_refuses(program) == errno.EINVAL


@pytest.mark.kernel
def test_accepts_what_the_kernel_accepts() -> None:
    """A program using scratch memory, X and ALU ops passes both checkers."""
    program = _alu_program()
    check_program(program)
    assert _kernel_refuses(list(program)) == 0


def _alu_program() -> Program:
    """Returns ERRNO(((nr ^ 0x5) * 3 + args[0]) & 0xff) for nr == getppid or umask, ALLOW otherwise."""
    getppid = tables.number(Arch.X86_64, "getppid")
    umask = tables.number(Arch.X86_64, "umask")
    assert getppid is not None and umask is not None
    return Program((
        b.stmt(LD, b.OFF_ARCH),
        b.jump(b.BPF_JMP | b.BPF_JEQ, X86_64, 0, 12),
        b.stmt(LD, b.OFF_NR),
        b.jump(b.BPF_JMP | b.BPF_JEQ, getppid, 1, 0),
        b.jump(b.BPF_JMP | b.BPF_JEQ, umask, 0, 9),
        b.stmt(b.BPF_ST, 2),
        b.stmt(b.BPF_ALU | b.BPF_XOR | b.BPF_K, 5),
        b.stmt(b.BPF_ALU | b.BPF_MUL | b.BPF_K, 3),
        b.stmt(b.BPF_MISC | b.BPF_TAX),
        b.stmt(LD, b.OFF_ARGS),
        b.stmt(b.BPF_ALU | b.BPF_ADD | b.BPF_X),
        b.stmt(b.BPF_ALU | b.BPF_AND | b.BPF_K, 0xFF),
        b.stmt(b.BPF_ALU | b.BPF_OR | b.BPF_K, 0x00050000),
        b.stmt(b.BPF_RET | b.BPF_A),
        b.stmt(RET, ALLOW),
    ))


@pytest.mark.kernel
@pytest.mark.parametrize("arg", [0, 1, 7, 0x80, 0xFFFF])
def test_alu_results_match_the_kernel(arg: int) -> None:
    """The errno the kernel returns equals the emulator's computed return value for the same call."""
    program = _alu_program()
    umask = tables.number(Arch.X86_64, "umask")
    assert umask is not None
    expected = run(program, X86_64, umask, [arg]).action

    def body() -> int:
        install_filter(program)
        rc, err = raw_syscall(umask, arg)
        return err if rc == -1 else 200
    got = in_child(body)
    assert expected & 0xFFFF0000 == 0x00050000
    # errno 0 from ERRNO(0) makes the syscall "succeed" with 0; the child reports 200 then.
    assert got == ((expected & 0xFF) or 200)


def test_counts_instructions_and_reports_the_path() -> None:
    """A run reports the pcs visited in order and their number."""
    getppid = tables.number(Arch.X86_64, "getppid")
    assert getppid is not None
    res = Emulator(_alu_program()).run(SeccompData(X86_64, getppid, (1, 0, 0, 0, 0, 0)))
    assert res.path == tuple(range(0, 4)) + tuple(range(5, 14))
    assert res.executed == len(res.path) == 13
    assert res.action == 0x00050000 | ((((getppid ^ 5) * 3) + 1) & 0xFF)


def test_division_by_zero_x_returns_zero() -> None:
    """Dividing by X == 0 at run time ends the program returning 0 (kill), as classic BPF does."""
    prog = [b.stmt(b.BPF_LDX | b.BPF_IMM, 0), b.stmt(b.BPF_ALU | b.BPF_DIV | b.BPF_X), b.stmt(RET, ALLOW)]
    assert run(prog, X86_64, 0).action == 0
