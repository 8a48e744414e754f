"""Test helpers for the seccomp tests: an independent reference evaluator of the policy meaning, a way to
run code under a filter in a child process, and a gcc builder for the C programs in tests/data/bypass."""
from __future__ import annotations

import ctypes
import os
import select
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from syswarden.policy.model import ArgCondition, Op, Policy, SyscallRule
from syswarden.syscalls import prototypes, tables
from syswarden.syscalls.arch import Arch

REPO = Path(__file__).resolve().parents[2]
BYPASS_DIR = REPO / "tests" / "data" / "bypass"
ANCHORS = REPO / ".." / "shared" / "anchors" / "seccomp"
U64 = (1 << 64) - 1

# Independent of syswarden.syscalls.multiplexers on purpose: the kernel's numbers, written out again.
SOCKETCALL = {"socket": 1, "bind": 2, "connect": 3, "listen": 4, "accept": 5, "getsockname": 6,
              "getpeername": 7, "socketpair": 8, "sendto": 11, "recvfrom": 12, "shutdown": 13,
              "setsockopt": 14, "getsockopt": 15, "sendmsg": 16, "recvmsg": 17, "accept4": 18, "recvmmsg": 19,
              "sendmmsg": 20}
SOCKETCALL_EXTRA = {"sendto": 9, "recvfrom": 10}       # SYS_SEND / SYS_RECV
IPC = {"semop": 1, "semget": 2, "semctl": 3, "semtimedop": 4, "msgsnd": 11, "msgrcv": 12, "msgget": 13,
       "msgctl": 14, "shmat": 21, "shmdt": 22, "shmget": 23, "shmctl": 24}


NARROW = (Arch.I386, Arch.ARM)     # syscalls take 32-bit arguments: conditions see the low half only


def kernel_width(cond: ArgCondition, arch: Arch, name: str | None) -> int:
    """The width the condition is compared at: what the policy wrote, no wider than the kernel reads the
    argument (its C type in syscalls/data/args.tsv; 32 bits on 32-bit ABIs)."""
    width = cond.width
    if arch in NARROW:
        width = min(width, 32)
    if name is not None:
        proto = prototypes.prototype(arch, name)
        if proto is not None and cond.index < len(proto[1]):
            ctype = proto[1][cond.index]
            if not (arch in NARROW and any(prototypes.type_width(t, arch) > 32 for t in proto[1])):
                width = min(width, prototypes.type_width(ctype, arch))
    return width


def holds(cond: ArgCondition, arg: int, arch: Arch = Arch.X86_64, name: str | None = None) -> bool:
    """The model's meaning of one condition on an unsigned 64-bit argument of syscall ``name``: the kernel's
    view of the argument (its low ``width`` bits) against the value, where a value written as the sign
    extension of a narrower negative number means that number at the narrower width."""
    width = kernel_width(cond, arch, name)
    low = (1 << width) - 1
    value, target = arg & U64 & low, cond.value
    if width < cond.width and target >> (width - 1) == (1 << (cond.width - width + 1)) - 1:
        target &= low
    if cond.op is Op.MASKED_EQ:
        return (value & cond.mask & low) == target
    return {Op.EQ: value == target, Op.NE: value != target, Op.LT: value < target,
            Op.LE: value <= target, Op.GT: value > target, Op.GE: value >= target}[cond.op]


def holds_as_written(cond: ArgCondition, arg: int, arch: Arch = Arch.X86_64, name: str | None = None) -> bool:
    """libseccomp's meaning: the condition on the register as the policy wrote it (64 bits unless it says
    ``width: 32``; 32 bits on 32-bit ABIs), whatever the kernel reads. syswarden deliberately differs
    (docs/compiler.md): an ``int`` argument with high bits set slips past such a filter."""
    value = arg & U64
    if cond.width == 32 or arch in NARROW:
        value &= 0xFFFFFFFF
    if cond.op is Op.MASKED_EQ:
        return (value & cond.mask) == cond.value
    return {Op.EQ: value == cond.value, Op.NE: value != cond.value, Op.LT: value < cond.value,
            Op.LE: value <= cond.value, Op.GT: value > cond.value, Op.GE: value >= cond.value}[cond.op]


Holds = Callable[[ArgCondition, int, Arch, "str | None"], bool]


def precedence(value: int) -> int:
    """Kernel precedence of a return value (lower = stricter), SECCOMP_RET_ACTION_FULL as signed 32-bit."""
    full = value & 0xFFFF0000
    return full - (1 << 32) if full & 0x80000000 else full


def arch_of(audit: int, nr: int) -> Arch | None:
    if audit == Arch.X86_64.audit_arch:
        return Arch.X32 if nr & 0x40000000 else Arch.X86_64
    return {a.audit_arch: a for a in Arch if a is not Arch.X32}.get(audit)


def _applies(rule: SyscallRule, arch: Arch) -> bool:
    return rule.arches is None or arch in rule.arches


