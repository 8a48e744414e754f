"""Recording overhead: a syscall-heavy workload (``dd bs=1``: one read and one write per byte) run bare, under
``syswarden record --backend ebpf``, under ``strace -f -c -o /dev/null`` and under ``syswarden record --backend
ptrace``, all in this run; medians of ``--runs`` runs, printed as ratios to bare.

Two ratios per tool: end to end (what a user waits, including syswarden's start-up, loading the census and
writing the policy), and per syscall (the tool's time for the workload minus its time for ``/bin/true``, over
bare's same difference: what each traced syscall costs, independent of fixed start-up). The ptrace-based
tools (strace, the ptrace backend) run a workload ``--slow-divisor`` times smaller, and their times are scaled
up accordingly for the per-syscall ratio (stated in the output). Timings on a shared machine are noisy.

Usage: .venv/bin/python bench/record.py [--count N] [--runs R] [--slow-divisor D]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SYSWARDEN = [sys.executable, "-m", "syswarden"]
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def workload(count: int) -> list[str]:
    return ["dd", "if=/dev/zero", "of=/dev/null", "bs=1", f"count={count}"]


def tools(out: Path) -> dict[str, list[str]]:
    found = {
        "bare": [],
        "syswarden record --backend ebpf": [*SYSWARDEN, "record", "--backend", "ebpf", "-o", str(out), "--"],
        "strace -f -c -o /dev/null": ["strace", "-f", "-c", "-o", "/dev/null", "--"],
        "syswarden record --backend ptrace": [*SYSWARDEN, "record", "--backend", "ptrace", "-o", str(out), "--"],
    }
    if shutil.which("strace") is None:
        del found["strace -f -c -o /dev/null"]
    return found


def measure(argv: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False, env=ENV)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:   # a failed tool is fast, and a fast wrong figure is worse than none
            sys.exit(f"bench/record.py: {' '.join(argv[:6])} ... failed ({done.returncode}): "
                     f"{done.stderr.decode(errors='replace')[-500:]}")
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=500_000, help="bytes dd copies one at a time (2 syscalls each)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--slow-divisor", type=int, default=10,
                        help="ptrace-based tools copy COUNT/D bytes (their times are scaled by D per syscall)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/record.py needs root (the eBPF backend)")
    rows = []
    with tempfile.TemporaryDirectory(prefix="syswarden-bench-record-") as tmp:
        for name, prefix in tools(Path(tmp) / "policy.yaml").items():
            slow = "ptrace" in name or "strace" in name
            count = args.count // args.slow_divisor if slow else args.count
            fixed = measure([*prefix, "/bin/true"], args.runs)
            total = measure([*prefix, *workload(count)], args.runs)
            scale = args.slow_divisor if slow else 1
            rows.append((name, count, total, fixed, (total - fixed) * scale))
            print(f"  measured {name}: {total:.3f} s for {2 * count} syscalls", file=sys.stderr)
    bare = rows[0]
    bare_marginal = bare[4] or 1e-9
    print(f"workload: dd bs=1 of {args.count} bytes ({2 * args.count} syscalls); median of {args.runs} runs")
    print(f"{'tool':<36} {'syscalls':>9} {'wall s':>8} {'vs bare':>8} {'per-syscall vs bare':>20}")
    for name, count, total, _fixed, marginal in rows:
        end_to_end = f"{total / bare[2]:.2f}x" if count == bare[1] else "-"
        print(f"{name:<36} {2 * count:>9} {total:>8.3f} {end_to_end:>8} {marginal / bare_marginal:>19.2f}x")
    print(f"(ptrace-based tools ran {args.slow_divisor}x fewer syscalls; their per-syscall ratio is scaled)")


if __name__ == "__main__":
    main()
