"""Filter evaluation cost: syswarden's compiled conditions against sysdig's filter engine, same events, same run.

A stream of realistic events (execve, openat, connect, close by a few dozen processes, with thread and fd state)
is written to a scap capture with ``ScapWriter``. For each condition we time sysdig reading the capture with the
condition and with a trivial one (``evt.num=0``); the difference is sysdig's cost of evaluating the condition.
For syswarden we time the compiled predicate over the same events in memory, minus the trivial predicate. The
ratio of the two per-event costs is printed (below 1.0 means syswarden evaluates faster than sysdig). Compile
times of the whole stock ruleset are printed too.

    .venv/bin/python bench/filter.py [--events 200000] [--repeat 3]
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from syswarden.events.event import Event, FdInfo, FdType, SockTuple, ThreadInfo
from syswarden.rules.compiler import compile_condition
from syswarden.rules.filter.parser import parse
from syswarden.sources.scap.writer import ScapWriter

ROOT = Path(__file__).resolve().parents[1]
STOCK = ROOT / ".." / "shared" / "anchors" / "falco" / "falco_rules.yaml"

CONDITIONS = {
    "open_read sensitive": (
        "evt.type in (open, openat, openat2) and evt.is_open_read=true and fd.typechar='f' and fd.num>=0 "
        "and (fd.name startswith /etc/ or fd.name in (/etc/shadow, /etc/sudoers, /etc/pam.conf)) "
        "and not proc.name in (sshd, sudo, su, login, systemd, cron, crond, nginx) "
        "and not proc.pname in (sshd, systemd)"),
    "shell spawned": (
        "evt.type in (execve, execveat) and evt.dir=< and proc.name in (bash, sh, zsh, dash, ksh) "
        "and (proc.cmdline contains curl or proc.cmdline contains wget or proc.pname in (nginx, node, python3))"),
    "outbound connect": (
        "evt.type = connect and evt.dir=< and fd.typechar = 4 and fd.sport != 53 "
        "and not fd.snet in (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16) and proc.name != curl"),
}
TRIVIAL = "evt.num = 0"

PROGRAMS = [("bash", "/usr/bin/bash"), ("sh", "/usr/bin/dash"), ("nginx", "/usr/sbin/nginx"),
            ("python3", "/usr/bin/python3.11"), ("node", "/usr/bin/node"), ("sshd", "/usr/sbin/sshd"),
            ("cat", "/usr/bin/cat"), ("curl", "/usr/bin/curl"), ("cron", "/usr/sbin/cron"), ("vim", "/usr/bin/vim")]
PATHS = ["/etc/passwd", "/etc/shadow", "/etc/hosts", "/var/log/syslog", "/tmp/x.txt", "/usr/lib/libc.so.6",
         "/home/u/.bashrc", "/etc/ssl/certs/ca.pem", "/proc/self/status", "/srv/www/index.html"]


def build(n: int, seed: int = 7) -> tuple[list[ThreadInfo], list[Event]]:
    """``n`` events by 40 processes whose parents are the first 5 (so pname/aname have values)."""
    rng = random.Random(seed)
    threads: list[ThreadInfo] = []
    for i in range(40):
        comm, exe = PROGRAMS[i % len(PROGRAMS)]
        parent = threads[i % 5] if i >= 5 else None
        threads.append(ThreadInfo(tid=1000 + i, pid=1000 + i, ptid=parent.pid if parent else 1, comm=comm, exe=exe,
                                  exepath=exe, args=["-c", rng.choice(["ls", "curl x", "id", "make"])],
                                  cwd="/root/", uid=0, gid=0, euid=0, egid=0, parent=parent))
        # an unconnected TCP socket on fd 5, so sysdig knows the fd's type when connect() fills in the tuple
        threads[-1].fds[5] = FdInfo(num=5, type=FdType.IPV4, l4proto="tcp", sip="0.0.0.0", dip="0.0.0.0")
    events: list[Event] = []
    ts = 1_700_000_000_000_000_000
    for num in range(1, n + 1):
        t = rng.choice(threads)
        ts += 1000
        kind = rng.random()
        if kind < 0.5:
            path, fd = rng.choice(PATHS), 3 + num % 20
            info = FdInfo(num=fd, type=FdType.FILE, name=path, flags=0)
            events.append(Event(num=num, ts=ts, type="openat", tid=t.tid, thread=t, fd=info, res=fd,
                                params={"fd": fd, "dirfd": -100, "name": path, "flags": 0, "mode": 0,
                                        "dev": 0, "ino": 0}))
        elif kind < 0.65:
            events.append(Event(num=num, ts=ts, type="execve", tid=t.tid, thread=t, res=0,
                                params={"exe": t.exe, "args": t.args, "tid": t.tid, "pid": t.pid,
                                        "ptid": t.ptid, "cwd": t.cwd, "comm": t.comm}))
        elif kind < 0.8:
            dip, dport = rng.choice(["10.1.2.3", "93.184.216.34", "192.168.1.1", "8.8.8.8"]), rng.choice([443, 53, 80])
            info = FdInfo(num=5, type=FdType.IPV4, name=f"10.0.0.9:40000->{dip}:{dport}", l4proto="tcp",
                          sip="10.0.0.9", sport=40000, dip=dip, dport=dport, connected=True)
            events.append(Event(num=num, ts=ts, type="connect", tid=t.tid, thread=t, fd=info, res=0,
                                params={"fd": 5, "tuple": SockTuple("AF_INET", "10.0.0.9", 40000, dip, dport)}))
        else:
            events.append(Event(num=num, ts=ts, type="close", tid=t.tid, thread=t, res=0, params={"fd": 3}))
    return threads, events


def ours(condition: str, events: list[Event], repeat: int) -> float:
    """Best time over ``repeat`` runs to evaluate the compiled condition on every event."""
    pred = compile_condition(parse(condition)).predicate
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for e in events:
            pred(e)
        best = min(best, time.perf_counter() - start)
    return best


def sysdig(path: str, condition: str, repeat: int) -> float:
    """Best wall time over ``repeat`` runs of sysdig filtering the capture (matches printed to /dev/null)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(["sysdig", "-r", path, "-p", "*%evt.num", condition], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=True)
        best = min(best, time.perf_counter() - start)
    return best


