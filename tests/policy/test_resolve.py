"""Checking syscall tokens and argument conditions, shared by every format."""
from __future__ import annotations

import pytest

from syswarden.errors import PolicyError, UnknownSyscallError
from syswarden.policy.model import ArgCondition, Op
from syswarden.policy.resolve import U64, NameResolver, arch_list, condition
from syswarden.spans import Span
from syswarden.syscalls.arch import Arch

AT = Span("p.yaml", 3, 7)


def test_names_dedupe_and_expand_groups() -> None:
    """Groups expand in place; repeats keep their first position."""
    r = NameResolver((Arch.X86_64,))
    names = r.names([("read", AT), ("@basic-io", AT), ("read", AT)])
    assert names[0] == "read" and names.count("read") == 1 and "write" in names
    assert r.warnings == []


def test_group_members_newer_than_tables_are_dropped() -> None:
    """@file-system lists aliases no table has (fstatat); they vanish without an error."""
    names = NameResolver((Arch.X86_64,)).names([("@file-system", AT)])
    assert "openat" in names and "fstatat" not in names


def test_unknown_name_error_or_warning() -> None:
    """Unknown names raise with the span, or warn and vanish when ignore_unknown is set."""
    with pytest.raises(UnknownSyscallError) as info:
        NameResolver((Arch.X86_64,)).names([("frobnicate", AT)])
    assert info.value.span == AT
    lenient = NameResolver((Arch.X86_64,), ignore_unknown=True)
    assert lenient.names([("frobnicate", AT), ("read", AT)]) == ("read",)
    assert lenient.warnings[0].startswith("p.yaml:3:7: unknown syscall 'frobnicate'")


def test_condition_ranges() -> None:
    """Index 0..5, widths 32/64, values within width; non-masked ops get the model's default mask."""
    assert condition(0, Op.EQ, 5, mask=0xFF) == ArgCondition(0, Op.EQ, 5, U64)
    assert condition(1, Op.MASKED_EQ, 0, mask=0xFF, width=32) == ArgCondition(1, Op.MASKED_EQ, 0, 0xFF, 32)
    for kwargs, message in (({"index": 6}, "out of range"), ({"width": 16}, "width 16"),
                            ({"value": 1 << 32, "width": 32}, "does not fit in 32 bits"),
                            ({"value": 1 << 64}, "does not fit in 64 bits")):
        args = {"index": 0, "op": Op.EQ, "value": 0, **kwargs}
        with pytest.raises(PolicyError, match=message):
            condition(args.pop("index"), args.pop("op"), args.pop("value"), **args)  # type: ignore[arg-type]


def test_arch_list_parses_spellings() -> None:
    """Any common arch spelling, de-duplicated in order; unknown names are PolicyErrors."""
    assert arch_list([("amd64", AT), ("SCMP_ARCH_X86", AT), ("x86_64", AT)]) == (Arch.X86_64, Arch.I386)
    with pytest.raises(PolicyError, match="unknown architecture 'vax'"):
        arch_list([("vax", AT)])


def test_check_policy_built_in_code() -> None:
    """check() accepts a sound policy, adds other-arch warnings, and refuses bad names/arches/conditions."""
    from syswarden.policy.model import ALLOW, Action, ActionKind, Policy, SyscallRule
    from syswarden.policy.resolve import check
    log = Action(ActionKind.LOG)
    ok = check(Policy(ALLOW, rules=(SyscallRule(("open", "openat"), log),), arches=(Arch.AARCH64,)))
    assert len(ok.warnings) == 1 and "'open'" in ok.warnings[0]
    with pytest.raises(UnknownSyscallError):
        check(Policy(ALLOW, rules=(SyscallRule(("nosuch",), log),)))
    elsewhere = check(Policy(ALLOW, rules=(SyscallRule(("read",), log, arches=frozenset({Arch.AARCH64})),)))
    assert "does not list (aarch64)" in elsewhere.warnings[0]
    with pytest.raises(PolicyError, match="does not fit in 32 bits"):
        check(Policy(ALLOW, rules=(SyscallRule(("read",), log, (ArgCondition(0, Op.EQ, 1 << 40, width=32),)),)))
    with pytest.raises(PolicyError, match="expand groups"):
        check(Policy(ALLOW, rules=(SyscallRule(("@timer",), log),)))


def test_unsupported_machine_is_a_policy_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a machine syswarden has no tables for, defaulting to the native arch is a PolicyError."""
    import platform

    from syswarden.policy.load import load_policy
    monkeypatch.setattr(platform, "machine", lambda: "mips64")
    with pytest.raises(PolicyError, match="not supported"):
        load_policy("default: allow\n")
    assert load_policy("default: allow\n", native_arch=Arch.X86_64).arches[0] is Arch.X86_64
