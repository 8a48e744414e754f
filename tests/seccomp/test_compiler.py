"""Tests for seccomp/compiler.py: arch and x32 handling, i386 numbers and multiplexers, 64/32-bit arguments,
binary-search dispatch, cache-friendly paths, long jumps and the size limit (the emulator is the oracle)."""
from __future__ import annotations

import math

import pytest

from syswarden.errors import CompileError
from syswarden.policy.model import (
    ALLOW, KILL_PROCESS, Action, ActionKind, ArgCondition, Op, Policy, SyscallRule,
)
from syswarden.seccomp import insn as b
from syswarden.seccomp.compiler import compile_policy
from syswarden.seccomp.emulator import Emulator, SeccompData, check_program
from syswarden.seccomp.insn import Program
from syswarden.syscalls import tables
from syswarden.syscalls.arch import Arch

from .helpers import reference

EPERM = Action(ActionKind.ERRNO, 1)
ENOSYS = Action(ActionKind.ERRNO, 38)
X86_64, I386 = Arch.X86_64.audit_arch, Arch.I386.audit_arch
TIOCSTI = 0x5412


def nr(arch: Arch, name: str) -> int:
    value = tables.number(arch, name)
    assert value is not None, (arch, name)
    return value


def act(policy: Policy, audit: int, number: int, args: tuple[int, ...] = ()) -> int:
    padded = (tuple(args) + (0,) * 6)[:6]
    emulator = Emulator(compile_policy(policy).program)
    return emulator.run(SeccompData(audit, number, padded)).action  # type: ignore[arg-type]


def deny(*names: str, action: Action = EPERM, args: tuple[ArgCondition, ...] = (),
         arches: tuple[Arch, ...] = (Arch.X86_64, Arch.I386, Arch.X32)) -> Policy:
    return Policy(ALLOW, (SyscallRule(names, action, args),), arches)


def test_arch_is_loaded_and_checked_first() -> None:
    """Instruction 0 loads seccomp_data.arch, and an unlisted arch gets the bad-arch action."""
    policy = deny("dup", arches=(Arch.X86_64,))
    program = compile_policy(policy).program
    assert program[0] == b.stmt(b.BPF_LD | b.BPF_W | b.BPF_ABS, b.OFF_ARCH)
    for foreign in (I386, Arch.AARCH64.audit_arch, 0):
        assert act(policy, foreign, nr(Arch.I386, "dup")) == KILL_PROCESS.kernel_value


def test_unlisted_arch_never_reaches_syscall_checks() -> None:
    """The path of a foreign-arch call loads nothing but the arch word."""
    policy = deny("dup", arches=(Arch.X86_64,))
    emu = Emulator(compile_policy(policy).program)
    res = emu.run(SeccompData(I386, 41))
    loads = [emu.insns[pc].k for pc in res.path if emu.insns[pc].code == b.BPF_LD | b.BPF_W | b.BPF_ABS]
    assert loads == [b.OFF_ARCH]


def test_x32_calls_get_bad_arch_when_x32_is_not_listed() -> None:
    """A deny-list cannot be bypassed by issuing the denied call through the x32 ABI."""
    policy = deny("dup", arches=(Arch.X86_64, Arch.I386))
    x32_dup = nr(Arch.X32, "dup")
    assert x32_dup == 0x40000000 | nr(Arch.X86_64, "dup")
    assert act(policy, X86_64, x32_dup) == KILL_PROCESS.kernel_value
    assert act(policy, X86_64, 0xFFFFFFFE) == KILL_PROCESS.kernel_value
    assert act(policy, X86_64, nr(Arch.X86_64, "dup")) == EPERM.kernel_value


def test_x32_is_its_own_sub_program_when_listed() -> None:
    """With x32 listed its calls are checked by x32 numbers; x86_64 numbers do not leak into it."""
    policy = Policy(ENOSYS, (SyscallRule(("read",), ALLOW), SyscallRule(("ioctl",), EPERM)),
                    (Arch.X86_64, Arch.X32))
    assert act(policy, X86_64, nr(Arch.X32, "read")) == ALLOW.kernel_value
    assert act(policy, X86_64, nr(Arch.X32, "ioctl")) == EPERM.kernel_value        # x32 ioctl is 514
    assert act(policy, X86_64, 0x40000000 | nr(Arch.X86_64, "ioctl")) == ENOSYS.kernel_value
    x32_only = Policy(ENOSYS, (SyscallRule(("read",), ALLOW),), (Arch.X32,))
    assert act(x32_only, X86_64, nr(Arch.X86_64, "read")) == KILL_PROCESS.kernel_value


def test_i386_uses_i386_numbers() -> None:
    """i386 dup is 41, which is socket on x86_64: each section uses its own table."""
    policy = deny("dup")
    assert act(policy, I386, 41) == EPERM.kernel_value
    assert act(policy, X86_64, 41) == ALLOW.kernel_value


