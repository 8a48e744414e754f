"""The field articles' enforcement demos (shared/field/), end to end on the real kernel in child processes."""
from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from syswarden.sandbox.denials import SeccompWatcher

PY = sys.executable
ANCHORS = Path(__file__).resolve().parents[2] / ".." / "shared" / "anchors" / "seccomp"
pytestmark = pytest.mark.kernel


def child(code: str) -> subprocess.Popen[str]:
    return subprocess.Popen([PY, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def syswarden_run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PY, "-m", "syswarden", "run", "-q", *args], capture_output=True, text=True, timeout=60)


def test_strict_mode_allows_write_to_open_file_and_kills_on_open(tmp_path: Path) -> None:
    """Strict mode (003, 004): write to an already open file works, the next open is SIGKILL."""
    out = tmp_path / "strict.txt"
    proc = child(f"""
        import os
        from syswarden.sandbox import enter_strict_mode
        fd = os.open({str(out)!r}, os.O_WRONLY | os.O_CREAT)
        enter_strict_mode()
        os.write(fd, b"written in strict mode")
        os.open("/etc/hostname", os.O_RDONLY)
        os.write(fd, b" -- and after open")
    """)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert out.read_text() == "written in strict mode"


def test_filter_without_close_is_bad_system_call_at_close(tmp_path: Path) -> None:
    """A filter allowing read/write/open/exit but not close ends with 'Bad system call' at close (003)."""
    watcher = SeccompWatcher()
    try:
        proc = child(f"""
            import os
            from syswarden.policy.model import KILL_PROCESS, ALLOW, Policy, SyscallRule
            from syswarden.sandbox import apply
            fd = os.open({str(tmp_path / 'f.txt')!r}, os.O_WRONLY | os.O_CREAT)
            allowed = ("read", "write", "open", "openat", "exit", "exit_group", "rt_sigreturn")
            apply(Policy(default_action=KILL_PROCESS, rules=(SyscallRule(allowed, ALLOW),)), all_threads=True)
            os.write(1, b"before close\\n")
            os.close(fd)
            os.write(1, b"after close\\n")
        """)
        stdout, _ = proc.communicate(timeout=30)
        record = watcher.find(proc.pid, timeout=2.0) if watcher.channel != "none" else None
    finally:
        watcher.close()
    assert proc.returncode == -signal.SIGSYS and signal.strsignal(signal.SIGSYS) == "Bad system call"
    assert stdout == "before close\n"
    if record is not None:  # the kernel's own account of which call it was
        assert record.syscall == "close"


def test_docker_custom_profile_without_socket_bind_listen(tmp_path: Path) -> None:
    """Docker's default profile minus socket/bind/listen (003): listening fails with EPERM."""
    anchor = ANCHORS / "docker-default.json"
    if not anchor.exists():
        pytest.skip("shared anchors not checked out next to the repo")
    profile = json.loads(anchor.read_text())
    for rule in profile["syscalls"]:
        rule["names"] = [n for n in rule["names"] if n not in ("socket", "bind", "listen")]
    profile["syscalls"] = [rule for rule in profile["syscalls"] if rule["names"]]
    custom = tmp_path / "seccomp.json"
    custom.write_text(json.dumps(profile, indent=2))
    script = ("import socket\ntry:\n    socket.socket().bind(('127.0.0.1', 0))\nexcept OSError as e:\n"
              "    print('socket:', e.strerror)")
    assert syswarden_run("--policy", str(custom), "--", PY, "-c", script).stdout.strip() == \
        "socket: Operation not permitted"
    assert syswarden_run("--profile", "docker-default", "--", PY, "-c", script).stdout.strip() == ""


def test_allow_list_from_strace_output(tmp_path: Path) -> None:
    """An allow list built from `strace -f` output (004) runs the program; without one of its calls it is killed
    and the explanation names that call."""
    log = tmp_path / "strace.log"
    subprocess.run(["strace", "-f", "-qq", "-o", str(log), "/bin/true"], check=True, timeout=30)
    names = sorted({m.group(1) for m in re.finditer(r"^(?:\d+\s+)?(\w+)\(", log.read_text(), re.M)})
    assert "execve" in names and "exit_group" in names
    ok = syswarden_run("--allow", ",".join(names), "--", "/bin/true")
    assert ok.returncode == 0, ok.stderr
    victim = "arch_prctl" if "arch_prctl" in names else names[1]
    killed = syswarden_run("--allow", ",".join(n for n in names if n != victim), "--", "/bin/true")
    assert killed.returncode == -signal.SIGSYS
    assert f"syscall {victim} (" in killed.stderr and "its default action (kill_process)" in killed.stderr


def test_self_sandboxing_like_elasticsearch(tmp_path: Path) -> None:
    """A program applies no-exec to itself (001: Elasticsearch, Beats): its later exec fails with EACCES."""
    proc = child("""
        import subprocess
        from syswarden.policy import profiles
        from syswarden.sandbox import apply
        apply(profiles.load("no-exec"), all_threads=True)
        try:
            subprocess.run(["/bin/true"])
            print("ran")
        except PermissionError as e:
            print("exec", e.errno)
    """)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert stdout.strip() == "exec 13"


def test_docker_default_refuses_user_namespace_as_make_run_shows() -> None:
    """`make run`'s demo: unshare --map-root-user --user under docker-default is refused (exit 1)."""
    result = syswarden_run("--profile", "docker-default", "--", "unshare", "--map-root-user", "--user", "sh", "-c",
                           "whoami")
    assert result.returncode == 1
    assert "Operation not permitted" in result.stderr and "root" not in result.stdout
