"""Docker/OCI profiles: moby's includes/excludes resolution, runc's quirks, Podman's errno names, dump."""
from __future__ import annotations

import ctypes
import errno
import json
import os
from pathlib import Path

import pytest

from syswarden.errors import PolicyError
from syswarden.kernel import libseccomp
from syswarden.policy.formats import docker
from syswarden.policy.model import ALLOW, Action, ActionKind, ArgCondition, Op, Policy, SyscallRule
from syswarden.syscalls import tables
from syswarden.syscalls.arch import Arch


def names_by_action(policy: Policy) -> dict[str, Action]:
    """The first unconditional rule's action for each name (first match wins)."""
    out: dict[str, Action] = {}
    for rule in policy.rules:
        for name in rule.names:
            if not rule.args:
                out.setdefault(name, rule.action)
    return out


def load_anchor(anchors: Path, name: str, **kw: object) -> Policy:
    return docker.load((anchors / name).read_text(), filename=name, **kw)  # type: ignore[arg-type]


def test_caps_decide_includes_and_excludes(anchors: Path) -> None:
    """syslog needs CAP_SYSLOG (includes); ptrace is dropped when CAP_SYS_ADMIN is present (excludes)."""
    default = names_by_action(load_anchor(anchors, "docker-fixture-conditional_include.json"))
    assert "ptrace" in default and "syslog" not in default
    more = names_by_action(load_anchor(anchors, "docker-fixture-conditional_include.json",
                                       caps=[*docker.DEFAULT_CAPS, "syslog", "CAP_SYS_ADMIN"]))
    assert "syslog" in more and "ptrace" not in more


def test_min_kernel_gates_ptrace(anchors: Path) -> None:
    """Docker allows ptrace only from kernel 4.8 (the RET_TRACE bypass); patch levels are ignored."""
    old = names_by_action(load_anchor(anchors, "docker-default.json", native_arch=Arch.X86_64, kernel="4.7.10"))
    new = names_by_action(load_anchor(anchors, "docker-default.json", native_arch=Arch.X86_64,
                                      kernel="4.8.0-1-amd64"))
    assert "ptrace" not in old and new["ptrace"] == ALLOW


def test_docker_default_for_a_default_container(anchors: Path) -> None:
    """With Docker's default caps: clone3 gets ENOSYS, mount/unshare fall to EPERM, chroot is allowed."""
    policy = load_anchor(anchors, "docker-default.json", native_arch=Arch.X86_64, kernel="6.1")
    by_name = names_by_action(policy)
    assert policy.default_action == Action(ActionKind.ERRNO, errno.EPERM)
    assert policy.arches == (Arch.X86_64, Arch.I386, Arch.X32)
    assert by_name["clone3"] == Action(ActionKind.ERRNO, errno.ENOSYS)
    assert by_name["chroot"] == ALLOW and by_name["arch_prctl"] == ALLOW
    assert "mount" not in by_name and "unshare" not in by_name
    clone = [r for r in policy.rules if r.names == ("clone",)]
    assert clone[0].args == (ArgCondition(0, Op.MASKED_EQ, 0, 0x7E020000),)
    admin = names_by_action(load_anchor(anchors, "docker-default.json", native_arch=Arch.X86_64,
                                        caps=[*docker.DEFAULT_CAPS, "SYS_ADMIN"], kernel="6.1"))
    assert admin["mount"] == ALLOW and admin["clone3"] == ALLOW


def test_arch_map_and_arch_includes_follow_the_native_arch(anchors: Path) -> None:
    """On s390x the clone flags are arg 1 and only s390x is filtered; on arm64, arm is a sub-arch."""
    s390 = load_anchor(anchors, "docker-default.json", native_arch=Arch.S390X)
    assert s390.arches == (Arch.S390X,)
    assert [r.args[0].index for r in s390.rules if r.names == ("clone",)] == [1]
    arm64 = load_anchor(anchors, "docker-default.json", native_arch=Arch.AARCH64)
    assert arm64.arches == (Arch.AARCH64, Arch.ARM)
    assert "arch_prctl" not in names_by_action(arm64)