def test_names_an_arch_lacks_are_skipped_for_it() -> None:
    """arch_prctl (x86_64 only) and mmap2 (i386 only) in one rule compile; each applies where it exists."""
    policy = deny("arch_prctl", "mmap2")
    assert act(policy, X86_64, nr(Arch.X86_64, "arch_prctl")) == EPERM.kernel_value
    assert act(policy, I386, nr(Arch.I386, "mmap2")) == EPERM.kernel_value
    assert act(policy, I386, nr(Arch.X86_64, "arch_prctl")) == ALLOW.kernel_value


def test_first_matching_rule_wins() -> None:
    """Rules on one syscall are tried in policy order; the first whose conditions hold decides."""
    rules = (SyscallRule(("kill",), KILL_PROCESS, (ArgCondition(1, Op.EQ, 9),)),
             SyscallRule(("kill",), EPERM, (ArgCondition(1, Op.GE, 5),)),
             SyscallRule(("kill",), ALLOW))
    policy = Policy(ENOSYS, rules, (Arch.X86_64,))
    kill = nr(Arch.X86_64, "kill")
    assert act(policy, X86_64, kill, (1, 9)) == KILL_PROCESS.kernel_value
    assert act(policy, X86_64, kill, (1, 6)) == EPERM.kernel_value
    assert act(policy, X86_64, kill, (1, 2)) == ALLOW.kernel_value


@pytest.mark.parametrize("width,expected", [(64, EPERM), (32, EPERM)])
def test_tiocsti_with_high_bits(width: int, expected: Action) -> None:
    """ioctl(TIOCSTI | 1<<32) (CVE-2019-10063): cmd is an unsigned int, so even a rule written for 64 bits is
    compared on the low 32 (it used to slip past a 64-bit rule, as it does past libseccomp's)."""
    policy = deny("ioctl", args=(ArgCondition(1, Op.EQ, TIOCSTI, width=width),))
    ioctl = nr(Arch.X86_64, "ioctl")
    assert act(policy, X86_64, ioctl, (0, TIOCSTI)) == EPERM.kernel_value
    assert act(policy, X86_64, ioctl, (0, TIOCSTI | 1 << 32)) == expected.kernel_value


@pytest.mark.parametrize("op", list(Op))
def test_64_bit_comparisons_use_both_halves(op: Op) -> None:
    """Every operator agrees with the reference on values that differ only in one 32-bit half."""
    value = 0x0000000100000005
    cond = ArgCondition(2, op, value, mask=0x00000001000000FF if op is Op.MASKED_EQ else (1 << 64) - 1)
    policy = deny("mmap", args=(cond,), arches=(Arch.X86_64,))
    mmap = nr(Arch.X86_64, "mmap")
    for arg in (value, value - 1, value + 1, 5, 0x0000000200000005, 0x0000000000000006, 0xFFFFFFFF00000005,
                0x00000001000000FF, 0x1000000005):
        args = (0, 0, arg)
        assert act(policy, X86_64, mmap, args) == reference(policy, policy.arches, X86_64, mmap, args), hex(arg)


def test_masked_eq_clone_namespace_flags() -> None:
    """Docker's clone rule: allowed only when none of the namespace flags 0x7E020000 is set."""
    policy = Policy(EPERM, (SyscallRule(("clone",), ALLOW, (ArgCondition(0, Op.MASKED_EQ, 0, 0x7E020000),)),),
                    (Arch.X86_64,))
    clone = nr(Arch.X86_64, "clone")
    assert act(policy, X86_64, clone, (0x11,)) == ALLOW.kernel_value              # SIGCHLD
    assert act(policy, X86_64, clone, (0x10000000 | 0x11,)) == EPERM.kernel_value  # CLONE_NEWUSER
    assert act(policy, X86_64, clone, (1 << 40 | 0x11,)) == ALLOW.kernel_value


def test_socketcall_follows_rules_on_socket_operations() -> None:
    """A rule on bind governs socketcall(SYS_BIND) on i386; other sub-calls and x86_64 are untouched."""
    policy = deny("bind", "shmget")
    socketcall, ipc = nr(Arch.I386, "socketcall"), nr(Arch.I386, "ipc")
    assert act(policy, I386, socketcall, (2,)) == EPERM.kernel_value
    assert act(policy, I386, socketcall, (3,)) == ALLOW.kernel_value
    assert act(policy, I386, nr(Arch.I386, "bind")) == EPERM.kernel_value
    assert act(policy, I386, ipc, (23,)) == EPERM.kernel_value
    assert act(policy, I386, ipc, (23 | 1 << 16,)) == EPERM.kernel_value           # ipc version bits
    assert act(policy, I386, ipc, (21,)) == ALLOW.kernel_value


