"""Arguments compared at the width the kernel reads them (issue 13 §5), on the real kernel: every argument rule
of Docker's default profile, called with high bits set that the kernel throws away, must get the outcome of the
same call without them. libseccomp's filter for the same profile is the peer that has the hole."""
from __future__ import annotations

import errno
import json
import os
from dataclasses import replace

import pytest

from syswarden.policy import profiles
from syswarden.policy.model import Action, ActionKind, Op, Policy
from syswarden.sandbox.apply import install_filter
from syswarden.seccomp.compiler import compile_policy
from syswarden.seccomp.decisions import width_notes
from syswarden.seccomp.insn import Program
from syswarden.syscalls import prototypes, tables
from syswarden.syscalls.arch import Arch

from .helpers import child_output, raw_syscall

pytestmark = pytest.mark.kernel
DENIED = 199          # the profile's default action, renumbered so a denial cannot be mistaken for a kernel errno
HIGH_BITS = (1 << 32, 0xFFFFFFFF00000000, 0xDEAD_0000_0000)


def _docker() -> Policy:
    policy = profiles.load("docker-default")
    assert policy.default_action == Action(ActionKind.ERRNO, errno.EPERM)
    return replace(policy, default_action=Action(ActionKind.ERRNO, DENIED))


def _narrow_cases(policy: Policy) -> list[tuple[str, int, int]]:
    """(syscall, argument index, value the kernel sees) around every narrow condition of the profile."""
    out = []
    for rule in policy.rules:
        for name in rule.names:
            for cond in rule.args:
                width = prototypes.arg_width(Arch.X86_64, name, cond.index)
                if width == 64:
                    continue
                for value in {cond.value - 1, cond.value, cond.value + 1}:
                    if 0 <= value < 1 << width:
                        out.append((name, cond.index, value))
    return sorted(set(out))


def _outcomes(image: bytes, calls: list[tuple[int, list[int]]]) -> list[int]:
    """Run each raw call in one child under ``image``: DENIED when the filter refused it, else 0."""
    def body() -> bytes:
        install_filter(Program.from_bytes(image))
        results = []
        for nr, args in calls:
            rc, err = raw_syscall(nr, *args)
            results.append(DENIED if rc == -1 and err == DENIED else 0)
            if rc >= 0 and nr == tables.number(Arch.X86_64, "socket"):
                os.close(rc)
        return json.dumps(results).encode()

    return json.loads(child_output(body))


def _calls(cases: list[tuple[str, int, int]], high: int) -> list[tuple[int, list[int]]]:
    calls = []
    for name, index, value in cases:
        args = [0] * 6
        if name == "socket":
            args[1] = 1                       # SOCK_STREAM
        args[index] = value | high
        calls.append((tables.number(Arch.X86_64, name) or -1, args))
    return calls


def test_docker_default_argument_rules_ignore_high_bits_the_kernel_ignores() -> None:
    """socket(0x100000028) is denied like socket(40) (AF_VSOCK), personality(0x100000008) allowed like
    personality(8): every narrow condition of the profile, each boundary value, three patterns of high bits."""
    policy = _docker()
    cases = _narrow_cases(policy)
    assert {name for name, _, _ in cases} == {"socket", "personality"}
    image = compile_policy(policy).to_bytes()
    plain = _outcomes(image, _calls(cases, 0))
    assert plain[cases.index(("socket", 0, 40))] == DENIED
    assert plain[cases.index(("personality", 0, 8))] == 0
    for high in HIGH_BITS:
        assert _outcomes(image, _calls(cases, high)) == plain, hex(high)


def test_wide_arguments_keep_64_bit_comparisons() -> None:
    """clone's flags are an unsigned long: the kernel reads all 64 bits, and so does the filter."""
    policy = _docker()
    wide = {(name, c.index) for r in policy.rules for name in r.names for c in r.args
            if prototypes.arg_width(Arch.X86_64, name, c.index) == 64}
    assert ("clone", 0) in wide
    assert prototypes.arg_width(Arch.X86_64, "ioctl", 2) == 64 and prototypes.arg_type(Arch.X86_64, "ioctl", 2) \
        == "unsigned long"
    assert prototypes.arg_width(Arch.X86_64, "mmap", 0) == 64    # no prototype known: compared whole


