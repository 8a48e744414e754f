"""The recorder against ``strace -f -c`` on the same program (issue 17): every syscall strace counted, per
personality, is in the recorded policy (nothing missed), and the policy holds nothing strace did not see but
what is listed: the launcher's needs (``build.LAUNCHER_NEEDS``), the calls a run that forked may make or not by
timing alone (``build.TIMING_DEPENDENT``) and the calls that never return, which
``strace -c`` does not count (``exit``, ``exit_group``). ``--summary`` counts the same calls as strace."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from syswarden.policy.formats.native_yaml import load
from syswarden.recorder.build import LAUNCHER_NEEDS, TIMING_DEPENDENT
from syswarden.syscalls.arch import Arch
from tests.recorder.conftest import BACKENDS, Programs, record

pytestmark = pytest.mark.kernel

NEVER_RETURN = {"exit", "exit_group"}
# added, not traced: the launcher's own needs and what a run that forked may call or not by timing alone
ADDED = set(LAUNCHER_NEEDS) | {n for companions in TIMING_DEPENDENT.values() for n in companions}
_ROW = re.compile(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(\d*)\s*(\w+)\s*$")
_SUMMARY_ROW = re.compile(r"^\s*[\d.]+\s+(\d+)\s+(\d*)\s+(\w+)\s*$")


def strace_counts(cmd: list[str], tmp: Path) -> dict[tuple[Arch, str], int]:
    """(personality, syscall) -> calls, from ``strace -f -c`` (its 32-bit table is the i386 ABI)."""
    if shutil.which("strace") is None:
        pytest.skip("strace is not installed")
    out = tmp / "strace.txt"
    subprocess.run(["strace", "-f", "-c", "-o", str(out), "--", *cmd], capture_output=True, timeout=120, check=True)
    arch, counts = Arch.X86_64, {}
    for line in out.read_text().splitlines():
        if "32 bit mode" in line:
            arch = Arch.I386
        elif "x32 mode" in line:
            arch = Arch.X32
        m = _ROW.match(line)
        if m and m.group(3) != "total":
            counts[(arch, m.group(3))] = int(m.group(1))
    return counts


def summary_counts(stderr: str) -> dict[tuple[Arch, str], int]:
    arch, counts = Arch.X86_64, {}
    for line in stderr.splitlines():
        if line.startswith("ABI "):
            arch = Arch.parse(line[4:].rstrip(":"))
        m = _SUMMARY_ROW.match(line)
        if m and m.group(3) != "total":
            counts[(arch, m.group(3))] = int(m.group(1))
    return counts


def policy_calls(policy_file: Path) -> set[tuple[Arch, str]]:
    policy = load(policy_file.read_text())
    return {(a, n) for r in policy.rules for a in (r.arches or policy.arches) for n in r.names}


@pytest.mark.parametrize("backend", BACKENDS)
def test_same_calls_as_strace(backend: str, programs: Programs, tmp_path: Path) -> None:
    cmd = [str(programs.forks32), str(programs.child32)]
    traced = strace_counts(cmd, tmp_path)
    assert any(a is Arch.I386 for a, _ in traced), "strace saw no 32-bit calls"
    policy_file, recorded = record(tmp_path, cmd, "--summary", backend=backend)
    allowed = policy_calls(policy_file)
    assert set(traced) <= allowed, sorted(set(traced) - allowed)
    extra = {name for _, name in allowed - set(traced)}
    assert extra <= ADDED | NEVER_RETURN, sorted(extra)
    ours = summary_counts(recorded.stderr)
    assert {k: v for k, v in ours.items() if k[1] not in NEVER_RETURN} == traced


@pytest.mark.parametrize("cmd", [["ls", "-l", "/usr"], ["/usr/bin/python3", "-c", "import json, ssl, sqlite3"]])
def test_nothing_strace_counted_is_missing(cmd: list[str], tmp_path: Path) -> None:
    traced = strace_counts(cmd, tmp_path)
    policy_file, _ = record(tmp_path, cmd)
    allowed = policy_calls(policy_file)
    assert set(traced) <= allowed, sorted(set(traced) - allowed)
    assert {n for _, n in allowed - set(traced)} <= ADDED | NEVER_RETURN
