#!/usr/bin/env python3
"""Sharding (``monitor --workers N``): what one worker process and the monitor process cost per record, and how
long a fixed backlog takes with 1, 2, 3 workers, in one run.

The workload is the open/read/close/stat loop of ``capture_overhead.py`` (100k iterations: 200k open+close
records) under ``monitor --no-kernel-filter`` with the stock rules and a 256 MiB ring buffer, so that nothing is
dropped and every record is decoded, tracked and judged: the run ends when the backlog is done. The CPU time
of the monitor process and of each worker is sampled from /proc while it runs (the last sample before exit),
from the moment the workload starts (the rules are loaded by then), so the per-record cost of reading and
splitting (monitor) and of decode + state + rules (workers) is measured apart from
the wall time, which on a shared 2-CPU machine says more about the neighbours than about sharding.

Run as root:  .venv/bin/python bench/shards.py [--iterations N] [--workers 1,2,3] [--repeat R]
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from capture_overhead import RULES, SYSWARDEN, compile_helpers

_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICK


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def run(loop: Path, iterations: int, workers: int) -> dict[str, float]:
    """One monitored run: wall time, events, drops, CPU of the monitor and of its workers."""
    cmd = [*SYSWARDEN, "monitor", "-r", str(RULES), "-o", os.devnull, "--no-kernel-filter",
           "--option", "ebpf.ring_buffer_size=256M", "--workers", str(workers), "--", str(loop), str(iterations)]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    last: dict[int, float] = {}
    done = threading.Event()

    baseline: list[float] = []                  # the monitor's CPU when the workload starts (rules loaded)

    def sample() -> None:
        while not done.is_set():
            kids = children(proc.pid)
            for pid in [proc.pid, *kids]:
                _is_worker(pid, proc.pid)
                if (cpu := cpu_seconds(pid)) is not None:
                    last[pid] = cpu
            if not baseline and any(not _is_worker(k, proc.pid) for k in kids):
                baseline.append(last.get(proc.pid, 0.0))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate(timeout=900)
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"monitor failed: {err}")
    events = _number(err, "Events processed")
    loop_cpu = sum(v for pid, v in last.items() if pid != proc.pid and not _is_worker(pid, proc.pid))
    worker_cpu = [v for pid, v in last.items() if _is_worker(pid, proc.pid)]
    return {"wall": wall, "events": events, "drops": _number(err, "Events dropped"),
            "monitor_cpu": last.get(proc.pid, 0.0) - (baseline[0] if baseline else 0.0),
            "worker_cpu": sum(worker_cpu), "loop_cpu": loop_cpu,
            "workers_seen": len(worker_cpu)}


_WORKER_PIDS: set[int] = set()


def _is_worker(pid: int, parent: int) -> bool:
    if pid in _WORKER_PIDS:
        return True
    try:
        if b"shard_worker" in Path(f"/proc/{pid}/cmdline").read_bytes():
            _WORKER_PIDS.add(pid)
            return True
    except OSError:
        pass
    return False


def _number(text: str, label: str) -> int:
    match = re.search(rf"{label}:\s+(\d+)", text)
    return int(match.group(1)) if match else -1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=100_000)
    parser.add_argument("--workers", default="1,2,3")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/shards.py: run as root (eBPF)", file=sys.stderr)
        return 2
    counts = [int(w) for w in args.workers.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        loop = compile_helpers(Path(tmp))["loop"]
        rows: dict[int, list[dict[str, float]]] = {w: [] for w in counts}
        # fixed costs (worker start-up: interpreter, imports, rules), from a run whose workload does nothing
        idle = {w: run(loop, 1, w) for w in counts}
        for _ in range(args.repeat):            # interleaved, so the neighbours' load hits every setting alike
            for w in counts:
                rows[w].append(run(loop, args.iterations, w))
                r = rows[w][-1]
                print(f"  workers {w}: {r['wall']:.2f} s, {r['events']:.0f} events, {r['drops']:.0f} dropped",
                      file=sys.stderr)
    print(f"load average at the end: {os.getloadavg()[0]:.2f} (2-CPU machines shared with other runs: read "
          "wall times as rough)")
    print("per record: CPU time over the records processed, the idle run's (start-up) CPU subtracted")
    print(f"{'workers':>7}  {'wall s':>7}  {'events':>8}  {'drops':>5}  {'monitor us/rec':>14}  "
          f"{'workers us/rec':>14}  {'wall vs 1':>9}")
    base = min(r["wall"] for r in rows[counts[0]])
    for w in counts:
        best = min(rows[w], key=lambda r: r["wall"])
        events = max(best["events"] - idle[w]["events"], 1)
        monitor_cpu = best["monitor_cpu"] - idle[w]["monitor_cpu"]
        worker_cpu = best["worker_cpu"] - idle[w]["worker_cpu"]
        print(f"{w:>7}  {best['wall']:>7.2f}  {best['events']:>8.0f}  {best['drops']:>5.0f}  "
              f"{monitor_cpu / events * 1e6:>14.1f}  {worker_cpu / events * 1e6:>14.1f}  "
              f"{best['wall'] / base:>8.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
