"""Differential tests for seccomp/compiler.py: for random policies and random calls, our emulated filter ==
the reference meaning of the policy (helpers.reference) == libseccomp's filter for the same policy."""
from __future__ import annotations

import random
import time
from dataclasses import dataclass
from types import ModuleType

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from syswarden.policy.model import Action, ActionKind, ArgCondition, Op, Policy, SyscallRule
from syswarden.seccomp.compiler import compile_policy
from syswarden.seccomp.emulator import Emulator, SeccompData
from syswarden.seccomp.insn import Program
from syswarden.syscalls import tables
from syswarden.syscalls.arch import Arch

from .helpers import child_output, holds_as_written, reference

POOL = ("read", "write", "open", "close", "dup", "ioctl", "mmap", "mmap2", "socket", "bind", "connect",
        "socketcall", "ipc", "shmget", "semop", "msgrcv", "clone", "personality", "arch_prctl", "getppid",
        "kill", "execve", "fcntl", "fcntl64", "prctl", "umask", "rt_sigaction", "readv", "sendto", "recvfrom",
        "uname", "statx", "clone3", "set_thread_area", "sendmsg", "accept4")
MUX_OPS = frozenset({"socket", "bind", "connect", "shmget", "semop", "msgrcv", "sendto", "recvfrom", "sendmsg",
                     "accept4"})
ARCHES = (Arch.X86_64, Arch.I386, Arch.X32)
ACTIONS = (Action(ActionKind.ALLOW), Action(ActionKind.ERRNO, 1), Action(ActionKind.ERRNO, 38),
           Action(ActionKind.KILL_PROCESS), Action(ActionKind.KILL_THREAD), Action(ActionKind.TRAP),
           Action(ActionKind.LOG), Action(ActionKind.TRACE, 7))
VALUES = (0, 1, 2, 40, 41, 0x5412, 0x5412 | 1 << 32, 0xFFFFFFFF, 1 << 32, (1 << 64) - 1, 0x7E020000,
          0x80000000, 0xFFFFFFFF00000000)


@st.composite
def conditions(draw: st.DrawFn, wide_only: bool) -> tuple[ArgCondition, ...]:
    indices = draw(st.lists(st.integers(0, 5), max_size=3, unique=True))
    out = []
    for index in indices:
        op = draw(st.sampled_from(list(Op)))
        value = draw(st.sampled_from(VALUES) | st.integers(0, (1 << 64) - 1))
        width = 64 if wide_only else draw(st.sampled_from((64, 64, 32)))
        mask = draw(st.sampled_from((0xFF, 0xFFFF0000FFFF0000, 0x7E020000, (1 << 64) - 1))) \
            if op is Op.MASKED_EQ else (1 << 64) - 1
        if op is Op.MASKED_EQ and (wide_only or draw(st.booleans())):
            value &= mask       # libseccomp compares (arg & mask) == (value & mask); the model does not mask value
        out.append(ArgCondition(index, op, value, mask, width))
    return tuple(out)


@st.composite
def policies(draw: st.DrawFn, libseccomp_safe: bool) -> Policy:
    chosen = draw(st.sets(st.sampled_from(ARCHES), min_size=1))
    arches = tuple(a for a in ARCHES if a in chosen)
    default = draw(st.sampled_from(ACTIONS))
    action_of: dict[str, Action] = {}
    rules = []
    for _ in range(draw(st.integers(0, 8))):
        action = draw(st.sampled_from(ACTIONS))
        names = draw(st.lists(st.sampled_from(POOL), min_size=1, max_size=4, unique=True))
        if libseccomp_safe:
            # libseccomp ORs the rules of one syscall: keep one action per syscall so "first match" agrees.
            names = [n for n in names if action_of.setdefault(n, action) == action]
            if not names:
                continue
        rule_arches = draw(st.none() | st.sets(st.sampled_from(ARCHES), min_size=1).map(frozenset))
        conds = draw(conditions(libseccomp_safe))
        if libseccomp_safe and any(c.value >> 32 or (c.op is Op.MASKED_EQ and c.mask >> 32) for c in conds):
            rule_arches = frozenset({Arch.X86_64})   # libseccomp truncates datums to 32 bits on i386 and x32
        rules.append(SyscallRule(tuple(names), action, conds, rule_arches))
    bad_arch = draw(st.sampled_from((Action(ActionKind.KILL_PROCESS), Action(ActionKind.ERRNO, 9))))
    return Policy(default, tuple(rules), arches, bad_arch)


@dataclass(frozen=True)
class Call:
    audit: int
    nr: int
    args: tuple[int, int, int, int, int, int]


