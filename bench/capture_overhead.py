#!/usr/bin/env python3
"""Capture overhead: the same syscall-heavy workloads bare, under `syswarden monitor` (eBPF, stock rules,
whole system), under `strace -f -o /dev/null`, and under auditd with rules for the syscalls syswarden
captures, in one run. Prints slowdowns as ratios to bare, then the highest sustained event rate the monitor
keeps up with without drops (openat bursts at increasing paced rates).

Run as root:  .venv/bin/python bench/capture_overhead.py [--quick] [--rate-only [--seconds S] [--rates R,R..]]

``--rate-only`` skips the workloads, strace and auditd and only looks for the highest sustained rate (handy to
compare two versions of the monitor back to back on a shared machine).

auditd is started only inside this script; its rules are deleted and the daemon stopped afterwards (also on
failure), and the kernel's audit "enabled" flag is restored. `auditctl -e 2` is never used.
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / ".." / "shared" / "anchors" / "falco" / "falco_rules.yaml"
SYSWARDEN = [sys.executable, "-m", "syswarden"]
AUDIT_KEY = "syswarden-bench"

# open/read/close/stat loop, and a paced openat generator (RATE opens per second for SECONDS).
LOOP_C = r"""
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
int main(int argc, char **argv) {
    long n = atol(argv[1]); char buf[256]; struct stat st;
    for (long i = 0; i < n; i++) {
        int fd = open("/etc/hostname", O_RDONLY);
        if (fd >= 0) { read(fd, buf, sizeof buf); close(fd); }
        stat("/etc/hostname", &st);
    }
    return 0;
}
"""
PACED_C = r"""
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
int main(int argc, char **argv) {
    double rate = atof(argv[1]), secs = atof(argv[2]); long done = 0; double start = now(), t;
    while ((t = now() - start) < secs) {
        long due = (long)(t * rate);
        while (done < due) { int fd = open("/dev/null", O_RDONLY); if (fd >= 0) close(fd); done++; }
        struct timespec nap = {0, 200000}; nanosleep(&nap, 0);
    }
    printf("%.0f\n", done / (now() - start));
    return 0;
}
"""


def compile_helpers(tmp: Path) -> tuple[Path, Path]:
    out = []
    for name, src in (("loop", LOOP_C), ("paced", PACED_C)):
        (tmp / f"{name}.c").write_text(src)
        subprocess.run(["gcc", "-O2", "-o", str(tmp / name), str(tmp / f"{name}.c")], check=True)
        out.append(tmp / name)
    return out[0], out[1]


def make_tree(root: Path, dirs: int = 60, files: int = 60) -> None:
    for d in range(dirs):
        sub = root / f"d{d}"
        sub.mkdir(parents=True)
        for f in range(files):
            (sub / f"f{f}").write_bytes(b"x" * 512)


def timed(cmd: list[str], repeat: int) -> float:
    """Median wall time of ``cmd`` over ``repeat`` runs."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


@contextmanager
def syswarden_monitor() -> Iterator[Callable[[], str]]:
    """`syswarden monitor` (eBPF, stock rules) watching the whole system; yields a function returning its summary."""
    proc = subprocess.Popen([*SYSWARDEN, "monitor", "--source", "ebpf", "-r", str(RULES), "-o", os.devnull],
                            stderr=subprocess.PIPE, text=True)
    summary = ""
    try:
        time.sleep(4)  # rules load + probe attach
        if proc.poll() is not None:
            raise RuntimeError(f"monitor exited early: {proc.stderr.read() if proc.stderr else ''}")
        yield lambda: summary
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        summary = err


def captured_syscalls() -> list[str]:
    """The syscalls syswarden's eBPF source captures for the stock rules (what auditd is given too)."""
    from syswarden.rules import load_rules
    from syswarden.service.selection import needed_event_types
    from syswarden.sources.syscall_decode import syscall_names_for
    from syswarden.syscalls import tables
    from syswarden.syscalls.arch import Arch

    ruleset = load_rules([str(RULES)]).raise_for_errors()
    names = syscall_names_for(needed_event_types(ruleset))
    return [n for n in names if tables.number(Arch.X86_64, n) is not None]


def _audit_enabled() -> str:
    out = subprocess.run(["auditctl", "-s"], capture_output=True, text=True).stdout
    m = re.search(r"enabled (\d)", out)
    return m.group(1) if m else "0"


