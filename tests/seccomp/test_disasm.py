"""Tests for seccomp/disasm.py and explain.py: listing format, per-section syscall names, jump targets, and
explanations naming the deciding rule."""
from __future__ import annotations

import re

import pytest

from syswarden.policy.model import Policy
from syswarden.seccomp import insn as b
from syswarden.seccomp.compiler import compile_policy
from syswarden.seccomp.decisions import OriginKind
from syswarden.seccomp.disasm import action_text, disassemble, lines
from syswarden.seccomp.emulator import run
from syswarden.seccomp.explain import explain
from syswarden.syscalls import tables
from syswarden.syscalls.arch import Arch

LINE = re.compile(r"^ (\d{4}): 0x([0-9a-f]{2}) 0x([0-9a-f]{2}) 0x([0-9a-f]{2}) 0x([0-9a-f]{8})  (.+)$")


def test_every_line_has_the_seccomp_tools_layout(docker_policy: Policy) -> None:
    """`NNNN: 0xCC 0xJT 0xJF 0xKKKKKKKK  text`, one per instruction, fields equal to the instruction."""
    program = compile_policy(docker_policy).program
    out = lines(program)
    assert len(out) == len(program)
    for pc, (line, ins) in enumerate(zip(out, program)):
        m = LINE.match(line)
        assert m, line
        assert (int(m[1]), int(m[2], 16), int(m[3], 16), int(m[4], 16), int(m[5], 16)) == \
            (pc, ins.code, ins.jt, ins.jf, ins.k)


def test_jump_text_names_the_real_targets(docker_policy: Policy) -> None:
    """Every `goto NNNN` in the listing is a target the instruction can actually jump to."""
    program = compile_policy(docker_policy).program
    for pc, line in enumerate(lines(program)):
        ins = program[pc]
        targets = {int(t) for t in re.findall(r"goto (\d{4})", line)}
        if ins.code == b.BPF_JMP | b.BPF_JA:
            assert targets == {pc + 1 + ins.k}
        elif b.bpf_class(ins.code) == b.BPF_JMP:
            assert targets <= {pc + 1 + ins.jt, pc + 1 + ins.jf} and targets


def test_syscall_names_are_resolved_per_arch_section() -> None:
    """The same number reads as x86_64's name in the x86_64 section and i386's in the i386 section."""
    from syswarden.policy.model import ALLOW, Action, ActionKind, SyscallRule
    policy = Policy(ALLOW, (SyscallRule(("dup", "socket"), Action(ActionKind.ERRNO, 1)),),
                    (Arch.X86_64, Arch.I386, Arch.X32))
    text = disassemble(compile_policy(policy).program)
    # 41 is socket on x86_64 and dup on i386; x32 numbers carry the 0x40000000 bit.
    assert re.search(r"0x00000029  if \(A [^)]*socket\)", text)
    assert re.search(r"0x00000029  if \(A [^)]*dup\)", text)
    assert re.search(r"0x40000029  if \(A [^)]*socket\)", text)


@pytest.mark.parametrize("value,text", [(0x7FFF0000, "ALLOW"), (0x00050001, "ERRNO(1)"), (0x80000000,
                         "KILL_PROCESS"), (0, "KILL_THREAD"), (0x00030000, "TRAP"), (0x7FF00007, "TRACE(7)"),
                         (0x7FFC0000, "LOG"), (0x7FC00000, "USER_NOTIF")])
def test_action_text(value: int, text: str) -> None:
    """Return values print as seccomp action names with their data."""
    assert action_text(value) == text


def test_explain_names_the_deciding_rule(docker_policy: Policy) -> None:
    """personality(8) is allowed by Docker's second personality rule; unshare falls to the default;
    an aarch64 call is the bad-arch action."""
    compiled = compile_policy(docker_policy)
    pers = explain(compiled, Arch.X86_64, "personality", [8])
    assert pers.action_text == "ALLOW"
    assert pers.origin.kind is OriginKind.RULE and pers.origin.rule is not None
    assert pers.origin.rule.args[0].value == 8
    assert explain(compiled, Arch.X86_64, "unshare").origin.kind is OriginKind.DEFAULT
    arm = explain(compiled, Arch.AARCH64, "read")
    assert arm.origin.kind is OriginKind.BAD_ARCH
    assert arm.action == docker_policy.bad_arch_action.kernel_value


def test_explain_path_is_the_emulator_path(docker_policy: Policy) -> None:
    """The path printed by check is exactly the instructions the emulator executed."""
    compiled = compile_policy(docker_policy)
    nr = tables.number(Arch.X86_64, "clone")
    assert nr is not None
    exp = explain(compiled, Arch.X86_64, "clone", [0x10000000])
    res = run(compiled.program, Arch.X86_64.audit_arch, nr, [0x10000000])
    assert exp.path == res.path and exp.action == res.action
    rendered = exp.render(compiled)
    assert f"path ({len(res.path)} instructions executed)" in rendered


@pytest.mark.parametrize("given,name", [("rt_sigaction", "rt_sigaction"), ("13", "rt_sigaction"),
                                        ("0xd", "rt_sigaction"), (13, "rt_sigaction")])
def test_explain_accepts_names_and_numbers(docker_policy: Policy, given: str | int, name: str) -> None:
    """check takes a name with underscores, a decimal or hex number, or an int."""
    exp = explain(compile_policy(docker_policy), Arch.X86_64, given)
    assert (exp.syscall, exp.nr) == (name, 13)


@pytest.mark.parametrize("bad", ["rm -rf", "", "1x", "nosuchcall"])
def test_explain_rejects_bad_syscall_text(docker_policy: Policy, bad: str) -> None:
    """Anything that is not a known name or a number is an UnknownSyscallError."""
    from syswarden.errors import UnknownSyscallError
    with pytest.raises(UnknownSyscallError):
        explain(compile_policy(docker_policy), Arch.X86_64, bad)


def test_explain_names_the_multiplexer_route() -> None:
    """socketcall(SYS_BIND) on i386 is explained as the bind rule, reached through socketcall."""
    from syswarden.policy.model import ALLOW, Action, ActionKind, SyscallRule
    policy = Policy(ALLOW, (SyscallRule(("bind",), Action(ActionKind.ERRNO, 1)),), (Arch.I386,))
    exp = explain(compile_policy(policy), Arch.I386, "socketcall", [2])
    assert exp.action_text == "ERRNO(1)"
    assert "via socketcall(call=2, bind)" in exp.origin.describe()
