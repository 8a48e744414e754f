"""Bypass attempts against compiled filters on the real kernel: a call denied on x86_64 stays denied through
``int 0x80`` (i386) and the x32 ABI, and ``ioctl(TIOCSTI | 1<<32)`` is caught by a 32-bit-width rule.
The C program (tests/data/bypass/rawsys.c) runs in a child that installed the filter before exec."""
from __future__ import annotations

import errno
import re
import signal
import subprocess
from pathlib import Path

import pytest

from syswarden.policy.model import ALLOW, Action, ActionKind, ArgCondition, Op, Policy, SyscallRule
from syswarden.seccomp.compiler import compile_policy
from syswarden.syscalls import tables
from syswarden.syscalls.arch import Arch

from .helpers import run_under_filter

pytestmark = pytest.mark.kernel
EPERM = Action(ActionKind.ERRNO, errno.EPERM)
ALL = (Arch.X86_64, Arch.I386, Arch.X32)
TIOCSTI = 0x5412


def _outcome(proc: subprocess.CompletedProcess[str]) -> tuple[int, int] | str:
    """(ret, errno) printed by rawsys, or 'SIGSYS' when the filter killed it."""
    if proc.returncode == -signal.SIGSYS:
        return "SIGSYS"
    match = re.search(r"ret=(-?\d+) errno=(\d+)", proc.stdout)
    assert match, (proc.returncode, proc.stdout, proc.stderr)
    return int(match.group(1)), int(match.group(2))


def _run(exe: Path, policy: Policy | None, tmp_path: Path, *argv: str) -> tuple[int, int] | str:
    if policy is None:
        return _outcome(subprocess.run([str(exe), *argv], capture_output=True, text=True, timeout=30))
    image = compile_policy(policy).to_bytes()
    return _outcome(run_under_filter(image, [str(exe), *argv], tmp_path))


def _deny_dup(arches: tuple[Arch, ...]) -> Policy:
    return Policy(ALLOW, (SyscallRule(("dup",), EPERM),), arches)


@pytest.fixture
def ia32(bypass_exe: Path) -> Path:
    getpid = tables.number(Arch.I386, "getpid")
    res = _run(bypass_exe, None, Path("."), "int80", str(getpid))
    if not (isinstance(res, tuple) and res[0] > 0):
        pytest.skip("i386 emulation (int 0x80) is disabled in this kernel")
    return bypass_exe


def test_denied_call_stays_denied_through_int80(ia32: Path, tmp_path: Path) -> None:
    """dup denied by name: EPERM natively and through int 0x80 with the i386 number (41)."""
    dup64, dup32 = str(tables.number(Arch.X86_64, "dup")), str(tables.number(Arch.I386, "dup"))
    assert _run(ia32, None, tmp_path, "int80", dup32, "1")[1] == 0     # type: ignore[index]
    policy = _deny_dup(ALL)
    assert _run(ia32, policy, tmp_path, "64", dup64, "1") == (-1, errno.EPERM)
    assert _run(ia32, policy, tmp_path, "int80", dup32, "1") == (-1, errno.EPERM)


def test_int80_is_killed_when_i386_is_not_listed(ia32: Path, tmp_path: Path) -> None:
    """An x86_64-only deny-list gives every int 0x80 call the bad-arch action (kill), not the default allow."""
    assert _run(ia32, _deny_dup((Arch.X86_64,)), tmp_path, "int80", "20") == "SIGSYS"


def test_x32_call_is_answered_by_the_filter(bypass_exe: Path, tmp_path: Path) -> None:
    """This kernel has no x32 ABI (ENOSYS without a filter); the filter answers first: EPERM when x32 is in
    the policy, the bad-arch kill when it is not. Never the kernel's ENOSYS."""
    dup = str(tables.number(Arch.X86_64, "dup"))
    bare = _run(bypass_exe, None, tmp_path, "x32", dup, "1")
    assert bare == (-1, errno.ENOSYS) or (isinstance(bare, tuple) and bare[0] >= 0), bare   # x32 off / on
    assert _run(bypass_exe, _deny_dup(ALL), tmp_path, "x32", dup, "1") == (-1, errno.EPERM)
    assert _run(bypass_exe, _deny_dup((Arch.X86_64, Arch.I386)), tmp_path, "x32", dup, "1") == "SIGSYS"


