"""Round trip (issue 17): for six real programs, a policy recorded with either backend in either format lets
``syswarden run --policy`` reproduce the program's output and exit code exactly."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.recorder.conftest import BACKENDS, FORMATS, SYSWARDEN, Programs, bare, confined, record

pytestmark = pytest.mark.kernel

PROGRAMS = ("ls", "python", "pipeline", "tar", "threads", "forks32")


def _command(name: str, programs: Programs, tmp: Path) -> list[str]:
    if name == "ls":
        return ["ls", "-l", "--time-style=+%Y", "/"]
    if name == "python":
        return ["/usr/bin/python3", "-c",
                ("import json, ssl, sqlite3; "
                 "print(json.dumps([ssl.OPENSSL_VERSION.split()[0], sqlite3.sqlite_version_info[0]]))")]
    if name == "pipeline":
        return ["sh", "-c", "printf 'b\\na\\nc\\n' | sort | tr a-z A-Z | head -n 2"]
    if name == "tar":
        src = tmp / "tree"
        (src / "sub").mkdir(parents=True, exist_ok=True)
        for i in range(3):
            (src / f"f{i}.txt").write_text(f"file {i}\n")
        (src / "sub" / "g.txt").write_text("g\n")
        return ["tar", "-cvf", str(tmp / "out.tar"), "-C", str(src), "."]
    if name == "threads":
        return [str(programs.threads)]
    return [str(programs.forks32), str(programs.child32)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", PROGRAMS)
def test_recorded_policy_reruns_identically(name: str, fmt: str, backend: str, programs: Programs,
                                             tmp_path: Path) -> None:
    cmd = _command(name, programs, tmp_path)
    expected = bare(cmd)
    policy, recorded = record(tmp_path, cmd, backend=backend, fmt=fmt)
    assert (recorded.returncode, _stable(recorded.stdout)) == (expected.returncode, _stable(expected.stdout)), \
        recorded.stderr
    again = confined(policy, cmd)
    assert (again.returncode, _stable(again.stdout)) == (expected.returncode, _stable(expected.stdout)), again.stderr
    assert again.stderr == expected.stderr


def _stable(text: str) -> str:
    """``ls -l /`` shows the size of /tmp and the link count of directories other tests change meanwhile."""
    return "\n".join(line for line in text.splitlines()
                     if not line.startswith("total ") and not line.endswith((" tmp", " run", " proc")))


def test_the_32bit_child_lands_in_the_i386_section(programs: Programs, tmp_path: Path) -> None:
    """The i386 calls of the ``gcc -m32`` child are allowed on i386 under their i386 names, not on x86_64."""
    from syswarden.policy.formats.native_yaml import load
    from syswarden.syscalls.arch import Arch
    for backend in BACKENDS:
        policy_file, _ = record(tmp_path, [str(programs.forks32), str(programs.child32)], backend=backend,
                                name=f"p-{backend}")
        policy = load(policy_file.read_text())
        i386 = {n for r in policy.rules if r.arches == frozenset({Arch.I386}) for n in r.names}
        x86_64 = {n for r in policy.rules if r.arches == frozenset({Arch.X86_64}) for n in r.names}
        assert {"mmap2", "set_thread_area", "exit_group"} <= i386, (backend, i386)
        assert "mmap2" not in x86_64 and "set_thread_area" not in x86_64
        assert {"clone", "wait4"} <= x86_64 or {"clone", "waitid"} <= x86_64 or "clone3" in x86_64


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_signal_the_recorded_run_never_got_is_survived(backend: str, tmp_path: Path) -> None:
    """The recorded run installs a SIGUSR1 handler that never runs; the confined run gets the signal, twice, and
    is stopped and continued in its sleep. The handler's return (rt_sigreturn) and the resumed sleep must be
    allowed although the recording never saw them: the policy lets the same program run again."""
    code = ("import os, signal, sys, time\n"
            "signal.signal(signal.SIGUSR1, lambda *a: print('got', flush=True))\n"
            "print(os.getpid(), flush=True)\n"
            "time.sleep(float(sys.argv[1]))\n"
            "print('done', flush=True)\n")
    script = tmp_path / "handler.py"
    script.write_text(code)
    policy, recorded = record(tmp_path, [sys.executable, "-S", str(script), "0"], backend=backend)
    assert recorded.returncode == 0, recorded.stderr
    proc = subprocess.Popen([*SYSWARDEN, "run", "-q", "--no-cache", "--policy", str(policy), "--",
                             sys.executable, "-S", str(script), "3"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        pid = int(proc.stdout.readline())
        for sig in (signal.SIGUSR1, signal.SIGSTOP, signal.SIGCONT, signal.SIGUSR1):
            time.sleep(0.3)
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                break                   # it died of an earlier one: the assertion below says how
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (proc.returncode, out.split()) == (0, ["got", "got", "done"])