def compile_stock() -> str:
    docs = yaml.safe_load(STOCK.read_text())
    lists = {i["list"]: i["items"] for i in docs if "list" in i}
    start = time.perf_counter()
    macros = {i["macro"]: parse(i["condition"]) for i in docs if "macro" in i}
    rules = [i for i in docs if "rule" in i and "condition" in i]
    for rule in rules:
        compile_condition(parse(rule["condition"]), macros=macros, lists=lists)
    took = time.perf_counter() - start
    return (f"stock falco_rules.yaml: {len(macros)} macros + {len(rules)} rules parsed and compiled in "
            f"{took * 1000:.0f} ms")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if shutil.which("sysdig") is None:
        print("sysdig not installed: nothing to compare with", file=sys.stderr)
        return 1
    print(f"building {args.events} events ...", file=sys.stderr)
    threads, events = build(args.events)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.scap")
        with ScapWriter(path) as writer:
            writer.write_threads(threads)
            for e in events:
                writer.write_event(e)
        base_ours, base_sysdig = ours(TRIVIAL, events, args.repeat), sysdig(path, TRIVIAL, args.repeat)
        print(f"{'condition':<22} {'syswarden ns/evt':>17} {'sysdig ns/evt':>14} {'ratio':>7}")
        for name, cond in CONDITIONS.items():
            o = max(ours(cond, events, args.repeat) - base_ours, 0.0) / len(events) * 1e9
            s = max(sysdig(path, cond, args.repeat) - base_sysdig, 0.0) / len(events) * 1e9
            # sysdig's delta below 3% of its read cost is timing noise, not a cost to divide by
            ratio = f"{o / s:>7.2f}" if s > 0.03 * base_sysdig / len(events) * 1e9 else "    n/a"
            print(f"{name:<22} {o:>17.0f} {s:>14.0f} {ratio}")
        print(f"{'(baseline evt.num=0)':<22} {base_ours / len(events) * 1e9:>17.0f} "
              f"{base_sysdig / len(events) * 1e9:>14.0f}   (read/loop cost, subtracted above)")
    print(compile_stock())
    return 0


if __name__ == "__main__":
    sys.exit(main())