def test_same_index_conditions_become_separate_rules() -> None:
    """runc ORs conditions when one index repeats: every condition becomes a rule of its own."""
    text = json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{
        "names": ["socket"], "action": "SCMP_ACT_ERRNO",
        "args": [{"index": 0, "value": 16, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 17, "op": "SCMP_CMP_EQ"},
                 {"index": 1, "value": 3, "op": "SCMP_CMP_EQ"}]}]})
    rules = docker.load(text, native_arch=Arch.X86_64).rules
    assert [r.args for r in rules] == [(ArgCondition(0, Op.EQ, 16),), (ArgCondition(0, Op.EQ, 17),),
                                       (ArgCondition(1, Op.EQ, 3),)]


def test_default_action_rules_dropped_and_unknown_names_warned() -> None:
    """A rule equal to the default is dropped; unknown names are ignored with a warning."""
    text = json.dumps({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1, "syscalls": [
        {"names": ["mount"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
        {"names": ["read", "frobnicate"], "action": "SCMP_ACT_ALLOW"}]})
    policy = docker.load(text, filename="p.json", native_arch=Arch.X86_64)
    assert [r.names for r in policy.rules] == [("read",)]
    assert any("unknown syscall 'frobnicate'" in w and w.startswith("p.json:") for w in policy.warnings)


def test_podman_errno_names(anchors: Path) -> None:
    """Podman's defaultErrno/errno names give ENOSYS by default and EPERM for known-dangerous calls."""
    policy = load_anchor(anchors, "podman-default.json", native_arch=Arch.X86_64)
    assert policy.default_action == Action(ActionKind.ERRNO, errno.ENOSYS)
    eperm = {n for r in policy.rules if r.action == Action(ActionKind.ERRNO, errno.EPERM) for n in r.names}
    assert {"bdflush", "kexec_load"} & eperm
    text = '{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrno": "EACCES"}'
    assert docker.load(text).default_action == Action(ActionKind.ERRNO, errno.EACCES)


def test_dump_refuses_what_docker_cannot_say() -> None:
    """Per-arch rules and 32-bit comparisons raise instead of silently changing meaning."""
    base = Policy(default_action=ALLOW)
    per_arch = SyscallRule(("read",), Action(ActionKind.LOG), arches=frozenset({Arch.I386}))
    with pytest.raises(PolicyError, match="only to some arches"):
        docker.dump(Policy(ALLOW, rules=(per_arch,)))
    narrow = SyscallRule(("ioctl",), Action(ActionKind.LOG), (ArgCondition(1, Op.EQ, 5, width=32),))
    with pytest.raises(PolicyError, match="32-bit"):
        docker.dump(Policy(ALLOW, rules=(narrow,)))
    assert json.loads(docker.dump(base))["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]


def _child_errno(policy: Policy, nr: int, *args: int) -> int:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 250
        try:
            libseccomp.from_policy(policy).load()
            libc = ctypes.CDLL(None, use_errno=True)
            libc.syscall.restype = ctypes.c_long
            rc = libc.syscall(ctypes.c_long(nr), *(ctypes.c_long(a) for a in args))
            code = ctypes.get_errno() if rc == -1 else 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status)
    return os.WEXITSTATUS(status)


@pytest.mark.kernel
@pytest.mark.skipif(not libseccomp.available(), reason="libseccomp.so.2 not installed")
def test_docker_default_enforced_by_the_kernel(anchors: Path) -> None:
    """Loaded docker-default, built by libseccomp and installed in a child: unshare EPERM, clone3 ENOSYS."""
    if Arch.native() is not Arch.X86_64:
        pytest.skip("probe numbers are x86_64")
    policy = load_anchor(anchors, "docker-default.json")
    unshare, clone3 = tables.number(Arch.X86_64, "unshare"), tables.number(Arch.X86_64, "clone3")
    getppid = tables.number(Arch.X86_64, "getppid")
    assert unshare is not None and clone3 is not None and getppid is not None
    assert _child_errno(policy, unshare, 0x10000000) == errno.EPERM
    assert _child_errno(policy, clone3, 0, 0) == errno.ENOSYS
    assert _child_errno(policy, getppid) == 0
