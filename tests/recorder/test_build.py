"""The recorder's decisions without running anything: argument conditions (checked through the compiled filter
as the kernel runs it), Landlock path collapsing, and merging."""
from __future__ import annotations

from syswarden.policy.model import ActionKind
from syswarden.recorder.build import BuildOptions, build_policy, merge_into
from syswarden.recorder.landlock import path_rules
from syswarden.recorder.recording import Access, Recording
from syswarden.recorder.safety import CLONE_NAMESPACES, PROT_EXEC, safety_args, wanted_values
from syswarden.seccomp.compiler import compile_policy
from syswarden.seccomp.explain import explain
from syswarden.syscalls.arch import Arch

ERRNO, ALLOW = ActionKind.ERRNO.value, ActionKind.ALLOW.value
CLONE_THREAD_FLAGS = 0x3D0F00
CLONE_NEWUSER = 0x10000000


def _recording(calls: dict[str, list[tuple[int, ...]]], arch: Arch = Arch.X86_64) -> Recording:
    rec = Recording()
    for name, arg_lists in calls.items():
        for args in arg_lists:
            rec.count(arch, name)
            spec = safety_args(name, True, arch is Arch.I386)
            if spec is not None:
                rec.add_values(arch, name, wanted_values(spec, args + (0,) * (6 - len(args))))
    return rec


def _action(policy, name: str, args: tuple[int, ...] = (), arch: Arch = Arch.X86_64) -> int:  # type: ignore[no-untyped-def]
    return explain(compile_policy(policy), arch, name, args).action & 0xFFFF0000


def test_args_allow_what_was_seen_and_nothing_riskier() -> None:
    rec = _recording({
        "mmap": [(0, 4096, 3, 0x22), (0, 8192, 5, 0x802), (0, 4096, 1, 0x22)],  # rw, r-x (a library), r
        "clone": [(CLONE_THREAD_FLAGS,)],
        "ioctl": [(1, 0x5401)],
        "socket": [(2, 0x80001, 0)],
    })
    for docker in (False, True):
        policy = build_policy(rec, BuildOptions(with_args=True, docker=docker))
        assert _action(policy, "mmap", (0, 4096, 3)) == ALLOW
        assert _action(policy, "mmap", (0, 4096, 7)) == ERRNO          # W+X was never seen
        assert _action(policy, "mmap", (0, 4096, 5)) == ALLOW
        assert _action(policy, "mmap", (0, 4096, 2)) == ALLOW          # any mapping without PROT_EXEC
        assert _action(policy, "clone", (CLONE_THREAD_FLAGS,)) == ALLOW
        assert _action(policy, "clone", (0x11,)) == ALLOW              # a fork: no namespace bit either
        assert _action(policy, "clone", (CLONE_THREAD_FLAGS | CLONE_NEWUSER,)) == ERRNO
        assert _action(policy, "ioctl", (1, 0x5401)) == ALLOW
        assert _action(policy, "ioctl", (1, 0x5412)) == ERRNO          # TIOCSTI
        assert _action(policy, "ioctl", (1, 0x5401 | 1 << 32)) == ALLOW  # the kernel reads an int: 32 bits
        assert _action(policy, "socket", (2, 0x80001, 0)) == ALLOW
        assert _action(policy, "socket", (16, 3, 0)) == ERRNO          # netlink was never opened
        assert _action(policy, "socket", (2, 0x80001 | 1 << 32, 0)) == ALLOW
    assert CLONE_NAMESPACES & CLONE_NEWUSER and PROT_EXEC == 4


def test_i386_socketcall_without_a_direct_syscall_keeps_its_call_number() -> None:
    from syswarden.recorder.recording import identify
    sid = identify(Arch.I386, 102, 5)      # socketcall(SYS_ACCEPT): i386 has no accept syscall
    assert sid is not None and sid.name == "socketcall"
    assert identify(Arch.I386, 102, 1).name == "socket"   # type: ignore[union-attr]
    rec = _recording({"socketcall": [(5, 0)]}, Arch.I386)
    policy = build_policy(rec)                               # no --args: the call number is kept anyway
    assert _action(policy, "socketcall", (5,), Arch.I386) == ALLOW
    assert _action(policy, "socketcall", (2,), Arch.I386) == ERRNO   # bind through the multiplexer


def test_landlock_collapses_to_directories_without_going_too_high() -> None:
    files = {f"/usr/lib/python3.11/mod{i}/f{j}.py": Access.READ for i in range(30) for j in range(10)}
    files["/usr/lib/x86_64-linux-gnu/libc.so.6"] = Access.READ | Access.EXECUTE
    files["/proc/4242/status"] = Access.READ
    files["/proc/self/maps"] = Access.READ
    files["/tmp/out/report.txt"] = Access.WRITE | Access.TRUNCATE
    files["/tmp/out"] = Access.CREATE
    files["/etc/passwd"] = Access.READ
    files["/vmlinuz"] = Access.READ
    rules = path_rules(files)
    assert rules["/usr/lib/python3.11"] == {"read"}
    assert not any(p.startswith("/usr/lib/python3.11/") for p in rules)
    assert rules["/usr/lib/x86_64-linux-gnu"] == {"read", "execute"}
    assert rules["/proc"] == {"read"} and not any(p.startswith("/proc/") for p in rules)
    assert rules["/tmp/out"] == {"write"}
    assert "/tmp/out/report.txt" not in rules or rules["/tmp/out/report.txt"] >= {"write", "truncate"}
    assert rules["/etc"] == {"read"}
    assert "/" not in rules and "/usr" not in rules and "/tmp" not in rules
    assert rules["/vmlinuz"] == {"read"}


def test_merge_appends_only_what_is_missing() -> None:
    first = build_policy(_recording({"read": [()], "write": [()]}))
    second = build_policy(_recording({"read": [()], "getpid": [()]}))
    merged, added = merge_into(first, second)
    assert [n for r in added for n in r.names] == ["getpid"]
    for name in ("read", "write", "getpid"):
        assert _action(merged, name) == ALLOW
    assert _action(merged, "bind") == ERRNO


def test_timing_dependent_calls_come_with_their_trigger_on_its_abi_only() -> None:
    """Whether a thread waits on a futex, a handler runs or a sleep is stopped is timing: clone3 (pthread_create)
    brings futex, and futex the restart_syscall of a stopped timed wait; i386's signal() brings both sigreturns;
    an ABI that saw no trigger, and a run with none, get nothing added."""
    made = Recording()
    for arch, name in ((Arch.X86_64, "clone3"), (Arch.X86_64, "write"), (Arch.I386, "signal"), (Arch.X32, "read")):
        made.count(arch, name)
    allowed = {(a, n) for r in build_policy(made).rules for a in r.arches for n in r.names}
    assert {(Arch.X86_64, "futex"), (Arch.X86_64, "restart_syscall"), (Arch.I386, "rt_sigreturn"),
            (Arch.I386, "sigreturn")} <= allowed
    assert (Arch.X86_64, "rt_sigreturn") not in allowed and (Arch.I386, "futex") not in allowed
    assert {n for a, n in allowed if a is Arch.X32} == {"read"}
    alone = Recording()
    alone.count(Arch.X86_64, "write")
    assert {n for r in build_policy(alone).rules for n in r.names} == {"write", "execve"}