def test_libseccomp_has_the_hole_we_close() -> None:
    """The same profile compiled by libseccomp 2.5.4 compares socket's family on 64 bits: AF_VSOCK with bit 32
    set passes its filter (the kernel then creates, or refuses for lack of the module, an AF_VSOCK socket);
    ours denies it."""
    libseccomp = pytest.importorskip("syswarden.kernel.libseccomp")
    if not libseccomp.available():
        pytest.skip("libseccomp.so.2 is not installed")
    policy = _docker()
    theirs = libseccomp.from_policy(policy).export_bpf()
    ours = compile_policy(policy).to_bytes()
    calls = _calls([("socket", 0, 40)], 1 << 32) + _calls([("socket", 0, 40)], 0)
    assert _outcomes(ours, calls) == [DENIED, DENIED]
    assert _outcomes(theirs, calls) == [0, DENIED]


def test_check_says_which_arguments_are_narrowed() -> None:
    notes = width_notes(profiles.load("docker-default"), Arch.X86_64, "socket")
    assert notes == ["arg 0 of socket is compared on its low 32 bits: the kernel reads it as int (x86_64)"]
    assert width_notes(profiles.load("docker-default"), Arch.X86_64, "clone") == []


@pytest.mark.parametrize("op", [Op.EQ, Op.NE, Op.GT, Op.LT, Op.MASKED_EQ])
def test_sign_extended_values_mean_the_narrow_number(op: Op) -> None:
    """AT_FDCWD written as a 64-bit value (0xffffffffffffff9c) matches openat's int dfd -100 whichever way the
    register's high half is filled."""
    from syswarden.policy.model import ALLOW, ArgCondition, SyscallRule
    from syswarden.seccomp.emulator import Emulator, SeccompData
    at_fdcwd = (1 << 64) - 100
    rule = SyscallRule(("openat",), Action(ActionKind.ERRNO, 5), (ArgCondition(0, op, at_fdcwd),))
    emu = Emulator(compile_policy(Policy(ALLOW, (rule,), (Arch.X86_64,))).program)
    nr = tables.number(Arch.X86_64, "openat")
    results = {emu.run(SeccompData(Arch.X86_64.audit_arch, nr, (reg, 0, 0, 0, 0, 0))).action
               for reg in (at_fdcwd, 0xFFFFFF9C, 0x12345678FFFFFF9C)}
    assert len(results) == 1


FORMATS = {
    "yaml": "default: allow\nrules:\n  - syscalls: [socket]\n    action: errno(13)\n"
            "    args: [{arg: 0, op: eq, value: 40}]\n",
    "docker": '{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": '
              '[{"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13, '
              '"args": [{"index": 0, "value": 40, "op": "SCMP_CMP_EQ"}]}]}',
    "go-seccomp": "seccomp:\n  default_action: allow\n  syscalls:\n  - action: errno\n    names_with_args:\n"
                  "    - name: socket\n      arguments:\n      - {argument: 0, operation: Equal, value: 40}\n",
}


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_format_is_compared_at_the_kernels_width(fmt: str) -> None:
    """The same rule written in each policy format denies socket(0x100000028) as it denies socket(40)."""
    from syswarden.policy.load import load_policy
    from syswarden.seccomp.emulator import Emulator, SeccompData
    policy = load_policy(FORMATS[fmt], fmt=fmt, native_arch=Arch.X86_64)
    emu = Emulator(compile_policy(policy, [Arch.X86_64]).program)
    nr = tables.number(Arch.X86_64, "socket")
    plain, high = (emu.run(SeccompData(Arch.X86_64.audit_arch, nr, (family, 1, 0, 0, 0, 0))).action
                   for family in (40, 40 | 1 << 32))
    assert plain == high and plain & 0xFFFF0000 == 0x00050000, (hex(plain), hex(high))
