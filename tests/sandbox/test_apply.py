"""Tests for sandbox/apply.py on the real kernel, always in child processes: errno values, SIGSYS on
kill/trap, allowed calls succeed, strict mode, TSYNC, refusals as KernelError, and Docker's default profile
blocking ``unshare --user``."""
from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from syswarden.errors import KernelError
from syswarden.kernel import prctl
from syswarden.policy.model import ALLOW, KILL_PROCESS, Action, ActionKind, Policy, SyscallRule
from syswarden.sandbox.apply import apply, enter_strict_mode, install_filter
from syswarden.seccomp import insn as b
from syswarden.seccomp.compiler import compile_policy
from syswarden.seccomp.insn import Program

pytestmark = pytest.mark.kernel
ANCHORS = Path(__file__).resolve().parents[2] / ".." / "shared" / "anchors" / "seccomp"


def in_child(body: Callable[[], int]) -> int:
    """Run ``body`` in a forked child; its exit code, or minus the signal that killed it."""
    pid = os.fork()
    if pid == 0:
        code = 125
        try:
            code = body()
        except BaseException:          # noqa: BLE001 - any failure in the child is exit 124
            code = 124
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def _deny_getcwd(action: Action) -> Policy:
    return Policy(ALLOW, (SyscallRule(("getcwd",), action),))


@pytest.mark.parametrize("err", [errno.EPERM, errno.EACCES, errno.ENOSYS, 4095])
def test_errno_action_returns_that_errno(err: int) -> None:
    """ERRNO(n) makes the call fail with exactly n, and other calls keep working."""
    compiled = compile_policy(_deny_getcwd(Action(ActionKind.ERRNO, err)))

    def body() -> int:
        install_filter(compiled)
        os.getppid()
        try:
            os.getcwd()
        except OSError as exc:
            return 0 if exc.errno == err else 3
        return 2
    assert in_child(body) == 0


@pytest.mark.parametrize("kind", [ActionKind.KILL_PROCESS, ActionKind.KILL_THREAD, ActionKind.TRAP])
def test_kill_and_trap_end_in_sigsys(kind: ActionKind) -> None:
    """kill_process, kill_thread and trap (no handler) all end the child with SIGSYS."""
    compiled = compile_policy(_deny_getcwd(Action(kind)))

    def body() -> int:
        install_filter(compiled)
        os.getcwd()
        return 0
    assert in_child(body) == -signal.SIGSYS


def test_allowed_calls_succeed_under_an_allow_list() -> None:
    """An allow-list lets its calls through and denies the rest with the default errno."""
    names = ("write", "exit_group", "exit", "getppid", "rt_sigreturn")
    compiled = compile_policy(Policy(Action(ActionKind.ERRNO, errno.EACCES), (SyscallRule(names, ALLOW),)))

    def body() -> int:
        install_filter(compiled)
        ok = os.getppid() > 0
        try:
            os.getcwd()
        except OSError as exc:
            return 0 if ok and exc.errno == errno.EACCES else 3
        return 2
    assert in_child(body) == 0


def test_install_sets_no_new_privs_and_filter_mode() -> None:
    """After install_filter the thread has no_new_privs and seccomp mode 2 (filter)."""
    def body() -> int:
        install_filter(compile_policy(_deny_getcwd(Action(ActionKind.ERRNO, 1))))
        return 0 if prctl.get_no_new_privs() and prctl.get_seccomp_mode() == 2 else 3
    assert in_child(body) == 0