@pytest.mark.parametrize("width,expected", [(32, errno.EPERM), (64, errno.EPERM)])
def test_tiocsti_high_bits(bypass_exe: Path, tmp_path: Path, width: int, expected: int) -> None:
    """ioctl(fd, TIOCSTI | 1<<32): the kernel reads cmd (unsigned int) as its low 32 bits, and so does the
    filter whatever width the rule was written with (issue 13 §5: a 64-bit rule used to let it through)."""
    ioctl = str(tables.number(Arch.X86_64, "ioctl"))
    policy = Policy(ALLOW, (SyscallRule(("ioctl",), EPERM, (ArgCondition(1, Op.EQ, TIOCSTI, width=width),)),),
                    ALL)
    cmd = hex(TIOCSTI | 1 << 32)
    assert _run(bypass_exe, None, tmp_path, "64", ioctl, "@null", cmd, "0") == (-1, errno.ENOTTY)
    assert _run(bypass_exe, policy, tmp_path, "64", ioctl, "@null", cmd, "0") == (-1, expected)


def test_socket_deny_covers_socketcall(ia32: Path, tmp_path: Path) -> None:
    """socket denied by name: also EPERM through i386 socket (359) and socketcall(SYS_SOCKET, args*)."""
    socketcall = str(tables.number(Arch.I386, "socketcall"))
    socket32 = str(tables.number(Arch.I386, "socket"))
    inet_stream = "@u32:2,1,0"                          # AF_INET, SOCK_STREAM, 0 below 4 GiB
    bare = _run(ia32, None, tmp_path, "int80", socketcall, "1", inet_stream)
    assert isinstance(bare, tuple) and bare[0] >= 0, bare
    policy = Policy(ALLOW, (SyscallRule(("socket",), EPERM),), ALL)
    assert _run(ia32, policy, tmp_path, "int80", socketcall, "1", inet_stream) == (-1, errno.EPERM)
    assert _run(ia32, policy, tmp_path, "int80", socket32, "2", "1", "0") == (-1, errno.EPERM)
    connect = _run(ia32, policy, tmp_path, "int80", socketcall, "3", "@u32:0,0,0")   # SYS_CONNECT: untouched
    assert isinstance(connect, tuple) and connect[1] != errno.EPERM


def test_conditional_socket_deny_takes_the_safe_direction(ia32: Path, tmp_path: Path) -> None:
    """A deny of socket(AF_INET) cannot see the domain through socketcall, so every socketcall(SYS_SOCKET)
    is denied; the direct i386 socket call still gets the exact check."""
    socketcall = str(tables.number(Arch.I386, "socketcall"))
    socket32 = str(tables.number(Arch.I386, "socket"))
    policy = Policy(ALLOW, (SyscallRule(("socket",), EPERM, (ArgCondition(0, Op.EQ, 2),)),), ALL)
    assert _run(ia32, policy, tmp_path, "int80", socketcall, "1", "@u32:1,1,0") == (-1, errno.EPERM)
    unix = _run(ia32, policy, tmp_path, "int80", socket32, "1", "1", "0")
    assert isinstance(unix, tuple) and unix[0] >= 0, unix
    assert _run(ia32, policy, tmp_path, "int80", socket32, "2", "1", "0") == (-1, errno.EPERM)


def test_int80_high_register_bits_do_not_dodge_argument_checks(ia32: Path, tmp_path: Path) -> None:
    """A 64-bit process entering via int 0x80 can set the high half of rbx: the kernel shows it to seccomp but
    dup() uses the low 32 bits. i386 conditions compare the low half only, so dup(0x100000001) is denied."""
    dup32 = str(tables.number(Arch.I386, "dup"))
    policy = Policy(ALLOW, (SyscallRule(("dup",), EPERM, (ArgCondition(0, Op.EQ, 1),)),), ALL)
    bare = _run(ia32, None, tmp_path, "int80", dup32, "0x100000001")
    assert isinstance(bare, tuple) and bare[0] >= 0, bare          # the kernel ran dup(1)
    assert _run(ia32, policy, tmp_path, "int80", dup32, "1") == (-1, errno.EPERM)
    assert _run(ia32, policy, tmp_path, "int80", dup32, "0x100000001") == (-1, errno.EPERM)


def test_tracer_skipping_a_call_is_not_killed(bypass_exe: Path, tmp_path: Path) -> None:
    """strace's fault injection sets nr to -1 and the kernel runs the filter on it: an x86_64-only filter must
    not answer that with the x32 bad-arch kill (the call never runs)."""
    import shutil
    import sys

    from .helpers import LAUNCH
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed")
    image = tmp_path / "filter.bpf"
    image.write_bytes(compile_policy(_deny_dup((Arch.X86_64, Arch.I386))).to_bytes())
    getppid = str(tables.number(Arch.X86_64, "getppid"))
    proc = subprocess.run([strace, "-f", "-qq", "-o", "/dev/null", "-e", "trace=getppid",
                           "-e", "inject=getppid:error=EACCES", sys.executable, "-c", LAUNCH, str(image),
                           str(bypass_exe), "64", getppid], capture_output=True, text=True, timeout=60)
    assert _outcome(proc) == (-1, errno.EACCES), proc.stderr
