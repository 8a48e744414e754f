"""``monitor --workers N`` (service/shards): the same alerts as one process on a busy workload (every alert
once, each process's in order, parent identity known in every shard), the service's signals, no BPF link left."""
from __future__ import annotations

import json
import re
import signal
import struct
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from pathlib import Path

import pytest

from syswarden.service.shards import split_batch
from tests.scenarios.conftest import _ebpf_reason
from tests.servers import wait_until
from tests.service.live import (SYSWARDEN, kill_if_running, link_ids, live_link_ids, start_monitor, stop_monitor,
                                summary_number)

RULES = """\
- rule: Open in work dir
  desc: d
  condition: evt.type in (open, openat) and fd.name startswith {prefix}
  output: opened %fd.name by %proc.pid parent %proc.pname
  priority: WARNING
- rule: Spawned marker
  desc: d
  condition: evt.type = execve and proc.name = true
  output: spawned %proc.pid parent %proc.pname
  priority: NOTICE
"""

# 6 processes each open their 300 files in order (1,800 alerts), and exec /bin/true once; the parent forks them
# all before any finishes, so the shards work at the same time
WORKLOAD = """
import os, sys
work = sys.argv[1]
kids = []
for k in range(6):
    pid = os.fork()
    if pid == 0:
        for i in range(300):
            os.close(os.open(f"{work}/p{k}-{i}", os.O_RDONLY | os.O_CREAT, 0o600))
        os.execv("/bin/true", ["true"])
    kids.append(pid)
for pid in kids:
    os.waitpid(pid, 0)
"""


def record(tgid: int, nr: int) -> bytes:
    body = bytearray(152)
    struct.pack_into("<I", body, 76, tgid)
    struct.pack_into("<i", body, 104, nr)
    return struct.pack("<II", len(body), 0) + bytes(body)


def test_split_batch_routes_by_thread_group_and_broadcasts_lifecycle() -> None:
    """A syscall record goes to its tgid's worker only; a fork record to all, state-only except for the owner."""
    chunk = record(7, 257) + record(8, -1)
    parts = split_batch(chunk, [8, 8 + 160], 3)
    # tgid 7 -> worker 1 only; the fork of tgid 8 -> everyone, judged by worker 2
    assert [len(p) for p in parts] == [5 + 152, 2 * (5 + 152), 5 + 152]
    assert parts[1][4] == 0 and parts[1][5 + 152 + 4] == 1 and parts[0][4] == 1 and parts[2][4] == 0


def test_split_batch_skips_the_workers_own_records() -> None:
    chunk = record(7, 257) + record(9, -3) + record(10, 257)
    parts = split_batch(chunk, [8, 168, 328], 2, frozenset({9}))
    assert [len(p) for p in parts] == [5 + 152, 5 + 152]


@pytest.fixture()
def ebpf() -> None:
    if (reason := _ebpf_reason()) is not None:
        pytest.skip(reason)