def test_unverifiable_conditions_take_the_stricter_action() -> None:
    """Conditional rules through socketcall: a deny applies to every such call, an allow falls to the
    stricter default; both produce a warning naming the rule."""
    af_alg = ArgCondition(0, Op.EQ, 38)
    deny_list = deny("socket", action=KILL_PROCESS, args=(af_alg,))
    compiled = compile_policy(deny_list)
    socketcall = nr(Arch.I386, "socketcall")
    assert act(deny_list, I386, socketcall, (1, 0xFFFF0000)) == KILL_PROCESS.kernel_value
    assert act(deny_list, I386, nr(Arch.I386, "socket"), (2,)) == ALLOW.kernel_value
    assert any("socketcall(call=1)" in w and "rule 1 " in w for w in compiled.warnings)
    allow_list = Policy(EPERM, (SyscallRule(("socket",), ALLOW, (ArgCondition(0, Op.NE, 38),)),),
                        (Arch.I386,))
    assert act(allow_list, I386, socketcall, (1,)) == EPERM.kernel_value
    assert act(allow_list, I386, nr(Arch.I386, "socket"), (2,)) == ALLOW.kernel_value


def _max_executed(policy: Policy, arch: Arch) -> int:
    emu = Emulator(compile_policy(policy, [arch]).program)
    return max(emu.run(SeccompData(arch.audit_arch, n)).executed for n in tables.table(arch).values())


