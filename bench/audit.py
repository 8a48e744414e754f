#!/usr/bin/env python3
"""Linux audit, measured against its own tools in one run:

1. records parsed per second from a large audit log: ``syswarden audit search LOG -k KEY`` against
   ``ausearch -if LOG -k KEY`` on the same file (both read, group and match every record), and syswarden's own
   stages in process (line parsing, reassembly, interpretation);
2. the overhead of the audit source on the capture-overhead workloads (bench/capture_overhead.py): bare, under
   ``syswarden monitor --source audit`` (syswarden as the audit daemon), under auditd itself (a private instance
   writing to a temporary log) with the same audit rule — with the kernel's default backlog, and with the
   backlog the audit source sets (8192, never wait: "auditd nw") — and under ``syswarden monitor --source ebpf``.
   The audit rule covers the syscalls the eBPF source captures for the stock Falco rules.

Run as root:  .venv/bin/python bench/audit.py [--quick] [--records N]
Ratios are against the peer measured in the same run; the machine is shared, so repeat and compare ratios.
Every rule added is deleted, the daemons stopped and audit's enabled state restored, also on failure.
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from capture_overhead import RULES, SYSWARDEN, captured_syscalls, compile_helpers, make_tree, timed

ANCHORS = Path(__file__).resolve().parents[1] / ".." / "shared" / "anchors" / "audit"
KEY = "syswarden-audit-bench"
_SERIAL = re.compile(r"msg=audit\((\d+)\.(\d+):(\d+)\)")


def synthetic_log(path: Path, records: int) -> int:
    """A log of real record lines (the go-libaudit and Auditbeat samples), repeated with fresh serials and
    times so that events stay apart; returns the number of records written."""
    samples = []
    for name in ("go-libaudit/auparse-testdata/audit-rhel7.log", "go-libaudit/auparse-testdata/test3.log",
                 "auditbeat/chown.log", "audit-userspace/auparse-testdata/test4.log"):
        samples += [ln for ln in (ANCHORS / name).read_text().splitlines() if _SERIAL.search(ln)]
    written, serial, sec = 0, 1000, 1_700_000_000
    with path.open("w") as out:
        while written < records:
            last = None
            for line in samples:
                old = _SERIAL.search(line)
                assert old is not None
                if old.group(3) != last:
                    serial, sec, last = serial + 1, sec + 1, old.group(3)
                out.write(_SERIAL.sub(f"msg=audit({sec}.{old.group(2)}:{serial})", line, count=1) + "\n")
                written += 1
    return written


def parse_rates(log: Path, records: int) -> None:
    from syswarden.audit.interpret import interpret
    from syswarden.audit.logs import read_events, read_records

    t = time.perf_counter()
    recs = list(read_records([str(log)]))
    parse = time.perf_counter() - t
    t = time.perf_counter()
    events = list(read_events(recs))
    group = time.perf_counter() - t
    t = time.perf_counter()
    for rec in recs:
        interpret(rec)
    interp = time.perf_counter() - t
    print(f"in process: parse {records / parse:,.0f} records/s, reassemble {records / group:,.0f} records/s "
          f"({len(events):,} events), interpret {records / interp:,.0f} records/s")
    ours = _wall([*SYSWARDEN, "audit", "search", str(log), "-k", "no-such-key"])
    theirs = _wall(["ausearch", "-if", str(log), "-k", "no-such-key"])
    print(f"search {records:,} records: syswarden {ours:.2f} s ({records / ours:,.0f} records/s), ausearch "
          f"{theirs:.2f} s ({records / theirs:,.0f} records/s); syswarden/ausearch time {ours / theirs:.2f}x")


def _wall(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


@contextmanager
def audit_rule(syscalls: list[str]) -> Iterator[None]:
    """One exit rule for ``syscalls`` (key KEY), and audit enabled; both undone afterwards."""
    from syswarden.audit.rule_encode import encode
    from syswarden.audit.rules_file import parse_rules
    from syswarden.kernel import audit_netlink

    status = audit_netlink.get_status()
    if status.get("enabled") == 2:
        raise RuntimeError("audit is locked (enabled 2); not touching it")
    line = "-a always,exit -F arch=b64 " + " ".join(f"-S {s}" for s in syscalls) + f" -k {KEY}"
    raw = encode(parse_rules(line, "bench").rules[0])
    audit_netlink.add_rule(raw)
    try:
        audit_netlink.set_audit_enabled(1)
        yield
    finally:
        audit_netlink.delete_rule(raw)
        audit_netlink.set_audit_enabled(status.get("enabled", 0))


@contextmanager
def no_wait_backlog() -> Iterator[None]:
    """The kernel settings the audit source uses as daemon (backlog 8192, never wait), for an equal auditd run."""
    from syswarden.kernel import audit_netlink

    status = audit_netlink.get_status()
    audit_netlink.set_status(backlog_limit=8192, backlog_wait_time=0)
    try:
        yield
    finally:
        audit_netlink.set_status(backlog_limit=status["backlog_limit"], backlog_wait_time=status["backlog_wait_time"])


@contextmanager
def private_auditd(tmp: Path) -> Iterator[None]:
    from syswarden.kernel import audit_netlink

    conf = tmp / "auditd"
    (conf / "plugins.d").mkdir(parents=True)
    (conf / "auditd.conf").write_text(
        f"log_file = {tmp}/audit.log\nlog_format = RAW\nflush = INCREMENTAL_ASYNC\nfreq = 50\nmax_log_file = 1000\n"
        "max_log_file_action = IGNORE\nspace_left = 2\nspace_left_action = IGNORE\nadmin_space_left = 1\n"
        "admin_space_left_action = IGNORE\ndisk_full_action = IGNORE\ndisk_error_action = IGNORE\n"
        f"q_depth = 2000\noverflow_action = IGNORE\nplugin_dir = {conf}/plugins.d\n")
    os.chmod(conf / "auditd.conf", 0o600)
    proc = subprocess.Popen(["auditd", "-n", "-s", "nochange", "-c", str(conf)], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while audit_netlink.get_status()["pid"] != proc.pid:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("auditd did not start")
            time.sleep(0.05)
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@contextmanager
def monitor(source: str) -> Iterator[None]:
    proc = subprocess.Popen([*SYSWARDEN, "monitor", "--source", source, "-r", str(RULES), "-o", os.devnull],
                            stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(4)
        if proc.poll() is not None:
            raise RuntimeError(f"monitor --source {source} exited: {proc.stderr.read() if proc.stderr else ''}")
        yield
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        events = re.search(r"Events processed:\s+(\d+)", err or "")
        drops = re.search(r"Events dropped:\s+(\d+)", err or "")
        print(f"  monitor --source {source}: {events.group(1) if events else '?'} events, "
              f"{drops.group(1) if drops else '?'} dropped", file=sys.stderr)


def overhead(repeat: int, loops: int) -> None:
    with tempfile.TemporaryDirectory(prefix="swaudit-") as tmpdir:
        tmp = Path(tmpdir)
        loop, _ = compile_helpers(tmp)
        make_tree(tmp / "tree", 30, 30)
        workloads = {"open/read/close/stat loop": [str(loop), str(loops)],
                     "tar cf /dev/null tree": ["tar", "cf", os.devnull, "-C", str(tmp), "tree"],
                     "find tree -type f": ["find", str(tmp / "tree"), "-type", "f"]}
        results: dict[str, dict[str, float]] = {w: {} for w in workloads}
        syscalls = captured_syscalls()
        runs = (("bare", None), ("auditd", "auditd"), ("auditd no-wait", "auditd-nowait"), ("audit source", "audit"),
                ("ebpf source", "ebpf"))
        for label, how in runs:
            print(f"measuring {label} ...", file=sys.stderr)
            with _setting(how, syscalls, tmp):
                for w, cmd in workloads.items():
                    results[w][label] = timed(cmd, repeat)
    width = max(len(w) for w in results)
    print(f"{'workload'.ljust(width)}  {'bare s':>8}  {'auditd':>8}  {'auditd nw':>9}  {'audit src':>9}  "
          f"{'ebpf src':>9}  {'audit/auditd nw':>15}  {'audit/ebpf':>10}")
    for w, r in results.items():
        print(f"{w.ljust(width)}  {r['bare']:8.3f}  {r['auditd'] / r['bare']:7.2f}x  "
              f"{r['auditd no-wait'] / r['bare']:8.2f}x  "
              f"{r['audit source'] / r['bare']:8.2f}x  {r['ebpf source'] / r['bare']:8.2f}x  "
              f"{r['audit source'] / r['auditd no-wait']:14.2f}x  {r['audit source'] / r['ebpf source']:9.2f}x")


@contextmanager
def _setting(how: str | None, syscalls: list[str], tmp: Path) -> Iterator[None]:
    if how is None:
        yield
    elif how == "ebpf":
        with monitor("ebpf"):
            yield
    elif how == "auditd":
        with audit_rule(syscalls), private_auditd(tmp):
            yield
    elif how == "auditd-nowait":
        with audit_rule(syscalls), no_wait_backlog(), private_auditd(tmp / "nowait"):
            yield
    else:
        with audit_rule(syscalls), monitor("audit"):
            yield


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions and a smaller log")
    ap.add_argument("--records", type=int, help="records in the synthetic log")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench/audit.py: needs root (audit netlink, auditd, eBPF)", file=sys.stderr)
        return 2
    records = args.records or (100_000 if args.quick else 500_000)
    with tempfile.TemporaryDirectory(prefix="swaudit-log-") as tmpdir:
        log = Path(tmpdir) / "audit.log"
        written = synthetic_log(log, records)
        parse_rates(log, written)
    overhead(*((3, 20000) if args.quick else (5, 50000)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
