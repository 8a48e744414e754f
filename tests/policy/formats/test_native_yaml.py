"""Native YAML policies: the action spellings, arguments, groups, arches, and warnings."""
from __future__ import annotations

import errno

import pytest

from syswarden.errors import PolicySyntaxError, UnknownSyscallError
from syswarden.policy.formats import native_yaml
from syswarden.policy.model import KILL_PROCESS, Action, ActionKind, ArgCondition, Op
from syswarden.syscalls import groups
from syswarden.syscalls.arch import Arch

EPERM = Action(ActionKind.ERRNO, errno.EPERM)


def load(body: str) -> native_yaml.Policy:  # type: ignore[name-defined]
    return native_yaml.load(body, filename="t.yaml", native_arch=Arch.X86_64)


@pytest.mark.parametrize("spelling", ["errno(EPERM)", "errno(1)", "errno", "ERRNO(eperm)", "{errno: EPERM}",
                                      "{errno: 1}", "'errno( 0x1 )'"])
def test_errno_spellings_are_equal(spelling: str) -> None:
    """Every documented way to write errno EPERM gives the same action."""
    assert load(f"default: {spelling}\n").default_action == EPERM


def test_all_action_kinds() -> None:
    """Each action name maps to its seccomp return kind; trace keeps its data."""
    kinds = {"allow": ActionKind.ALLOW, "kill_process": ActionKind.KILL_PROCESS, "log": ActionKind.LOG,
             "kill_thread": ActionKind.KILL_THREAD, "trap": ActionKind.TRAP, "notify": ActionKind.NOTIFY}
    for word, kind in kinds.items():
        assert load(f"default: {word}\n").default_action.kind is kind
    assert load("default: trace(7)\n").default_action == Action(ActionKind.TRACE, 7)


def test_defaults_for_missing_keys() -> None:
    """Native arch and sub-arches, kill_process on a bad arch, no flags, no rules."""
    policy = load("default: allow\n")
    assert policy.arches == (Arch.X86_64, Arch.I386, Arch.X32)
    assert policy.bad_arch_action == KILL_PROCESS and policy.flags == frozenset() and policy.rules == ()
    assert policy.source == "t.yaml"


def test_conditions_accept_hex_strings_and_widths() -> None:
    """Values may be ints or hex strings; width 32 is kept; op defaults to eq."""
    policy = load("default: allow\nrules:\n  - syscalls: [ioctl]\n    action: errno(EPERM)\n"
                  "    args: [{arg: 1, value: '0x5412', width: 32}, {arg: 2, op: masked_eq, value: 0, mask: 0xff}]\n")
    assert policy.rules[0].args == (ArgCondition(1, Op.EQ, 0x5412, width=32),
                                    ArgCondition(2, Op.MASKED_EQ, 0, 0xFF))


def test_groups_expand_in_syscall_lists() -> None:
    """@network-io in a rule stands for its members, de-duplicated against plain names."""
    policy = load("default: errno\nrules:\n  - syscalls: [connect, '@network-io']\n    action: allow\n")
    names = policy.rules[0].names
    assert names[0] == "connect" and names.count("connect") == 1
    assert set(names) == {n for n in groups.expand("@network-io") if n in names}
    assert "socket" in names


def test_per_rule_arches() -> None:
    """A rule's arches restrict it to those arches."""
    policy = load("default: allow\nrules:\n  - {syscalls: [personality], action: log, arches: [x86, amd64]}\n")
    assert policy.rules[0].arches == frozenset({Arch.I386, Arch.X86_64})


def test_rule_arch_outside_policy_warns() -> None:
    """A rule for an arch the policy does not list is kept, with a warning at its arches key."""
    policy = load("default: allow\narches: [x86_64]\nrules:\n  - {syscalls: [read], action: log, arches: [arm64]}\n")
    assert policy.rules[0].arches == frozenset({Arch.AARCH64})
    assert policy.warnings[0].startswith("t.yaml:4:") and "aarch64" in policy.warnings[0]


def test_name_on_other_arch_only_warns() -> None:
    """A syscall that only other arches have is kept with a warning naming them."""
    policy = load("default: allow\narches: [aarch64]\nrules:\n  - {syscalls: [open], action: log}\n")
    assert policy.rules[0].names == ("open",)
    assert len(policy.warnings) == 1 and "t.yaml:4:" in policy.warnings[0] and "x86_64" in policy.warnings[0]


def test_unknown_syscall_suggests() -> None:
    """A name no arch has is an UnknownSyscallError with close matches and a caret snippet."""
    with pytest.raises(UnknownSyscallError) as info:
        load("default: allow\nrules:\n  - {syscalls: [exceve], action: log}\n")
    assert "did you mean execve" in str(info.value)
    lines = info.value.detail().splitlines()
    assert lines[1] == "  - {syscalls: [exceve], action: log}" and lines[2].strip() == "^"
    assert lines[3] == "  in rule 1 (t.yaml:3:5)"


def test_symbolic_values() -> None:
    """Argument values may be constants ORed together; unknown constants are errors naming the value."""
    policy = load("default: allow\nrules:\n  - syscalls: [clone]\n    action: errno\n"
                  "    args: [{arg: 0, op: masked_eq, value: 0, mask: 'CLONE_NEWUSER | CLONE_NEWNET'}]\n")
    assert policy.rules[0].args[0].mask == 0x50000000
    with pytest.raises(PolicySyntaxError, match="'value' to be an integer, found a string 'CLONE_NEWFOO'"):
        load("default: allow\nrules:\n  - {syscalls: [clone], action: log, args: [{arg: 0, value: CLONE_NEWFOO}]}\n")


def test_go_seccomp_form_is_accepted() -> None:
    """A document with a top-level seccomp key is read as go-seccomp-bpf."""
    policy = load("seccomp:\n  default_action: errno\n  syscalls:\n    - {action: allow, names: [read]}\n")
    assert policy.default_action == EPERM and policy.bad_arch_action == EPERM
    assert policy.arches == (Arch.X86_64,)


def test_negative_values_are_twos_complement() -> None:
    """value: -100 (AT_FDCWD) is 2**64-100, or 2**32-100 with width 32."""
    policy = load("default: allow\nrules:\n  - syscalls: [openat]\n    action: log\n"
                  "    args: [{arg: 0, value: -100}]\n  - syscalls: [openat]\n    action: log\n"
                  "    args: [{arg: 0, value: -100, width: 32}]\n")
    assert [r.args[0].value for r in policy.rules] == [(1 << 64) - 100, (1 << 32) - 100]
    with pytest.raises(PolicySyntaxError, match="fit in 32 bits"):
        load("default: allow\nrules:\n"
             "  - {syscalls: [read], action: log, args: [{arg: 0, value: -3000000000, width: 32}]}\n")