@st.composite
def calls(draw: st.DrawFn, policy: Policy, narrow_compat: bool) -> list[Call]:
    """24 calls from a seeded generator (cheaper than 150 separate draws; the seed still shrinks)."""
    rnd = random.Random(draw(st.integers(0, 2**32)))
    values = list(VALUES)
    for rule in policy.rules:
        for c in rule.args:
            values += [c.value, (c.value + 1) % (1 << 64), (c.value - 1) % (1 << 64), c.value | 1 << 32]
    out = []
    for _ in range(24):
        arch = rnd.choice((Arch.X86_64, Arch.I386, Arch.X32, Arch.X86_64, Arch.AARCH64))
        name = rnd.choice(POOL)
        nr = tables.number(arch, name)
        if nr is None or rnd.randrange(10) == 0:
            nr = (0x40000000 if arch is Arch.X32 else 0) + rnd.randrange(600)
        args = [rnd.choice(values) if rnd.randrange(8) else rnd.getrandbits(64) for _ in range(6)]
        if arch is Arch.I386 and name in ("socketcall", "ipc") and rnd.randrange(2):
            args[0] = rnd.randrange(26) | rnd.choice((0, 0x10000))
        if narrow_compat and arch in (Arch.I386, Arch.X32):
            args = [a & 0xFFFFFFFF for a in args]   # libseccomp compares only 32 bits on i386 and x32
        out.append(Call(arch.audit_arch, nr, tuple(args)))  # type: ignore[arg-type]
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_compiled_filter_matches_reference_meaning(data: st.DataObject) -> None:
    """Any policy (several actions per syscall, 32-bit conditions, multiplexers): emulated == reference."""
    policy = data.draw(policies(libseccomp_safe=False))
    compiled = compile_policy(policy)
    emulator = Emulator(compiled.program)
    for call in data.draw(calls(policy, narrow_compat=False)):
        got = emulator.run(SeccompData(call.audit, call.nr, call.args)).action
        want = reference(policy, policy.arches, call.audit, call.nr, call.args)
        assert got == want, (call, policy)


LIBSECCOMP_DEADLINE = 20.0     # seconds: the largest policy drawn here builds in well under one


def _libseccomp_bpf(libseccomp: ModuleType, policy: Policy, deadline: float = LIBSECCOMP_DEADLINE) -> bytes | None:
    """libseccomp's filter for ``policy``, built in a forked child; None when it does not finish by the deadline.

    Some drawn rule sets send libseccomp 2.5.4's ``seccomp_rule_add`` into a loop that does not end (seen in CI:
    a third rule of ``!=`` conditions on ``read``, running for over ten minutes). That is the oracle's defect,
    not a verdict on our filter, and it must not hang the suite: such an example is set aside (``assume``)."""
    def build() -> bytes:
        return bytes(libseccomp.from_policy(policy).export_bpf())
    try:
        return child_output(build, timeout=deadline)
    except AssertionError:           # it failed rather than hung: build it here, where libseccomp's error is raised
        return build()


def _mux_with_conditions(policy: Policy) -> bool:
    return any(r.args and (MUX_OPS & set(r.names)) for r in policy.rules)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_compiled_filter_matches_libseccomp(data: st.DataObject) -> None:
    """Policies with one action per syscall: ours == reference == libseccomp 2.5.4's filter (emulated)."""
    libseccomp = pytest.importorskip("syswarden.kernel.libseccomp")
    if not libseccomp.available():
        pytest.skip("libseccomp.so.2 is not installed")
    policy = data.draw(policies(libseccomp_safe=True))
    ours = Emulator(compile_policy(policy).program)
    bpf = _libseccomp_bpf(libseccomp, policy)
    assume(bpf is not None)
    assert bpf is not None
    theirs = Emulator(Program.from_bytes(bpf))
    skip_mux = _mux_with_conditions(policy)
    for call in data.draw(calls(policy, narrow_compat=True)):
        if skip_mux and call.audit == Arch.I386.audit_arch and call.nr in (102, 117):
            continue        # libseccomp drops conditions it cannot check on socketcall/ipc; we take the stricter
        data_ = SeccompData(call.audit, call.nr, call.args)
        want = reference(policy, policy.arches, call.audit, call.nr, call.args)
        # libseccomp compares what the policy wrote on the whole register; we compare at the kernel's width
        # (docs/compiler.md): each is held to its own meaning, which agree unless a narrow argument has high bits
        as_written = reference(policy, policy.arches, call.audit, call.nr, call.args, holds_as_written)
        assert ours.run(data_).action == want, (call, policy)
        assert theirs.run(data_).action == as_written, (call, policy)


def test_a_policy_libseccomp_never_finishes_is_set_aside_and_ours_compiles() -> None:
    """Three rules of ``!=`` conditions on ``read``: libseccomp 2.5.4's seccomp_rule_add did not return within
    two minutes here; we compile it in milliseconds to the reference meaning. The differential test's oracle
    call gives up at its deadline instead of hanging the suite."""
    libseccomp = pytest.importorskip("syswarden.kernel.libseccomp")
    if not libseccomp.available():
        pytest.skip("libseccomp.so.2 is not installed")
    errno1 = Action(ActionKind.ERRNO, 1)
    rules = tuple(SyscallRule(("read",), errno1, tuple(ArgCondition(i, Op.NE, v) for i, v in conds), None)
                  for conds in (((0, 1), (2, 1), (5, 1)), ((3, 1), (1, 0), (0, 1)), ((4, 2), (0, 1))))
    policy = Policy(Action(ActionKind.ALLOW), rules, (Arch.X86_64,), Action(ActionKind.KILL_PROCESS))
    start = time.monotonic()
    bpf = _libseccomp_bpf(libseccomp, policy, deadline=2.0)
    assert time.monotonic() - start < 10
    ours = Emulator(compile_policy(policy).program)
    rng = random.Random(7)
    for _ in range(300):
        args = tuple(rng.choice((0, 1, 2, 3)) for _ in range(6))
        call = SeccompData(Arch.X86_64.audit_arch, 0, args)
        want = reference(policy, policy.arches, call.arch, 0, args)
        assert ours.run(call).action == want, args
        if bpf is not None:              # a libseccomp that does finish is held to the same meaning
            assert Emulator(Program.from_bytes(bpf)).run(call).action == want, args
