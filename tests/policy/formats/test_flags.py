"""firejail-style --drop/--allow flags: the policies they stand for and the errors they give."""
from __future__ import annotations

import errno

import pytest

from syswarden.errors import PolicySyntaxError, UnknownSyscallError
from syswarden.policy.formats import flags
from syswarden.policy.model import ALLOW, KILL_PROCESS, Action, ActionKind, Policy, SyscallRule
from syswarden.syscalls import groups


def test_drop_only_allows_everything_else() -> None:
    """--drop bind,listen: default allow, one rule denying both with the deny action."""
    policy = flags.from_flags(["bind,listen"], deny=flags.parse_errno("EPERM"))
    assert policy.default_action == ALLOW
    assert policy.rules[0].names == ("bind", "listen")
    assert policy.rules[0].action == Action(ActionKind.ERRNO, errno.EPERM)


def test_allow_only_is_an_allow_list_killing_the_rest() -> None:
    """--allow read,write: only those are allowed; the default is kill_process."""
    policy = flags.from_flags((), ["read", "write"])
    assert policy.default_action == KILL_PROCESS
    assert policy.rules == (SyscallRule(("read", "write"), ALLOW, comment="--allow"),)


def test_groups_expand_like_systemd() -> None:
    """--drop @mount expands to the members our tables know."""
    policy = flags.from_flags(["@mount"])
    assert "mount" in policy.rules[0].names
    assert set(policy.rules[0].names) <= set(groups.expand("@mount"))


def test_merge_puts_flag_rules_first() -> None:
    """Merged into a base policy, drops come before its rules and so win."""
    base = Policy(default_action=ALLOW, rules=(SyscallRule(("bind",), ALLOW),), name="base")
    merged = flags.merge_flags(base, ["bind"])
    assert [r.comment for r in merged.rules] == ["--drop", ""]
    assert merged.rules[0].action == KILL_PROCESS and merged.name == "base"


def test_unknown_syscall_names_the_flag_and_column() -> None:
    """A misspelled name is an UnknownSyscallError pointing at the flag value, with a suggestion."""
    with pytest.raises(UnknownSyscallError) as info:
        flags.from_flags(["read,bnid"])
    assert str(info.value.span) == "--drop:1:6"
    assert "bind" in str(info.value)


def test_empty_item_and_bad_errno_are_syntax_errors() -> None:
    """An empty list item and a non-errno --errno value are refused."""
    with pytest.raises(PolicySyntaxError, match="empty item"):
        flags.from_flags(["read,,write"])
    with pytest.raises(PolicySyntaxError, match="errno name"):
        flags.parse_errno("ENOTANERRNO")
    with pytest.raises(PolicySyntaxError, match="expected allow"):
        flags.parse_action_flag("deny")


def test_dry_run_turns_denials_into_log() -> None:
    """--log keeps allows and turns every denying action into log."""
    policy = flags.as_dry_run(flags.from_flags(["bind"], ["read"]))
    assert {r.action.kind for r in policy.rules} == {ActionKind.LOG, ActionKind.ALLOW}
    assert policy.default_action.kind is ActionKind.LOG and policy.bad_arch_action.kind is ActionKind.LOG