def _multiplexed(rule: SyscallRule, mux: str, call: int) -> bool:
    if mux == "socketcall":
        return any(SOCKETCALL.get(n) == call or SOCKETCALL_EXTRA.get(n) == call for n in rule.names)
    return any(IPC.get(n) == call & 0xFFFF for n in rule.names)


def _mux_reference(policy: Policy, arch: Arch, mux: str, args: Sequence[int], test: Holds) -> int:
    """Strictest outcome over every truth value of the conditions hidden behind the multiplexer; on equal
    precedence the earliest rule."""
    call = args[0] & 0xFFFFFFFF
    outcomes: list[int] = []
    for rule in policy.rules:
        if not _applies(rule, arch):
            continue
        if mux in rule.names:
            if all(test(c, args[c.index], arch, mux) for c in rule.args):
                outcomes.append(rule.action.kernel_value)
                break
        elif _multiplexed(rule, mux, call):
            outcomes.append(rule.action.kernel_value)
            if not rule.args:
                break
    else:
        outcomes.append(policy.default_action.kernel_value)
    best = min(precedence(o) for o in outcomes)
    return next(o for o in outcomes if precedence(o) == best)


def reference(policy: Policy, arches: Sequence[Arch], audit: int, nr: int, args: Sequence[int],
              test: Holds = holds) -> int:
    """What the policy means for one call (policy/model.py's docstring), as a seccomp return value; with
    ``test=holds_as_written``, what libseccomp makes of it."""
    arch = arch_of(audit, nr)
    if nr & 0xFFFFFFFF == 0xFFFFFFFF and audit == Arch.X86_64.audit_arch and Arch.X86_64 in arches:
        arch = Arch.X86_64                  # nr -1 under AUDIT_ARCH_X86_64 is no syscall, whichever ABI
    if arch is None or arch not in arches:
        return policy.bad_arch_action.kernel_value
    if nr & 0xFFFFFFFF == 0xFFFFFFFF:
        return 0x7FFF0000                   # no syscall runs: a tracer skipping the call

    name = tables.name(arch, nr)
    if name is None:
        return policy.default_action.kernel_value
    if arch in (Arch.I386, Arch.S390X, Arch.PPC64LE) and name in ("socketcall", "ipc"):
        return _mux_reference(policy, arch, name, args, test)
    for rule in policy.rules:
        if _applies(rule, arch) and name in rule.names and all(test(c, args[c.index], arch, name) for c in rule.args):
            return rule.action.kernel_value
    return policy.default_action.kernel_value


# -- running code under a filter ----------------------------------------------------------------------------

def in_child(body: Callable[[], int]) -> int:
    """Fork, run ``body`` in the child (its return value is the exit code); returns the exit code, or minus
    the signal number that killed the child. The test process itself is never filtered."""
    pid = os.fork()
    if pid == 0:
        code = 125
        try:
            code = body()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def child_output(body: Callable[[], bytes], timeout: float | None = None) -> bytes | None:
    """Fork, run ``body`` in the child (a filter installed there stays there) and return the bytes it returned;
    the child must exit cleanly. With ``timeout`` (seconds), a child still running then is killed and None
    returned."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(read_fd)
            os.write(write_fd, body())
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    data = b""
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while deadline is None or select.select([read_fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
            if not (chunk := os.read(read_fd, 65536)):
                break
            data += chunk
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None
    finally:
        os.close(read_fd)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the child failed before reporting"
    return data


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def raw_syscall(nr: int, *args: int) -> tuple[int, int]:
    """``syscall(nr, args...)`` through libc: (return value, errno)."""
    ctypes.set_errno(0)
    rc = _libc.syscall(ctypes.c_long(nr), *(ctypes.c_ulong(a & U64) for a in args))
    return int(rc), ctypes.get_errno()


LAUNCH = textwrap.dedent("""
    import os, sys
    from syswarden.seccomp.insn import Program
    from syswarden.sandbox.apply import install_filter
    install_filter(Program.from_bytes(open(sys.argv[1], "rb").read()))
    os.execv(sys.argv[2], sys.argv[2:])
""")


def run_under_filter(image: bytes, argv: Sequence[str], tmp: Path,
                     timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` in a child Python that installs the filter ``image`` and then execs it."""
    path = tmp / "filter.bpf"
    path.write_bytes(image)
    return subprocess.run([sys.executable, "-c", LAUNCH, str(path), *argv], capture_output=True, text=True,
                          timeout=timeout)


def build_c(source: str, out_dir: Path, *extra: str) -> Path:
    """Compile tests/data/bypass/<source> with gcc into ``out_dir``."""
    gcc = shutil.which("gcc")
    if gcc is None:
        raise FileNotFoundError("gcc is not installed")
    exe = out_dir / Path(source).stem
    subprocess.run([gcc, "-O1", "-o", str(exe), str(BYPASS_DIR / source), *extra], check=True,
                   capture_output=True, text=True)
    return exe