@contextmanager
def auditd_running(syscalls: list[str]) -> Iterator[None]:
    """auditd plus one exit rule for ``syscalls``; everything undone afterwards, even on failure."""
    enabled = _audit_enabled()
    if enabled == "2":
        raise RuntimeError("audit configuration is locked (enabled 2); not touching it")
    rule = ["-a", "always,exit", "-F", "arch=b64", *[a for s in syscalls for a in ("-S", s)], "-k", AUDIT_KEY]
    started = False
    try:
        subprocess.run(["auditd"], check=True)
        started = True
        time.sleep(1)
        subprocess.run(["auditctl", "-e", "1"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["auditctl", *rule], check=True)
        yield
    finally:
        subprocess.run(["auditctl", "-d", *rule[1:]], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["auditctl", "-D", "-k", AUDIT_KEY], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if started:
            pid = Path("/run/auditd.pid")
            if pid.exists():
                os.kill(int(pid.read_text().split()[0]), signal.SIGTERM)
                time.sleep(1)
        subprocess.run(["auditctl", "-e", enabled], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def summary_counts(text: str) -> tuple[int, int]:
    events = re.search(r"Events processed:\s+(\d+)", text)
    drops = re.search(r"Events dropped:\s+(\d+)", text)
    return (int(events.group(1)) if events else -1, int(drops.group(1)) if drops else -1)


def sustained_rate(paced: Path, rates: list[int], seconds: float) -> list[tuple[int, int, int, int]]:
    """(target rate, achieved rate, events processed, drops) per step, under `syswarden monitor -- paced`."""
    rows = []
    for rate in rates:
        proc = subprocess.run([*SYSWARDEN, "monitor", "--source", "ebpf", "-r", str(RULES), "-o", os.devnull,
                               "--", str(paced), str(rate), str(seconds)], capture_output=True, text=True)
        achieved = int(proc.stdout.split()[-1]) if proc.stdout.split() else 0
        events, drops = summary_counts(proc.stderr)
        rows.append((rate, achieved, events, drops))
        print(f"  rate {rate:>8}/s  achieved {achieved:>8}/s  processed {events:>9}  dropped {drops}",
              file=sys.stderr)
        if drops > 0:
            break
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer iterations and rate steps")
    ap.add_argument("--rate-only", action="store_true", help="only the highest sustained rate without drops")
    ap.add_argument("--seconds", type=float, default=2.0, help="length of each paced step (default 2)")
    ap.add_argument("--rates", help="comma-separated openat/s steps instead of the default ladder")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("capture_overhead: needs root (eBPF, auditd)", file=sys.stderr)
        return 2
    steps = [5000, 10000, 20000, 40000, 80000] if args.quick else \
        [5000, 10000, 15000, 20000, 30000, 40000, 60000, 80000, 120000, 160000]
    if args.rates:
        try:
            steps = [int(r) for r in args.rates.split(",")]
        except ValueError:
            print(f"capture_overhead: --rates: expected integers separated by commas, got {args.rates!r}",
                  file=sys.stderr)
            return 2
    if args.rate_only:
        with tempfile.TemporaryDirectory(prefix="swbench-") as tmpdir:
            _, paced = compile_helpers(Path(tmpdir))
            print("finding the highest sustained rate without drops ...", file=sys.stderr)
            rows = sustained_rate(paced, steps, args.seconds)
        print_rate(rows)
        return 0
    repeat, loops = (3, 20000) if args.quick else (5, 50000)
    with tempfile.TemporaryDirectory(prefix="swbench-") as tmpdir:
        tmp = Path(tmpdir)
        loop, paced = compile_helpers(tmp)
        make_tree(tmp / "tree")
        workloads = {
            "open/read/close/stat loop": [str(loop), str(loops)],
            "tar cf /dev/null tree": ["tar", "cf", os.devnull, "-C", str(tmp), "tree"],
            "find tree -type f": ["find", str(tmp / "tree"), "-type", "f"],
        }
        results: dict[str, dict[str, float]] = {w: {} for w in workloads}
        print("measuring bare ...", file=sys.stderr)
        for w, cmd in workloads.items():
            results[w]["bare"] = timed(cmd, repeat)
        print("measuring under syswarden monitor (eBPF, stock rules) ...", file=sys.stderr)
        with syswarden_monitor() as summary:
            for w, cmd in workloads.items():
                results[w]["syswarden"] = timed(cmd, repeat)
        events, drops = summary_counts(summary())
        print("measuring under strace -f -o /dev/null ...", file=sys.stderr)
        for w, cmd in workloads.items():
            results[w]["strace"] = timed(["strace", "-f", "-o", os.devnull, *cmd], repeat)
        syscalls = captured_syscalls()
        print(f"measuring under auditd ({len(syscalls)} syscalls) ...", file=sys.stderr)
        with auditd_running(syscalls):
            for w, cmd in workloads.items():
                results[w]["auditd"] = timed(cmd, repeat)
        print("finding the highest sustained rate without drops ...", file=sys.stderr)
        rows = sustained_rate(paced, steps, args.seconds)

    width = max(len(w) for w in workloads)
    print(f"{'workload'.ljust(width)}  {'bare s':>8}  {'syswarden':>9}  {'strace':>8}  {'auditd':>8}")
    for w, r in results.items():
        print(f"{w.ljust(width)}  {r['bare']:8.3f}  {r['syswarden'] / r['bare']:8.2f}x  "
              f"{r['strace'] / r['bare']:7.2f}x  {r['auditd'] / r['bare']:7.2f}x")
    print(f"syswarden monitor during the workloads: {events} events processed, {drops} dropped")
    print_rate(rows)
    return 0


def print_rate(rows: list[tuple[int, int, int, int]]) -> None:
    """The best clean step and the first step with drops."""
    clean = [r for r in rows if r[3] == 0]
    best = max(clean, key=lambda r: r[1]) if clean else None
    first_drop = next((r for r in rows if r[3] > 0), None)
    if best:
        print(f"highest sustained rate without drops: {best[1]} openat/s (target {best[0]}/s, "
              f"{best[2]} events processed)")
    if first_drop:
        print(f"drops first seen at: {first_drop[1]} openat/s ({first_drop[3]} dropped, counted and reported)")


if __name__ == "__main__":
    sys.exit(main())
