#!/usr/bin/env python3
"""Capture overhead: the same syscall-heavy workloads bare, under `syswarden monitor` (eBPF, stock rules,
whole system) with the kernel prefilter and with `--no-kernel-filter`, under `strace -f -o /dev/null`, and
under auditd with rules for the syscalls syswarden captures, in one run. Prints slowdowns as ratios to bare,
the events each workload offers against those the probe delivers to user space, the cost of an unrelated
syscall (getppid, stat) with the monitor attached, then the highest sustained rate the monitor keeps up with
without drops (paced openat+close at increasing rates, one generator process per CPU), with and without the kernel
filter. Also the cost of I/O buffers (issue 19): the monitor with the stock rules plus one rule reading
``evt.buffer`` on every read/write/send/recv call of the workloads' programs, with ``--snaplen 80`` (Falco's
default: the first 80 bytes of each call copied in the kernel) against ``--snaplen 0`` (none), each bracketed by
bare runs like the others.

Run as root:  .venv/bin/python bench/capture_overhead.py [--quick] [--rate-only [--seconds S] [--rates R,R..]]
              [--buffers-only] [--no-rate]

``SWBENCH_RULES`` names another rules file (default: the shared stock falco_rules.yaml).

``--buffers-only`` measures only bare and the two snaplen phases. ``--rate-only`` skips the workloads, strace and
auditd and only looks for the highest sustained rate (handy to compare two versions of the monitor back to back
on a shared machine). The machine is shared: bare is measured before and after the monitors and the spread of the
two is printed as the run's noise.

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
RULES = Path(os.environ.get("SWBENCH_RULES", REPO / ".." / "shared" / "anchors" / "falco" / "falco_rules.yaml"))
SYSWARDEN = [sys.executable, "-m", "syswarden"]
AUDIT_KEY = "syswarden-bench"
# Reads the buffer of every type that has one, so the probe copies it on every I/O call of the workloads' own
# programs (the kernel prefilter keeps the rest of the shared machine's I/O out by comm, so the phase measures
# the workloads, not the neighbours); its string never occurs, so it costs the match and no alert.
BUFFER_RULE = """
- rule: bench reads every I/O buffer
  desc: makes the live source capture the data of every read/write/send/recv call (issue 19)
  condition: >
    evt.type in (read, write, pread, pwrite, readv, writev, preadv, pwritev, sendto, recvfrom, sendmsg, recvmsg)
    and proc.name in (loop, tar, cat, find)
    and evt.buffer contains "syswarden-bench-no-such-bytes"
  output: "%proc.name %evt.buffer"
  priority: DEBUG