def _run(tmp_path: Path, workers: int) -> tuple[list[dict], str]:
    work = tmp_path / f"w{workers}"
    work.mkdir()
    rules = tmp_path / f"rules{workers}.yaml"
    rules.write_text(RULES.format(prefix=f"{work}/"))
    proc = subprocess.run([*SYSWARDEN, "monitor", "-r", str(rules), "--json", "--all-matches", "--workers",
                           str(workers), "--", sys.executable, "-c", WORKLOAD, str(work)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")], proc.stderr


def _per_process(alerts: list[dict]) -> dict[str, list[str]]:
    """Each child's opened names in alert order, keyed by the child's number (pids differ between runs)."""
    out: dict[str, list[str]] = {}
    for a in alerts:
        if a["rule"] == "Open in work dir":
            name = Path(a["output_fields"]["fd.name"]).name
            out.setdefault(name.split("-")[0], []).append(name)
    return out


@pytest.mark.kernel
@pytest.mark.slow
def test_two_workers_give_the_alerts_of_one(tmp_path: Path, ebpf: None) -> None:
    one, _ = _run(tmp_path, 1)
    two, err = _run(tmp_path, 2)
    expected = {f"p{k}": [f"p{k}-{i}" for i in range(300)] for k in range(6)}
    assert _per_process(one) == expected
    assert _per_process(two) == expected            # every alert once, each process's in its own order
    assert Counter(a["rule"] for a in two) == Counter(a["rule"] for a in one) == \
        Counter({"Open in work dir": 1800, "Spawned marker": 6})
    # the parent's identity is known in whichever shard judged the child (fork records are broadcast)
    assert {a["output_fields"]["proc.pname"] for a in two} == {Path(sys.executable).name[:15]}
    # the 6 children are spread over both shards (pids of both parities), so both were at work
    assert len({a["output_fields"]["proc.pid"] % 2 for a in two}) == 2
    assert summary_number(err, "Alerts") == 1806 and summary_number(err, "Events dropped") == 0


@pytest.mark.kernel
@pytest.mark.slow
def test_workers_serve_signals(tmp_path: Path, ebpf: None) -> None:
    """SIGUSR1 prints the stats, SIGHUP reloads every worker's rules, SIGTERM drains (exit 0), and no BPF link
    or worker process outlives the monitor."""
    work = tmp_path / "w"
    work.mkdir()
    rules = tmp_path / "r.yaml"
    rules.write_text(RULES.format(prefix=f"{work}/a"))
    loop = textwrap.dedent("""
        import sys, time
        d = sys.argv[1]
        i = 0
        while True:
            open(f"{d}/a{i % 20}", "w").close(); open(f"{d}/b{i % 20}", "w").close()
            i += 1
            time.sleep(0.01)
    """)
    proc = start_monitor("-r", str(rules), "--workers", "2", "--", sys.executable, "-c", loop, str(work))
    err_lines: list[str] = []
    try:
        assert proc.stdout is not None and proc.stderr is not None
        stderr = proc.stderr
        threading.Thread(target=lambda: err_lines.extend(iter(stderr.readline, "")), daemon=True).start()
        assert f"{work}/a" in proc.stdout.readline()
        workers = [int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
        cmdlines = [Path(f"/proc/{p}/cmdline").read_bytes() for p in workers]
        assert sum(b"shard_worker" in c for c in cmdlines) == 2
        links = link_ids(proc.pid)
        assert links
        proc.send_signal(signal.SIGUSR1)
        wait_until(lambda: any(line.startswith("Events processed:") for line in list(err_lines)),
                   what="the SIGUSR1 stats")
        rules.write_text(RULES.format(prefix=f"{work}/b").replace("opened", "NEW opened"))
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: any("syswarden: reloaded" in line for line in list(err_lines)), what="the reload")
        seen: list[str] = []
        while not seen or "NEW opened" not in seen[-1]:
            seen.append(proc.stdout.readline())
            assert len(seen) < 5000
        after = [proc.stdout.readline() for _ in range(50)]
        assert all("NEW opened" in line and f"{work}/b" in line for line in after)
        stop_monitor(proc)
    finally:
        kill_if_running(proc)
    assert proc.returncode == 0, "".join(err_lines)
    assert re.search(r"^Alerts:\s+\d+", "".join(err_lines), re.M)
    assert not links & live_link_ids(), "a BPF link outlived the monitor"
    assert not any(Path(f"/proc/{p}").exists() and b"shard_worker" in Path(f"/proc/{p}/cmdline").read_bytes()
                   for p in workers), "a worker outlived the monitor"
    assert not any("Traceback" in line for line in err_lines)


def test_workers_need_the_live_ebpf_source(tmp_path: Path) -> None:
    for args in (["--replay", str(tmp_path / "x.jsonl")], ["--source", "ptrace", "--", "true"],
                 ["--write", str(tmp_path / "o.scap")]):
        if args[0] == "--replay":
            (tmp_path / "x.jsonl").write_text("")
        res = subprocess.run([*SYSWARDEN, "monitor", "--workers", "2", *args], capture_output=True, text=True,
                             timeout=60)
        assert res.returncode == 2 and "--workers" in res.stderr and "Traceback" not in res.stderr, res.stderr


def test_importing_the_shards_leaves_the_monitors_signals_alone() -> None:
    """Only the worker ignores SIGTERM/SIGINT: the monitor imports the worker module's constants, and an ignored
    SIGTERM there would pass through exec to every command the monitor starts (``monitor -- CMD``)."""
    code = ("import signal, subprocess, syswarden.service.shards\n"
            "print(signal.getsignal(signal.SIGTERM) == signal.SIG_DFL,"
            " signal.getsignal(signal.SIGHUP) == signal.SIG_DFL)\n"
            "print(subprocess.run(['/bin/sh', '-c', 'kill -TERM $$; sleep 5']).returncode)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["True", "True", "-15"]