def test_instructions_executed_grow_logarithmically() -> None:
    """Allow-lists of 16, 64 and 256 scattered syscalls: the worst path grows by about 2 per doubling."""
    names = sorted(tables.table(Arch.X86_64), key=lambda n: nr(Arch.X86_64, n))
    worst = {}
    for count in (16, 64, 256):
        chosen = tuple(names[i] for i in range(0, len(names), max(1, len(names) // count)))[:count]
        worst[count] = _max_executed(Policy(EPERM, (SyscallRule(chosen, ALLOW),), (Arch.X86_64,)), Arch.X86_64)
    assert worst[256] - worst[16] <= 2 * math.log2(256 / 16) + 2, worst
    assert worst[256] < 30, worst          # a linear chain would need ~256


def _cache_allows(program: Program, audit: int, number: int) -> bool:
    """The kernel's seccomp_emu_is_const_allow (Linux >= 5.11): only nr/arch loads, K jumps, ja, and K,
    ret K; anything else (argument loads, X, scratch) makes the syscall uncacheable."""
    a, pc = 0, 0
    while True:
        ins = program[pc]
        code = ins.code
        if code == b.BPF_LD | b.BPF_W | b.BPF_ABS:
            if ins.k not in (b.OFF_NR, b.OFF_ARCH):
                return False
            a = number if ins.k == b.OFF_NR else audit
        elif code == b.BPF_JMP | b.BPF_JA:
            pc += ins.k
        elif code in (b.BPF_JMP | b.BPF_JEQ | b.BPF_K, b.BPF_JMP | b.BPF_JGE | b.BPF_K,
                      b.BPF_JMP | b.BPF_JGT | b.BPF_K, b.BPF_JMP | b.BPF_JSET | b.BPF_K):
            op = b.bpf_op(code)
            taken = {b.BPF_JEQ: a == ins.k, b.BPF_JGE: a >= ins.k, b.BPF_JGT: a > ins.k}.get(op, bool(a & ins.k))
            pc += ins.jt if taken else ins.jf
        elif code == b.BPF_ALU | b.BPF_AND | b.BPF_K:
            a &= ins.k
        elif code == b.BPF_RET | b.BPF_K:
            return ins.k == ALLOW.kernel_value
        else:
            return False
        pc += 1


def test_argument_free_allows_stay_cacheable(docker_policy: Policy) -> None:
    """Under Docker's profile every syscall allowed without argument checks is constant-allow for the
    kernel's cache emulation, and the argument-checked ones (socket, personality, clone) are not."""
    program = compile_policy(docker_policy).program
    for arch in (Arch.X86_64, Arch.I386):
        checked = {nr(arch, n) for n in ("socket", "personality", "clone") if tables.number(arch, n) is not None}
        for name, number in tables.table(arch).items():
            want = reference(docker_policy, docker_policy.arches, arch.audit_arch, number, (0,) * 6)
            allowed_plain = want == ALLOW.kernel_value and number not in checked
            assert _cache_allows(program, arch.audit_arch, number) == allowed_plain, (arch, name)


def test_long_jumps_get_trampolines() -> None:
    """300 syscalls with argument checks push blocks beyond 255 instructions; results stay exact."""
    names = [n for n in tables.table(Arch.X86_64)][:300]
    rules = tuple(SyscallRule((n,), EPERM, (ArgCondition(0, Op.EQ, i),)) for i, n in enumerate(names))
    policy = Policy(ALLOW, rules, (Arch.X86_64,))
    program = compile_policy(policy).program
    check_program(program)
    assert any(i.code == b.BPF_JMP | b.BPF_JA and i.k > 255 for i in program)
    emu = Emulator(program)
    for i, name in enumerate(names):
        number = nr(Arch.X86_64, name)
        for arg in (i, i + 1):
            got = emu.run(SeccompData(X86_64, number, (arg, 0, 0, 0, 0, 0))).action
            assert got == reference(policy, policy.arches, X86_64, number, (arg, 0, 0, 0, 0, 0))


def test_too_many_instructions_is_a_compile_error() -> None:
    """More than 4096 instructions: a CompileError that names the kernel limit."""
    names = list(tables.table(Arch.X86_64))
    conds = tuple(ArgCondition(i, Op.GT, 7 + i) for i in range(6))
    policy = Policy(ALLOW, tuple(SyscallRule((n,), EPERM, conds) for n in names), (Arch.X86_64, Arch.I386))
    with pytest.raises(CompileError, match="4096"):
        compile_policy(policy)


def test_arches_argument_overrides_the_policy() -> None:
    """compile_policy(policy, [x86_64]) leaves i386 to the bad-arch action."""
    policy = deny("dup")
    program = compile_policy(policy, [Arch.X86_64]).program
    assert Emulator(program).run(SeccompData(I386, 41)).action == KILL_PROCESS.kernel_value


def test_trees_beyond_255_nodes_stay_exact() -> None:
    """Alternating actions on every x86_64 syscall (hundreds of intervals) force long tree jumps."""
    ordered = sorted(tables.table(Arch.X86_64).items(), key=lambda item: item[1])
    rules = (SyscallRule(tuple(n for n, _ in ordered[0::2]), EPERM),
             SyscallRule(tuple(n for n, _ in ordered[1::3]), KILL_PROCESS))
    policy = Policy(ALLOW, rules, (Arch.X86_64, Arch.I386))
    program = compile_policy(policy).program
    assert any(i.code == b.BPF_JMP | b.BPF_JA and i.k > 255 for i in program)
    emu = Emulator(program)
    for audit, arch in ((X86_64, Arch.X86_64), (I386, Arch.I386)):
        for number in list(tables.table(arch).values()) + [999, 0x3FFFFFFF]:
            got = emu.run(SeccompData(audit, number)).action
            assert got == reference(policy, policy.arches, audit, number, (0,) * 6), (arch, number)


@pytest.mark.parametrize("arches", [(Arch.AARCH64, Arch.ARM), (Arch.RISCV64,), (Arch.S390X,), (Arch.PPC64LE,)])
def test_other_arches_compile_to_their_own_tables(arches: tuple[Arch, ...]) -> None:
    """Cross-compiled sections (big-endian s390x, socketcall on s390x/ppc64le, 32-bit arm) agree with the
    reference for every number in each arch's table."""
    rules = (SyscallRule(("dup", "openat", "bind"), EPERM, (ArgCondition(0, Op.LT, 1 << 33),)),
             SyscallRule(("getppid", "ioctl", "socket", "shmget"), KILL_PROCESS))
    policy = Policy(ALLOW, rules, arches)
    emu = Emulator(compile_policy(policy).program)
    for arch in arches:
        for number in tables.table(arch).values():
            for arg in (1, 2, 23, 5, 1 << 32 | 5, 1 << 34):
                got = emu.run(SeccompData(arch.audit_arch, number, (arg, 0, 0, 0, 0, 0))).action
                want = reference(policy, policy.arches, arch.audit_arch, number, (arg, 0, 0, 0, 0, 0))
                assert got == want, (arch, number, hex(arg))


@pytest.mark.parametrize("arches", [(Arch.X86_64,), (Arch.X86_64, Arch.X32), (Arch.X32,), (Arch.I386,)])
def test_nr_minus_one_is_allowed_in_listed_arches(arches: tuple[Arch, ...]) -> None:
    """nr -1 (a tracer skipping the call) is allowed even under a kill-by-default allow-list; an unlisted
    arch still gets the bad-arch action for it."""
    policy = Policy(KILL_PROCESS, (SyscallRule(("read",), ALLOW),), arches, Action(ActionKind.ERRNO, 9))
    audit = arches[0].audit_arch
    assert act(policy, audit, 0xFFFFFFFF) == ALLOW.kernel_value
    other = I386 if audit == X86_64 else X86_64
    if other == X86_64 and Arch.X32 not in arches:
        assert act(policy, other, 0xFFFFFFFF) == Action(ActionKind.ERRNO, 9).kernel_value