"""
SNAPLENS = (80, 0)

# open/read/close/stat loop, a paced openat generator (RATE opens per second for SECONDS), and a loop of
# syscalls no rule asks for (getppid, stat), timed in the program itself.
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
/* RATE opens (+ closes) per second for SECONDS, split over PROCS processes; prints the rate achieved */
int main(int argc, char **argv) {
    double rate = atof(argv[1]), secs = atof(argv[2]); int procs = argc > 3 ? atoi(argv[3]) : 1;
    int fds[2]; pipe(fds);
    for (int p = 0; p < procs; p++) {
        if (fork() == 0) {
            long done = 0; double start = now(), t, r = rate / procs;
            while ((t = now() - start) < secs) {
                long due = (long)(t * r);
                while (done < due) { int fd = open("/dev/null", O_RDONLY); if (fd >= 0) close(fd); done++; }
                struct timespec nap = {0, 200000}; nanosleep(&nap, 0);
            }
            double got = done / (now() - start);
            write(fds[1], &got, sizeof got);
            _exit(0);
        }
    }
    double total = 0, got;
    for (int p = 0; p < procs; p++) { read(fds[0], &got, sizeof got); total += got; wait(0); }
    printf("%.0f\n", total);
    return 0;
}
"""
UNRELATED_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
int main(int argc, char **argv) {
    long n = atol(argv[1]); struct stat st; double t0 = now();
    for (long i = 0; i < n; i++) syscall(SYS_getppid);
    double t1 = now();
    for (long i = 0; i < n / 4; i++) stat("/etc/hostname", &st);
    printf("%.1f %.1f\n", (t1 - t0) / n * 1e9, (now() - t1) / (n / 4) * 1e9);
    return 0;
}
"""


def compile_helpers(tmp: Path) -> dict[str, Path]:
    out = {}
    for name, src in (("loop", LOOP_C), ("paced", PACED_C), ("unrelated", UNRELATED_C)):
        (tmp / f"{name}.c").write_text(src)
        subprocess.run(["gcc", "-O2", "-o", str(tmp / name), str(tmp / f"{name}.c")], check=True)
        out[name] = tmp / name
    return out


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


def unrelated_cost(exe: Path, repeat: int) -> tuple[float, float]:
    """Best (getppid ns, stat ns) of ``repeat`` runs."""
    runs = [tuple(float(x) for x in subprocess.run([str(exe), "400000"], capture_output=True, text=True,
                                                     check=True).stdout.split()) for _ in range(repeat)]
    return min(r[0] for r in runs), min(r[1] for r in runs)


def kernel_filter_supported() -> bool:
    """Whether this syswarden has the rules-derived kernel prefilter (monitor --no-kernel-filter)."""
    out = subprocess.run([*SYSWARDEN, "monitor", "--help"], capture_output=True, text=True).stdout
    return "--no-kernel-filter" in out


@contextmanager
def syswarden_monitor(kernel_filter: bool = True, extra: tuple[str, ...] = ()) -> Iterator[Callable[[], str]]:
    """`syswarden monitor` (eBPF, stock rules, then ``extra`` flags) watching the whole system; yields a function
    returning its summary."""
    flags = ([] if kernel_filter else ["--no-kernel-filter"]) + list(extra)
    proc = subprocess.Popen([*SYSWARDEN, "monitor", "--source", "ebpf", "-r", str(RULES), "-o", os.devnull, *flags],
                            stderr=subprocess.PIPE, text=True)
    summary = ""
    try:
        time.sleep(5)  # rules load + probe attach
        if proc.poll() is not None:
            raise RuntimeError(f"monitor exited early: {proc.stderr.read() if proc.stderr else ''}")
        yield lambda: summary
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        summary = err


def offered_delivered(cmd: list[str], kernel_filter: bool) -> tuple[int, int]:
    """(events the command's process tree offered to the probe, events the probe delivered), from the probe's
    own counters, with the stock rules' prefilter (or none)."""
    from syswarden.rules import load_rules
    from syswarden.service.selection import select_events
    from syswarden.sources.base import SourceConfig
    from syswarden.sources.ebpf.source import EbpfSource

    ruleset = load_rules([str(RULES)]).raise_for_errors()
    config = select_events(SourceConfig(command=cmd, options={"drop_report": "none"}), ruleset,
                           kernel_filter=kernel_filter)
    with EbpfSource(config) as src:
        for _ in src.events():
            pass
        counts = src.kernel_counters()
    return sum(c[0] for c in counts.values()), sum(c[2] for c in counts.values())


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


def sustained_rate(paced: Path, rates: list[int], seconds: float,
                   kernel_filter: bool = True) -> list[tuple[int, int, int, int]]:
    """(target rate, achieved rate, events processed, drops) per step, under `syswarden monitor -- paced`."""
    rows = []
    flags = [] if kernel_filter else ["--no-kernel-filter"]
    for rate in rates:
        proc = subprocess.run([*SYSWARDEN, "monitor", "--source", "ebpf", "-r", str(RULES), "-o", os.devnull, *flags,
                               "--", str(paced), str(rate), str(seconds), str(os.cpu_count() or 1)],
                              capture_output=True, text=True)
        achieved = int(proc.stdout.split()[-1]) if proc.stdout.split() else 0
        events, drops = summary_counts(proc.stderr)
        rows.append((rate, achieved, events, drops))
        print(f"  rate {rate:>8}/s  achieved {achieved:>8}/s  processed {events:>9}  dropped {drops}",
              file=sys.stderr)
        if drops > 0 or (rows and achieved < 0.8 * rate):
            break
    return rows


def print_rate(rows: list[tuple[int, int, int, int]], label: str = "") -> None:
    """The best clean step and the first step with drops (openat+close: two syscalls per open)."""
    clean = [r for r in rows if r[3] == 0]
    best = max(clean, key=lambda r: r[1]) if clean else None
    first_drop = next((r for r in rows if r[3] > 0), None)
    if best:
        print(f"highest sustained rate without drops{label}: {best[1]} openat/s = {2 * best[1]} syscalls/s offered "
              f"(target {best[0]}/s, {best[2]} events processed)")
    if first_drop:
        print(f"drops first seen at{label}: {first_drop[1]} openat/s ({first_drop[3]} dropped, counted and reported)")
    elif rows and rows[-1][1] < 0.8 * rows[-1][0]:
        print(f"  (the generator reached only {rows[-1][1]}/s of {rows[-1][0]}/s on this machine: its limit, no drops)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer iterations and rate steps")
    ap.add_argument("--rate-only", action="store_true", help="only the highest sustained rate without drops")
    ap.add_argument("--seconds", type=float, default=2.0, help="length of each paced step (default 2)")
    ap.add_argument("--rates", help="comma-separated openat/s steps instead of the default ladder")
    ap.add_argument("--no-rate", action="store_true", help="skip the highest sustained rate")
    ap.add_argument("--buffers-only", action="store_true", help="only I/O buffers: snaplen 80 against 0")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("capture_overhead: needs root (eBPF, auditd)", file=sys.stderr)
        return 2
    steps = [25000, 60000, 125000, 200000] if args.quick else \
        [10000, 25000, 40000, 60000, 80000, 100000, 125000, 150000, 200000, 250000]
    if args.rates:
        try:
            steps = [int(r) for r in args.rates.split(",")]
        except ValueError:
            print(f"capture_overhead: --rates: expected integers separated by commas, got {args.rates!r}",
                  file=sys.stderr)
            return 2
    filters = [True, False] if kernel_filter_supported() else [False]
    if len(filters) == 1:
        print("note: this syswarden has no kernel prefilter (monitor --no-kernel-filter missing); "
              "measuring without it", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="swbench-") as tmpdir:
        tmp = Path(tmpdir)
        exes = compile_helpers(tmp)
        if args.rate_only:
            for kf in filters:
                print(f"finding the highest sustained rate without drops (kernel filter {'on' if kf else 'off'}) ...",
                      file=sys.stderr)
                print_rate(sustained_rate(exes["paced"], steps, args.seconds, kf),
                           f" (kernel filter {'on' if kf else 'off'})")
            return 0
        repeat, loops = (3, 20000) if args.quick else (5, 50000)
        make_tree(tmp / "tree")
        # tar reads every file only when its archive is not /dev/null (it skips them then): hence the pipe
        workloads = {
            "open/read/close/stat loop": [str(exes["loop"]), str(loops)],
            "tar cf - tree | cat": ["sh", "-c", f"tar cf - -C {tmp} tree | cat > /dev/null"],
            "find tree -type f": ["sh", "-c", f"find {tmp / 'tree'} -type f > /dev/null"],
        }
        # The machine is shared: every monitored phase is bracketed by bare runs just before and after it, and
        # its ratio taken against their mean; their spread is the phase's noise.
        results: dict[str, dict[str, float]] = {w: {} for w in workloads}
        unrelated: dict[str, tuple[float, float]] = {}
        noise: dict[str, float] = {}
        monitor_counts = {}

        def bare(tag: str) -> None:
            for w, cmd in workloads.items():
                results[w][tag] = timed(cmd, repeat)
            unrelated[tag] = unrelated_cost(exes["unrelated"], repeat)
        (tmp / "buffers.yaml").write_text(BUFFER_RULE)
        buffers = ("-r", str(tmp / "buffers.yaml"))
        # (column, kernel filter, extra monitor flags, what the progress line says)
        phases = [] if args.buffers_only else [
            ("syswarden" if kf else "no filter", kf, (), f"stock rules, kernel filter {'on' if kf else 'off'}")
            for kf in filters]
        phases += [(f"snaplen {n}", True, (*buffers, "--snaplen", str(n)),
                    f"stock rules + a rule reading evt.buffer, --snaplen {n}") for n in SNAPLENS]
        print("measuring bare ...", file=sys.stderr)
        bare("bare")
        for i, (col, kf, extra, what) in enumerate(phases):
            print(f"measuring under syswarden monitor (eBPF, {what}) ...", file=sys.stderr)
            with syswarden_monitor(kf, extra) as summary:
                for w, cmd in workloads.items():
                    results[w][col] = timed(cmd, repeat)
                unrelated[col] = unrelated_cost(exes["unrelated"], repeat)
            monitor_counts[col] = summary_counts(summary())
            if monitor_counts[col][0] < 0:
                print(f"monitor summary not found; its stderr ended with: {summary()[-500:]!r}", file=sys.stderr)
            print("measuring bare again ...", file=sys.stderr)
            bare(f"bare{i + 1}")
            before, after = f"bare{i}" if i else "bare", f"bare{i + 1}"
            for w in workloads:
                ref = (results[w][before] + results[w][after]) / 2
                noise[f"{w}/{col}"] = abs(results[w][before] - results[w][after]) / ref
                results[w][col] /= ref
            ref_u = [(unrelated[before][k] + unrelated[after][k]) / 2 for k in (0, 1)]
            unrelated[col] = (unrelated[col][0] / ref_u[0], unrelated[col][1] / ref_u[1])
            noise[f"unrelated/{col}"] = abs(unrelated[before][0] - unrelated[after][0]) / ref_u[0]
        last = f"bare{len(phases)}"
        if args.buffers_only:
            print_buffers(workloads, results, noise, monitor_counts)
            return 0
        print("counting offered vs delivered events per workload ...", file=sys.stderr)
        delivered = {w: {kf: offered_delivered(cmd, kf) for kf in filters} for w, cmd in workloads.items()}
        print("measuring under strace -f -o /dev/null ...", file=sys.stderr)
        for w, cmd in workloads.items():
            results[w]["strace"] = timed(["strace", "-f", "-o", os.devnull, *cmd], repeat)
        syscalls = captured_syscalls()
        print(f"measuring under auditd ({len(syscalls)} syscalls) ...", file=sys.stderr)
        with auditd_running(syscalls):
            for w, cmd in workloads.items():
                results[w]["auditd"] = timed(cmd, repeat)
            unrelated["auditd"] = unrelated_cost(exes["unrelated"], repeat)
        bare("bare_end")
        for w in workloads:
            ref = (results[w][last] + results[w]["bare_end"]) / 2
            for col in ("strace", "auditd"):
                results[w][col] /= ref
        ref_u = [(unrelated[last][k] + unrelated["bare_end"][k]) / 2 for k in (0, 1)]
        unrelated["auditd"] = (unrelated["auditd"][0] / ref_u[0], unrelated["auditd"][1] / ref_u[1])
        rates = {}
        for kf in filters if not args.no_rate else []:
            print(f"finding the highest sustained rate without drops (kernel filter {'on' if kf else 'off'}) ...",
                  file=sys.stderr)
            rates[kf] = sustained_rate(exes["paced"], steps, args.seconds, kf)

    print_report(workloads, results, unrelated, noise, monitor_counts, delivered, filters)
    for kf in rates:
        print_rate(rates[kf], f" (kernel filter {'on' if kf else 'off'})")
    print_buffers(workloads, results, noise, monitor_counts)
    return 0


def print_buffers(workloads, results, noise, monitor_counts) -> None:
    """The I/O buffer phases: ratios to their bracketing bare runs, and snaplen 80 against snaplen 0."""
    cols = [f"snaplen {n}" for n in SNAPLENS]
    width = max(len(w) for w in workloads)
    print("I/O buffers (stock rules + a rule reading evt.buffer on the workloads' every I/O call), ratio to bare:")
    print(f"  {'workload'.ljust(width)}  " + "  ".join(f"{c:>10}" for c in cols) + "  80 vs 0  noise (bare spread)")
    for w, r in results.items():
        spread = " ".join(f"{noise[f'{w}/{c}']:.0%}" for c in cols)
        print(f"  {w.ljust(width)}  " + "  ".join(f"{r[c]:9.2f}x" for c in cols)
              + f"  {r[cols[0]] / r[cols[1]]:6.2f}x  {spread}")
    for col in cols:
        events, drops = monitor_counts[col]
        print(f"  monitor ({col}) during the workloads: {events} events processed, {drops} dropped")


def print_report(workloads, results, unrelated, noise, monitor_counts, delivered, filters) -> None:
    """Ratios to the bare runs bracketing each phase, with the phase's noise (bare before vs after)."""
    cols = ["syswarden"] * (True in filters) + ["no filter"] + ["strace", "auditd"]
    width = max(len(w) for w in workloads)
    print(f"{'workload'.ljust(width)}  {'bare s':>8}  " + "  ".join(f"{c:>9}" for c in cols) + "  noise (bare spread)")
    for w, r in results.items():
        spread = " ".join(f"{v:.0%}" for k, v in noise.items() if k.startswith(w + "/"))
        print(f"{w.ljust(width)}  {r['bare']:8.3f}  " + "  ".join(f"{r[c]:8.2f}x" for c in cols) + f"  {spread}")
    print(f"unrelated syscalls, bare: getppid {unrelated['bare'][0]:.0f} ns, stat {unrelated['bare'][1]:.0f} ns")
    for k in ("syswarden", "no filter", "auditd"):
        if k in unrelated:
            extra = f" (noise {noise[f'unrelated/{k}']:.0%})" if f"unrelated/{k}" in noise else ""
            print(f"  {k:>9}: getppid {unrelated[k][0]:.2f}x, stat {unrelated[k][1]:.2f}x bare{extra}")
    for col, (events, drops) in monitor_counts.items():
        if col.startswith("snaplen"):
            continue                # print_buffers
        print(f"syswarden monitor ({col}) during the workloads: {events} events processed, {drops} dropped")
    print("events offered by the workload vs delivered to user space (the probe's counters):")
    for w, per in delivered.items():
        for kf, (offered, sent) in per.items():
            ratio = f"1 in {offered / sent:.1f}" if sent else "none"
            print(f"  {w.ljust(width)}  kernel filter {'on ' if kf else 'off'}  offered {offered:>7}  "
                  f"delivered {sent:>7}  ({ratio})")


if __name__ == "__main__":
    sys.exit(main())
