"""go-seccomp-bpf policies: its actions, operations, BitsSet expansion, arch semantics and dump."""
from __future__ import annotations

import errno
from pathlib import Path

import pytest

from syswarden.errors import PolicyError, UnknownSyscallError
from syswarden.policy.formats import go_seccomp
from syswarden.policy.model import ALLOW, Action, ActionKind, ArgCondition, Op
from syswarden.syscalls.arch import Arch

EPERM = Action(ActionKind.ERRNO, errno.EPERM)


def load(text: str) -> go_seccomp.Policy:  # type: ignore[name-defined]
    return go_seccomp.load(text, filename="g.yml", native_arch=Arch.X86_64)


def test_sandbox_example(anchors: Path) -> None:
    """The upstream example: network calls get EPERM, clone without CLONE_NEWUSER gets EPERM."""
    policy = go_seccomp.load((anchors / "go-seccomp-bpf" / "sandbox-example-seccomp.yml").read_text(),
                             native_arch=Arch.X86_64)
    assert policy.default_action == ALLOW and policy.bad_arch_action == ALLOW
    assert policy.rules[0].action == EPERM and "connect" in policy.rules[0].names
    assert policy.rules[1].args == (ArgCondition(0, Op.MASKED_EQ, 0, 0x10000000),)
    assert any("bypass" in w for w in policy.warnings)


def test_bits_set_is_one_rule_per_bit() -> None:
    """BitsSet 0x5 (any of bits 0 and 2) becomes two ORed rules."""
    policy = load("seccomp:\n  default_action: allow\n  syscalls:\n  - action: kill_process\n"
                  "    names_with_args:\n    - name: mmap\n      arguments:\n"
                  "      - {argument: 2, operation: BitsSet, value: 5}\n"
                  "      - {position: 3, operation: Equal, value: 1}\n")
    assert [r.args for r in policy.rules] == [
        (ArgCondition(2, Op.MASKED_EQ, 1, 1), ArgCondition(3, Op.EQ, 1)),
        (ArgCondition(2, Op.MASKED_EQ, 4, 4), ArgCondition(3, Op.EQ, 1)),
    ]


def test_unknown_names_are_errors() -> None:
    """go-seccomp-bpf refuses unknown names, and so do we."""
    with pytest.raises(UnknownSyscallError, match=r"g\.yml:4:"):
        load("seccomp:\n  default_action: allow\n  syscalls:\n  - {action: errno, names: [nosuchcall]}\n")


def test_dump_round_trip_and_refusal() -> None:
    """A fitting policy round-trips; an errno other than EPERM cannot be written."""
    policy = load("seccomp:\n  default_action: errno\n  flag: tsync\n  syscalls:\n  - action: allow\n"
                  "    names: [read, write]\n  - action: trace\n    names_with_args:\n    - name: ioctl\n"
                  "      arguments: [{argument: 1, operation: BitsNotSet, value: 0xff}]\n")
    assert load(go_seccomp.dump(policy)) == policy
    with pytest.raises(PolicyError, match="no go-seccomp-bpf spelling"):
        go_seccomp.dump(policy.__class__(Action(ActionKind.ERRNO, errno.ENOSYS)))
