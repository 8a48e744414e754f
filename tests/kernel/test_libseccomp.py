"""The libseccomp binding: resolution, filter building, export, and from_policy against the real kernel."""
from __future__ import annotations

import ctypes
import errno
import os
import struct
from collections.abc import Callable

import pytest

from syswarden.kernel import libseccomp
from syswarden.kernel.libseccomp import Attr, Cmp, LibseccompFilter
from syswarden.policy.model import (
    ALLOW, Action, ActionKind, ArgCondition, Op, Policy, SyscallRule,
)
from syswarden.syscalls import tables
from syswarden.syscalls.arch import Arch

pytestmark = pytest.mark.skipif(not libseccomp.available(), reason="libseccomp.so.2 not installed")

EPERM = Action(ActionKind.ERRNO, errno.EPERM)


def _insns(bpf: bytes) -> list[tuple[int, int, int, int]]:
    return [struct.unpack("=HBBI", bpf[i:i + 8]) for i in range(0, len(bpf), 8)]


def _run_in_child(build: Callable[[], LibseccompFilter], probe: Callable[[], int]) -> int:
    """Fork; the child installs ``build()``'s filter and exits with ``probe()``'s result (0..255)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 250
        try:
            build().load()
            code = probe()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status), f"child died: {status:#x}"
    return os.WEXITSTATUS(status)


def _raw_errno(nr: int, *args: int) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    rc = libc.syscall(ctypes.c_long(nr), *(ctypes.c_long(a) for a in args))
    return ctypes.get_errno() if rc == -1 else 0


def test_version_and_resolution() -> None:
    """Resolution matches well-known numbers; unknown names and numbers give None."""
    assert libseccomp.version() >= (2, 5, 0)
    assert libseccomp.resolve_name(Arch.X86_64, "openat") == 257
    assert libseccomp.resolve_name(Arch.AARCH64, "open") is None
    assert libseccomp.resolve_num(Arch.AARCH64, 56) == "openat"
    assert libseccomp.resolve_num(Arch.X86_64, 99999) is None
    assert libseccomp.resolve_name_any("no_such_call") == libseccomp.NR_SCMP_ERROR


def test_export_bpf_starts_with_arch_check() -> None:
    """The exported program loads seccomp_data.arch first and ends in a return."""
    with LibseccompFilter(0x7FFF0000) as flt:
        flt.add_rule(0x00050001, 257, [(1, Cmp.MASKED_EQ, 0o3, 0o1)])
        prog = _insns(flt.export_bpf())
    assert prog[0] == (0x20, 0, 0, 4)        # ld [4]  (arch)
    assert prog[-1][0] == 0x06               # ret
    assert any(k == 0x00050001 for code, _, _, k in prog if code == 0x06)


def test_add_rule_accepts_op_spellings() -> None:
    """Cmp, model Op and op names give the same filter."""
    programs = set()
    for op in (Cmp.MASKED_EQ, Op.MASKED_EQ, "masked_eq", 7):
        with LibseccompFilter(0x7FFF0000) as flt:
            flt.add_rule(0x00050001, 16, [(1, op, 0xFF00, 0x5400)])
            programs.add(flt.export_bpf())
    assert len(programs) == 1


def test_pfc_shows_rules_attributes_and_arches() -> None:
    """PFC lists each arch, rule and the bad-arch action set through set_attr."""
    with LibseccompFilter(0x7FFF0000) as flt:
        flt.add_arch(Arch.I386)
        assert flt.has_arch(Arch.I386)
        flt.set_attr(Attr.ACT_BADARCH, 0x00050000 | 13)
        flt.set_attr(Attr.CTL_OPTIMIZE, 2)
        flt.add_rule(0x00050001, tables.number(Arch.X86_64, "ptrace") or 0)
        flt.remove_arch(Arch.I386)
        assert not flt.has_arch(Arch.I386)
        pfc = flt.export_pfc()
    assert 'filter for syscall "ptrace"' in pfc
    assert "arch x86 " not in pfc
    assert "invalid architecture action\naction ERRNO(13)" in pfc


def test_bad_rule_raises_kernel_error() -> None:
    """A rule with an argument index beyond 5 is refused with a KernelError naming the call."""
    from syswarden.errors import KernelError
    with LibseccompFilter(0x7FFF0000) as flt, pytest.raises(KernelError, match="rule_add"):
        flt.add_rule(0x00050001, 0, [(7, Cmp.EQ, 1, 0)])


def test_from_policy_per_arch_rules_and_masked_eq() -> None:
    """from_policy keeps per-arch rules on their arch and maps masked_eq to (mask, value)."""
    policy = Policy(
        default_action=EPERM,
        rules=(
            SyscallRule(("read", "write"), ALLOW),
            SyscallRule(("ioctl",), ALLOW, (ArgCondition(1, Op.MASKED_EQ, 0x5400, 0xFF00),)),
            SyscallRule(("personality",), ALLOW, arches=frozenset({Arch.I386})),
            SyscallRule(("mkdir",), EPERM),    # equal to the default: skipped, as libseccomp refuses it
        ),
        arches=(Arch.X86_64, Arch.I386),
    )
    with libseccomp.from_policy(policy) as flt:
        pfc = flt.export_pfc()
    x86_64, i386 = pfc.split("# filter for arch x86 ")
    assert "personality" not in x86_64 and "personality" in i386
    assert "& 0x0000ff00 == 21504" in i386
    assert "mkdir" not in pfc


@pytest.mark.kernel
def test_from_policy_is_enforced_by_the_kernel() -> None:
    """A child that installs from_policy's filter gets the policy's errno for mkdirat, and not for getpid."""
    nr_mkdirat = tables.number(Arch.X86_64, "mkdirat")
    nr_getpid = tables.number(Arch.X86_64, "getpid")
    if Arch.native() is not Arch.X86_64 or nr_mkdirat is None or nr_getpid is None:
        pytest.skip("the probe uses x86_64 numbers")
    policy = Policy(
        default_action=ALLOW,
        rules=(SyscallRule(("mkdirat",), Action(ActionKind.ERRNO, errno.EROFS),
                           (ArgCondition(2, Op.EQ, 0o700),)),),
    )
    code = _run_in_child(lambda: libseccomp.from_policy(policy),
                         lambda: _raw_errno(nr_mkdirat, -100, 0, 0o700))
    assert code == errno.EROFS
    code = _run_in_child(lambda: libseccomp.from_policy(policy),
                         lambda: _raw_errno(nr_mkdirat, -100, 0, 0o755) or 200)
    assert code == errno.EFAULT        # path NULL: the kernel ran it, so the filter let it through


def test_from_policy_sets_flag_attributes() -> None:
    """Policy flags become libseccomp's TSYNC/LOG attributes; NNP stays off (the launcher sets it)."""
    policy = Policy(default_action=ALLOW, flags=frozenset({"tsync", "log"}), arches=(Arch.X86_64, Arch.I386))
    with libseccomp.from_policy(policy) as flt:
        assert flt.get_attr(Attr.CTL_TSYNC) == 1 and flt.get_attr(Attr.CTL_LOG) == 1
        assert flt.get_attr(Attr.CTL_NNP) == 0 and flt.get_attr(Attr.CTL_SSB) == 0
