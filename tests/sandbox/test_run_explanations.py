"""`syswarden run` exit statuses for a CMD that cannot run, and explanations for kills anywhere in CMD's tree,
including i386 socketcall (issue 13 §5, §6)."""
from __future__ import annotations

import os
import re
import stat
import sys
from pathlib import Path

import pytest

from syswarden.syscalls import tables
from syswarden.syscalls.arch import Arch

from ..seccomp.helpers import build_c
from .conftest import syswarden

pytestmark = pytest.mark.kernel
PY = sys.executable
BIND = "import socket; socket.socket().bind(('127.0.0.1', 0))"


@pytest.mark.parametrize("no_cache", [False, True])
def test_missing_command_exits_127_and_unexecutable_126(tmp_path: Path, no_cache: bool) -> None:
    """As the shell and docker run: 127 not found, 126 cannot execute; bad options stay 2."""
    extra = ["--no-cache"] if no_cache else []
    missing = syswarden("run", *extra, "--drop", "ptrace", "--", str(tmp_path / "nonexistent"))
    assert missing.returncode == 127 and "command not found" in missing.stderr, missing.stderr
    assert syswarden("run", *extra, "--drop", "ptrace", "--", "syswarden-no-such-cmd").returncode == 127
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(stat.S_IRUSR | stat.S_IWUSR)
    if os.geteuid() == 0:
        script.chmod(0o644)          # root may read anything, but never executes a file without an x bit
    not_exec = syswarden("run", *extra, "--drop", "ptrace", "--", str(script))
    assert not_exec.returncode == 126 and "cannot execute" in not_exec.stderr, not_exec.stderr
    assert syswarden("run", *extra, "--drop", "ptrace", "--", str(tmp_path)).returncode == 126
    assert syswarden("run", "--no-such-option", "--", "true").returncode == 2


def test_kill_of_a_grandchild_is_explained_when_cmd_succeeds() -> None:
    """sh runs python, which the filter kills; sh reports it and exits 0: the kill is still named."""
    result = syswarden("run", "--drop", "bind", "--", "sh", "-c", f'{PY} -c "{BIND}"; echo "status $?"')
    assert result.returncode == 0 and "status 159" in result.stdout, result.stderr
    assert re.search(r"during the run, \S+ \(pid \d+\) was killed: syscall bind \(49, x86_64\) is denied by the "
                     r"--drop/--allow flags, rule 1 '--drop'", result.stderr), result.stderr


def test_socketcall_kill_names_the_rule(tmp_path: Path) -> None:
    """An i386 program binding through socketcall(SYS_BIND) is killed by --drop bind, and the explanation names
    that rule (the audit record carries no arguments: the rule on the operation reached through it)."""
    try:
        exe = build_c("rawsys.c", tmp_path)
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    socketcall = str(tables.number(Arch.I386, "socketcall"))
    result = syswarden("run", "--drop", "bind", "--", str(exe), "int80", socketcall, "2", "@u32:0,0,0")
    if "ENOSYS" in result.stdout or result.returncode == 0:
        pytest.skip("i386 emulation (int 0x80) is disabled in this kernel")
    assert result.returncode == -31 or result.returncode == 128 + 31, result
    assert "did not install" not in result.stderr
    assert re.search(r"syscall socketcall \(102, i386\) is denied by the --drop/--allow flags, rule 1 '--drop'[^(]*"
                     r"\(kill_process\), on bind reached through socketcall", result.stderr), result.stderr


@pytest.mark.parametrize("exit_code, explained, noted", [(0, False, False), (3, False, True), (3, True, False)])
def test_landlock_unlogged_note_only_when_a_denial_could_explain_the_failure(
        capsys: pytest.CaptureFixture[str], exit_code: int, explained: bool, noted: bool) -> None:
    """Without audit no denial is recorded: the note is printed when CMD failed and nothing else explains it,
    not after a success and not after a seccomp kill that is already named."""
    from syswarden.cli import run_output
    from syswarden.sandbox.supervisor import Outcome
    outcome = Outcome(1, exit_code, None, ["python3 (pid 1) was killed: ..."] if explained else [])
    outcome.landlock_unlogged = True
    assert run_output.finish(outcome) == exit_code
    assert ("Landlock denials are not logged" in capsys.readouterr().err) is noted
