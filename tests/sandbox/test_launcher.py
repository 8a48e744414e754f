"""`syswarden run`: confinement, pass-through of exit codes and signals, explanations and input errors,
checked by running real commands under the real kernel."""
from __future__ import annotations

import os
import re
import signal
import sys
from pathlib import Path

import pytest

from syswarden.sandbox import launcher
from syswarden.errors import InputError

from .conftest import free_ports, syswarden

PY = sys.executable
# The interpreter itself, outside the venv: under Landlock it must not need to read .venv/pyvenv.cfg.
BASE_PY = os.path.realpath(sys.executable)
BIND = "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); print('listening')"
pytestmark = pytest.mark.kernel


def test_exit_code_passes_through() -> None:
    """CMD's exit status is syswarden's exit status."""
    result = syswarden("run", "--drop", "ptrace", "--", "sh", "-c", "exit 7")
    assert result.returncode == 7, result.stderr


def test_terminating_signal_passes_through() -> None:
    """When CMD dies of SIGTERM, syswarden dies of SIGTERM too."""
    result = syswarden("run", "--drop", "ptrace", "--", "sh", "-c", "kill -TERM $$")
    assert result.returncode == -signal.SIGTERM


def test_drop_bind_kills_and_explains() -> None:
    """--drop bind kills a listening program with SIGSYS and names syscall, number, arch and rule."""
    result = syswarden("run", "--drop", "bind", "--", PY, "-c", BIND)
    assert result.returncode == -signal.SIGSYS
    assert "listening" not in result.stdout
    assert "was killed: syscall bind (49, x86_64) is denied by the --drop/--allow flags, rule 1 '--drop'" \
        in result.stderr


def test_drop_bind_with_errno_returns_eperm() -> None:
    """--drop bind --errno EPERM makes bind fail with EPERM instead of killing."""
    result = syswarden("run", "--drop", "bind", "--errno", "EPERM", "--", PY, "-c",
                       f"import errno\ntry:\n    {BIND}\n"
                       "except OSError as e:\n    print('errno', errno.errorcode[e.errno])")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "errno EPERM"


def test_dry_run_logs_instead_of_denying() -> None:
    """--log lets the dropped call through and reports it as would-be denied."""
    result = syswarden("run", "--log", "--drop", "bind", "--", PY, "-c", BIND)
    assert result.returncode == 0, result.stderr
    assert "listening" in result.stdout
    assert "bind would have been denied" in result.stderr


def test_strict_like_profile_kills_at_first_loader_call() -> None:
    """strict-like lets execve through (launcher exemption) and kills /bin/true at its first brk."""
    result = syswarden("run", "--profile", "strict-like", "--", "/bin/true")
    assert result.returncode == -signal.SIGSYS
    assert "syscall brk (12, x86_64) is denied by profile 'strict-like', its default action" in result.stderr


def test_stacked_filters_both_apply(tmp_path: Path) -> None:
    """Two policy files stack: the first denies seccomp itself, the second still gets installed and applies."""
    first = tmp_path / "first.yaml"
    first.write_text("default: allow\nrules:\n  - syscalls: [seccomp]\n    action: kill_process\n")
    second = tmp_path / "second.yaml"
    second.write_text("default: allow\nrules:\n  - syscalls: [getppid]\n    action: errno(EACCES)\n")
    result = syswarden("run", "--policy", str(first), "--policy", str(second), "--", PY, "-c",
                       "import ctypes; l = ctypes.CDLL(None, use_errno=True); "
                       "print(l.syscall(110), ctypes.get_errno())")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["-1", "13"]


def test_exec_in_place_passes_exit_code() -> None:
    """--exec replaces syswarden with CMD (no supervisor); the exit code is CMD's."""
    result = syswarden("run", "--exec", "--drop", "ptrace", "--", "sh", "-c", "exit 5")
    assert result.returncode == 5