def test_tsync_filters_threads_started_before() -> None:
    """apply(all_threads=True) also filters a thread that existed before the call (TSYNC)."""
    code = textwrap.dedent("""
        import os, sys, threading
        from syswarden.policy.model import ALLOW, Action, ActionKind, Policy, SyscallRule
        from syswarden.sandbox.apply import apply
        go, done = threading.Event(), threading.Event()
        result = []
        def worker():
            go.wait()
            try:
                os.getcwd()
                result.append("allowed")
            except OSError as exc:
                result.append(exc.errno)
            done.set()
        t = threading.Thread(target=worker); t.start()
        apply(Policy(ALLOW, (SyscallRule(("getcwd",), Action(ActionKind.ERRNO, 13)),)), all_threads=True)
        go.set(); done.wait(10); t.join()
        sys.exit(0 if result == [13] else 3)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_kernel_refusal_is_a_kernel_error() -> None:
    """An unknown flag bit makes the kernel refuse; the OSError surfaces as KernelError with errno."""
    from syswarden.kernel import seccomp_abi

    def body() -> int:
        prctl.set_no_new_privs()
        image = Program((b.stmt(b.BPF_RET | b.BPF_K, ALLOW.kernel_value),)).to_bytes()
        try:
            with prctl.kernel_errors("seccomp(SECCOMP_SET_MODE_FILTER)"):
                seccomp_abi.set_mode_filter(image, 1 << 20)
        except KernelError as err:
            return 0 if "EINVAL" in repr(err.__cause__) or "Invalid argument" in str(err) else 3
        return 2
    assert in_child(body) == 0


def test_strict_mode_allows_write_and_kills_on_other_calls() -> None:
    """In strict mode a write to an open pipe works, then getppid is fatal (SIGKILL)."""
    read_fd, write_fd = os.pipe()

    def body() -> int:
        enter_strict_mode()
        os.write(write_fd, b"ok")
        os.getppid()
        return 0
    assert in_child(body) == -signal.SIGKILL
    os.close(write_fd)
    assert os.read(read_fd, 10) == b"ok"
    os.close(read_fd)


def test_apply_returns_what_it_installed() -> None:
    """apply() compiles, installs, and returns the CompiledFilter (policy kept for explanations)."""
    policy = Policy(ALLOW, (SyscallRule(("getcwd",), KILL_PROCESS),))

    def body() -> int:
        compiled = apply(policy, all_threads=False)
        return 0 if compiled.policy is policy and len(compiled.program) > 3 else 3
    assert in_child(body) == 0


def test_docker_default_blocks_user_namespaces(tmp_path: Path) -> None:
    """Under Docker's default profile `unshare --map-root-user --user sh -c whoami` fails with EPERM
    while `true` runs."""
    load = pytest.importorskip("syswarden.policy.load")
    profile = ANCHORS / "docker-default.json"
    unshare = shutil.which("unshare")
    if not profile.exists() or unshare is None:
        pytest.skip("Docker's profile or unshare(1) is missing")
    image = tmp_path / "docker.bpf"
    image.write_bytes(compile_policy(load.load_policy(profile)).to_bytes())
    launch = ("import os, sys\nfrom syswarden.seccomp.insn import Program\n"
              "from syswarden.sandbox.apply import install_filter\n"
              "install_filter(Program.from_bytes(open(sys.argv[1], 'rb').read()))\n"
              "os.execvp(sys.argv[2], sys.argv[2:])\n")
    run = [sys.executable, "-c", launch, str(image)]
    bare = subprocess.run([unshare, "--map-root-user", "--user", "sh", "-c", "whoami"], capture_output=True,
                          text=True, timeout=30)
    if bare.returncode != 0:
        pytest.skip(f"user namespaces are not available here: {bare.stderr.strip()}")
    assert bare.stdout.strip() == "root"
    blocked = subprocess.run([*run, unshare, "--map-root-user", "--user", "sh", "-c", "whoami"],
                             capture_output=True, text=True, timeout=30)
    assert blocked.returncode != 0
    assert "Operation not permitted" in blocked.stderr
    assert subprocess.run([*run, "true"], timeout=30).returncode == 0


def test_policy_flags_reach_the_kernel() -> None:
    """A policy's `new_listener` flag returns a user-notification fd; `log` is accepted by the kernel."""
    from dataclasses import replace
    policy = Policy(ALLOW, (SyscallRule(("getcwd",), Action(ActionKind.NOTIFY)),), flags=frozenset({"new_listener"}))

    def body() -> int:
        fd = install_filter(compile_policy(policy))
        return 0 if fd > 2 and os.fstat(fd) else 3
    assert in_child(body) == 0

    def logged() -> int:
        return install_filter(compile_policy(replace(policy, flags=frozenset(), rules=())), log=True)
    assert in_child(logged) == 0


def test_unknown_flag_name_is_refused_before_the_kernel() -> None:
    """A flag name the kernel ABI does not define is a KernelError naming the known ones."""
    policy = Policy(ALLOW, flags=frozenset({"turbo"}))

    def body() -> int:
        try:
            install_filter(compile_policy(policy))
        except KernelError as err:
            return 0 if "tsync" in str(err) and not prctl.get_no_new_privs() else 3
        return 2
    assert in_child(body) == 0
