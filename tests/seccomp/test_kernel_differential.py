"""The kernel as the oracle for compiled filters: random policies whose every outcome is a distinct errno
(so no denied-or-allowed call ever runs), installed in a child; the errno the kernel returns for each random
call (native x86_64 and x32 numbers, random 64-bit arguments) must equal what our emulator computes, which
must equal the reference meaning."""
from __future__ import annotations

import ctypes
import random
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syswarden.policy.model import ALLOW, Action, ActionKind, ArgCondition, Op, Policy, SyscallRule
from syswarden.sandbox.apply import install_filter
from syswarden.seccomp.compiler import compile_policy
from syswarden.seccomp.emulator import Emulator, SeccompData
from syswarden.syscalls import tables
from syswarden.syscalls.arch import Arch

from .helpers import child_output, reference

pytestmark = pytest.mark.kernel

# What the child itself needs after the filter is in place; allowed first, never called by the test.
RUNTIME = ("write", "exit_group", "exit", "brk", "mmap", "munmap", "mremap", "madvise", "rt_sigprocmask",
           "rt_sigreturn", "futex", "getpid", "gettid")
POOL = ("read", "open", "close", "dup", "ioctl", "socket", "bind", "connect", "clone", "personality", "kill",
        "execve", "fcntl", "prctl", "umask", "uname", "setuid", "mount", "unshare", "ptrace", "reboot", "chroot",
        "bpf", "getppid", "openat", "mprotect")
VALUES = (0, 1, 2, 40, 0x5412, 0x5412 | 1 << 32, 0xFFFFFFFF, 1 << 32, (1 << 64) - 1, 0x7E020000)
CALLS = 24


@st.composite
def errno_policies(draw: st.DrawFn) -> Policy:
    """Rules with random conditions; every action is ERRNO with its own number (default 200, bad arch 201)."""
    rules = [SyscallRule(RUNTIME, ALLOW)]
    for n in range(draw(st.integers(1, 8))):
        names = tuple(draw(st.lists(st.sampled_from(POOL), min_size=1, max_size=4, unique=True)))
        conds = []
        for index in draw(st.lists(st.integers(0, 5), max_size=3, unique=True)):
            op = draw(st.sampled_from(list(Op)))
            value = draw(st.sampled_from(VALUES) | st.integers(0, (1 << 64) - 1))
            mask = draw(st.sampled_from((0xFF, 0xFFFF0000FFFF0000, (1 << 64) - 1)))
            conds.append(ArgCondition(index, op, value, mask, draw(st.sampled_from((32, 64)))))
        arches = draw(st.none() | st.just(frozenset({Arch.X32})) | st.just(frozenset({Arch.X86_64})))
        rules.append(SyscallRule(names, Action(ActionKind.ERRNO, 100 + n), tuple(conds), arches))
    x32 = draw(st.booleans())
    arches = (Arch.X86_64, Arch.I386) + ((Arch.X32,) if x32 else ())
    return Policy(Action(ActionKind.ERRNO, 200), tuple(rules), arches, Action(ActionKind.ERRNO, 201))


def _calls(seed: int, policy: Policy) -> list[tuple[int, tuple[int, ...]]]:
    rnd = random.Random(seed)
    values = list(VALUES)
    for c in (c for r in policy.rules for c in r.args):
        values += [c.value, c.value | 1 << 32, (c.value + 1) % (1 << 64), (c.value - 1) % (1 << 64)]
    out = []
    for _ in range(CALLS):
        arch = rnd.choice((Arch.X86_64, Arch.X86_64, Arch.X32))
        nr = tables.number(arch, rnd.choice(POOL))
        assert nr is not None
        out.append((nr, tuple(rnd.choice(values) if rnd.randrange(4) else rnd.getrandbits(64) for _ in range(6))))
    return out


def _kernel_errnos(policy: Policy, calls: list[tuple[int, tuple[int, ...]]]) -> list[int]:
    """Install the filter in a child, issue every call, and read back the errno of each."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    prepared = [(ctypes.c_long(nr), [ctypes.c_ulong(a) for a in args]) for nr, args in calls]
    results = (ctypes.c_int * len(calls))()
    compiled = compile_policy(policy)

    def body() -> bytes:
        install_filter(compiled)
        for i, (nr, args) in enumerate(prepared):
            ctypes.set_errno(0)
            rc = libc.syscall(nr, *args)
            results[i] = ctypes.get_errno() if rc == -1 else -1
        return bytes(results)

    data = child_output(body)
    assert len(data) == 4 * len(calls), "the child died before reporting"
    return list(struct.unpack(f"={len(calls)}i", data))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy=errno_policies(), seed=st.integers(0, 2**32))
def test_kernel_agrees_with_the_emulator(policy: Policy, seed: int) -> None:
    """For every call: kernel errno == our emulator's action == the policy's reference meaning."""
    calls = _calls(seed, policy)
    emulator = Emulator(compile_policy(policy).program)
    expected = []
    for nr, args in calls:
        action = emulator.run(SeccompData(Arch.X86_64.audit_arch, nr, args)).action  # type: ignore[arg-type]
        assert action == reference(policy, policy.arches, Arch.X86_64.audit_arch, nr, args)
        expected.append(action & 0xFFFF)
    assert _kernel_errnos(policy, calls) == expected