def test_landlock_flags_confine_files(tmp_path: Path) -> None:
    """--fs-read system dirs and --fs-write DIR: /etc/hostname is EACCES, DIR is writable."""
    out = tmp_path / "out.txt"
    script = (f"try:\n    open('/etc/hostname').read()\nexcept PermissionError as e:\n    print('denied', e.errno)\n"
              f"open({str(out)!r}, 'w').write('ok')")
    reads = [a for d in ("/usr", "/lib", "/lib64", "/bin", sys.base_prefix) if os.path.exists(d)
             for a in ("--fs-read", d)]
    result = syswarden("run", *reads, "--fs-write", str(tmp_path), "--", BASE_PY, "-S", "-c", script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "denied 13"
    assert out.read_text() == "ok"


def test_landlock_net_bind_flag() -> None:
    """--net-bind P: binding P works, binding another port fails with EACCES."""
    allowed, other = free_ports(2)
    script = ("import socket\nfor p in (%d, %d):\n    s = socket.socket()\n    try:\n        s.bind(('127.0.0.1', p));"
              " print(p, 'ok')\n    except OSError as e:\n        print(p, e.errno)\n    s.close()") % (allowed, other)
    result = syswarden("run", "--net-bind", str(allowed), "--", PY, "-c", script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"{allowed} ok", f"{other} 13"]


def test_policy_file_landlock_section(tmp_path: Path) -> None:
    """A native policy's landlock: section is enforced together with its seccomp rules."""
    allowed, other = free_ports(2)
    policy = tmp_path / "p.yaml"
    policy.write_text(f"default: allow\nrules:\n  - syscalls: [getppid]\n    action: errno(EPERM)\n"
                      f"landlock:\n  net:\n    bind: [{allowed}]\n")
    script = (f"import socket, ctypes\nl = ctypes.CDLL(None, use_errno=True)\nprint(l.syscall(110))\n"
              f"s = socket.socket()\ntry:\n    s.bind(('127.0.0.1', {other})); print('bound')\n"
              f"except OSError as e:\n    print('bind', e.errno)")
    result = syswarden("run", "--policy", str(policy), "--", PY, "-c", script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["-1", "bind", "13"]


@pytest.mark.parametrize("args, message", [
    (["--drop", "bnid"], "unknown syscall 'bnid'"),
    (["--profile", "dokcer-default"], "did you mean docker-default"),
    (["--errno", "ENOPE", "--drop", "bind"], "--errno: expected an errno name"),
    (["--default-action", "deny", "--allow", "read"], "--default-action: expected allow"),
    (["--fs-read", "/nonexistent/syswarden"], "does not exist"),
    (["--net-bind", "70000"], "70000"),
    (["--require-landlock", "60", "--fs-read", "/usr"], "ABI 60 required"),
])
def test_bad_input_exits_2_without_running(tmp_path: Path, args: list[str], message: str) -> None:
    """Bad flags give a clear error and exit 2 (1 for a kernel requirement); CMD never runs."""
    marker = tmp_path / "ran"
    result = syswarden("run", *args, "--", "touch", str(marker))
    assert result.returncode == (1 if "require" in args[0] else 2), result.stderr
    assert message in result.stderr
    assert not marker.exists()


def test_bad_policy_file_points_at_line(tmp_path: Path) -> None:
    """A malformed policy file is reported with file:line:col and exit 2."""
    policy = tmp_path / "bad.yaml"
    policy.write_text("default: allow\nrules:\n  - syscalls: [read]\n    action: explode\n")
    result = syswarden("run", "--policy", str(policy), "--", "true")
    assert result.returncode == 2
    assert f"{policy}:4:" in result.stderr


def test_missing_command_is_input_error() -> None:
    """A command that is not on PATH is refused before forking."""
    with pytest.raises(InputError, match="command not found"):
        launcher.prepare(["syswarden-no-such-command"], [])


def test_explanation_escapes_attacker_controlled_names(tmp_path: Path) -> None:
    """A program named with a newline cannot forge a second stderr line in the explanation."""
    evil = tmp_path / "evil\nFAKE line"
    evil.symlink_to("/bin/true")
    result = syswarden("run", "--allow", "read,write", "--", str(evil))
    assert result.returncode == -signal.SIGSYS
    assert "evil\\nFAKE line (pid" in result.stderr
    assert not any(line.startswith("FAKE") for line in result.stderr.splitlines())


def test_trap_action_is_explained(tmp_path: Path) -> None:
    """A trap rule's SIGSYS is explained too (the launcher sets the LOG flag so the kernel records traps)."""
    policy = tmp_path / "trap.yaml"
    policy.write_text("default: allow\nrules:\n  - syscalls: [getppid]\n    action: trap\n    comment: no parent\n")
    result = syswarden("run", "--policy", str(policy), "--", PY, "-c",
                       "import ctypes; ctypes.CDLL(None).syscall(110)")
    assert result.returncode == -signal.SIGSYS
    assert f"syscall getppid (110, x86_64) is denied by policy '{policy}', rule 1 'no parent' at {policy}:3:5 (trap)" \
        in result.stderr


def test_verbose_says_what_landlock_enforces(tmp_path: Path) -> None:
    """-v prints the Landlock ABI and the rights restricted; AppArmor warnings are printed too."""
    profile = tmp_path / "p.aa"
    dirs = "".join(f"  {d}/** rix,\n" for d in ("/usr", "/lib", "/lib64") if os.path.exists(d))
    profile.write_text(f"profile p {{\n{dirs}  {tmp_path}/missing r,\n}}\n")
    result = syswarden("run", "-v", "--apparmor", str(profile), "--", "/bin/cat", "/etc/hostname")
    assert result.returncode == 1 and "Permission denied" in result.stderr
    assert re.search(r"landlock ABI \d+: restricting execute, write_file, read_file", result.stderr)
    assert "missing' does not exist; nothing is allowed there" in result.stderr


def test_landlock_denied_exec_is_reported_as_126(tmp_path: Path) -> None:
    """When Landlock forbids executing CMD itself, syswarden says so and exits 126, as a shell would."""
    result = syswarden("run", "--fs-write", str(tmp_path), "--", "/bin/true")
    assert result.returncode == 126
    assert "cannot execute '/bin/true': Permission denied" in result.stderr


def test_dry_run_counts_every_logged_call() -> None:
    """A dry run that logs 3000 calls reports all 3000 (records are taken in while CMD runs, not only after)."""
    script = "import ctypes\nl = ctypes.CDLL(None)\nfor _ in range(3000):\n    l.syscall(110)"
    result = syswarden("run", "--log", "--drop", "getppid", "--", PY, "-c", script)
    assert result.returncode == 0, result.stderr
    assert "getppid would have been denied (3000x)" in result.stderr


def test_exec_in_place_reports_a_refused_exec(tmp_path: Path) -> None:
    """--exec: when Landlock refuses to execute CMD, the error reaches stderr and the exit code is 126."""
    result = syswarden("run", "--exec", "--fs-write", str(tmp_path), "--", "/bin/true")
    assert result.returncode == 126
    assert "cannot execute '/bin/true': Permission denied" in result.stderr


def test_signal_dispositions_reach_cmd_like_subprocess() -> None:
    """CMD gets SIGPIPE at its default (Python ignores it), while a SIGINT our caller ignored stays ignored."""
    import subprocess
    result = subprocess.run([PY, "-m", "syswarden", "run", "--drop", "ptrace", "--", "grep", "SigIgn",
                             "/proc/self/status"], capture_output=True, text=True, timeout=60,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    ignored = int(result.stdout.split()[1], 16)
    assert ignored & (1 << (signal.SIGINT - 1)), result.stdout
    assert not ignored & (1 << (signal.SIGPIPE - 1)), result.stdout


def test_kill_of_a_child_of_cmd_is_reported() -> None:
    """When CMD is a shell whose child was killed (the shell exits 159), the kill seen during the run is named."""
    inner = f"{PY} -c \"import socket; socket.socket().bind(('127.0.0.1', 0))\""
    result = syswarden("run", "--drop", "bind", "--", "sh", "-c", inner)
    assert result.returncode == 128 + signal.SIGSYS
    assert re.search(r"during the run, \S+ \(pid \d+\) was killed: syscall bind \(49, x86_64\) is denied by the "
                     r"--drop/--allow flags", result.stderr), result.stderr
