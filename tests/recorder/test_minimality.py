"""Minimality (issue 17): for a small C program whose every syscall is checked, the recorded policy holds
exactly the calls it made, and removing any one of them makes the re-run fail. ``execve`` is the one call
``syswarden run`` lets through for CMD's own exec (the launcher's exemption, by pointer): its necessity is shown
the way any other launcher (runc, bwrap) would meet it, by installing the filter and exec'ing with no exemption.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from syswarden.policy.formats.native_yaml import dump, load
from syswarden.policy.model import Policy
from tests.recorder.conftest import BACKENDS, Programs, bare, confined, record

pytestmark = pytest.mark.kernel

MADE = {"execve", "getpid", "openat", "read", "close", "write", "exit_group"}


def _without(policy: Policy, name: str) -> Policy:
    rules = tuple(replace(r, names=tuple(n for n in r.names if n != name)) for r in policy.rules)
    return replace(policy, rules=tuple(r for r in rules if r.names))


def _exec_under(policy_file: Path, program: Path) -> subprocess.CompletedProcess[str]:
    """Install the policy's filter in a fresh interpreter and exec the program: no launcher exemption."""
    code = f"""
        import os
        from syswarden.policy.formats.native_yaml import load
        from syswarden.sandbox.apply import apply
        policy = load(open({str(policy_file)!r}).read())
        apply(policy)
        os.execv({str(program)!r}, [{str(program)!r}])
    """
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("backend", BACKENDS)
def test_each_recorded_syscall_is_needed(backend: str, programs: Programs, tmp_path: Path) -> None:
    cmd = [str(programs.minimal)]
    expected = bare(cmd)
    assert (expected.returncode, expected.stdout) == (0, programs.minimal_target.read_text())
    policy_file, _ = record(tmp_path, cmd, backend=backend)
    policy = load(policy_file.read_text())
    assert {n for r in policy.rules for n in r.names} == MADE
    assert confined(policy_file, cmd).stdout == expected.stdout
    for name in sorted(MADE - {"execve"}):
        smaller = tmp_path / f"without-{name}.yaml"
        smaller.write_text(dump(_without(policy, name)))
        run = confined(smaller, cmd)
        assert (run.returncode, run.stdout) != (expected.returncode, expected.stdout), name
    assert _exec_under(policy_file, programs.minimal).stdout == expected.stdout
    without_execve = tmp_path / "without-execve.yaml"
    without_execve.write_text(dump(_without(policy, "execve")))
    refused = _exec_under(without_execve, programs.minimal)
    assert refused.returncode != 0 and "Operation not permitted" in refused.stderr
