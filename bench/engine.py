"""Rules-engine throughput: the stock Falco ruleset over a generated, realistic event stream.

Prints events/s with the event-type index (Falco's evttype_index_ruleset) and without it (every enabled rule
tried on every event), their ratio, and per-event latency percentiles. The stream mixes what a busy host
does -- execve, open/openat, connect, accept, clone, rename, unlink, setuid, close, read/write -- by a few
hundred processes (shells, web servers, package managers, interpreters), with their fds attached, so
conditions see real values. A pool of distinct events is built once and replayed until the total is reached.

    .venv/bin/python bench/engine.py [--events 1000000] [--pool 200000] [--rules FILE]...
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

from syswarden.events.event import Event, FdInfo, FdType, SockAddr, SockTuple, ThreadInfo
from syswarden.rules import Engine, Ruleset, load_rules

ROOT = Path(__file__).resolve().parents[1]
STOCK = ROOT / "src" / "syswarden" / "rules" / "data" / "falco_rules.yaml"

PROGRAMS = [
    ("bash", "/usr/bin/bash", ["-c", "make -j4"]), ("sh", "/usr/bin/dash", ["-c", "ls /tmp"]),
    ("nginx", "/usr/sbin/nginx", ["-g", "daemon off;"]), ("python3", "/usr/bin/python3.11", ["app.py"]),
    ("node", "/usr/bin/node", ["server.js"]), ("apt-get", "/usr/bin/apt-get", ["update"]),
    ("sshd", "/usr/sbin/sshd", ["-D"]), ("cat", "/usr/bin/cat", ["/etc/hosts"]),
    ("curl", "/usr/bin/curl", ["https://example.com"]), ("postgres", "/usr/lib/postgresql/15/bin/postgres", []),
    ("systemd", "/usr/lib/systemd/systemd", []), ("gcc", "/usr/bin/gcc", ["-O2", "x.c"]),
]
FILES = ["/etc/hosts", "/etc/passwd", "/etc/shadow", "/var/log/syslog", "/tmp/build/x.o", "/usr/lib/libc.so.6",
         "/proc/self/status", "/home/user/.bashrc", "/var/lib/postgresql/data/base/1", "/dev/null",
         "/root/.ssh/id_rsa", "/etc/ld.so.cache", "/usr/share/zoneinfo/UTC", "/var/www/index.html"]
# Weighted mix of event types, roughly what a busy server produces once read/write are sampled away.
MIX = [("openat", 28), ("read", 14), ("write", 10), ("close", 12), ("execve", 4), ("clone", 3), ("connect", 6),
       ("accept", 4), ("open", 4), ("rename", 2), ("unlink", 2), ("unlinkat", 2), ("setuid", 1),
       ("socket", 3), ("sendto", 2), ("mmap", 3)]


def make_threads(rng: random.Random, count: int) -> list[ThreadInfo]:
    init = ThreadInfo(tid=1, pid=1, comm="systemd", exe="/sbin/init", exepath="/usr/lib/systemd/systemd", uid=0)
    threads = []
    for i in range(count):
        comm, path, args = rng.choice(PROGRAMS)
        parent = rng.choice(threads) if threads and rng.random() < 0.6 else init
        t = ThreadInfo(tid=1000 + i, pid=1000 + i, ptid=parent.pid, comm=comm, exe=comm, exepath=path,
                       args=list(args), cwd="/srv", uid=rng.choice([0, 0, 33, 1000]), gid=0,
                       loginuid=rng.choice([-1, 1000]), tty=rng.choice([0, 0, 34816]), parent=parent,
                       start_ts=1_700_000_000_000_000_000)
        threads.append(t)
    return threads


def make_event(rng: random.Random, num: int, etype: str, t: ThreadInfo) -> Event:
    """One exit event with the parameters Falco's event table gives it, and the fd state would attach."""
    params: dict[str, object] = {}
    fd = None
    res = 0
    if etype in ("open", "openat"):
        name = rng.choice(FILES)
        flags = rng.choice([0, 0, 0, 1, 2, 0o1101, 0o2000001])
        fd = FdInfo(num=3, type=FdType.FILE, name=name, flags=flags)
        params = {"fd": 3, "name": name, "flags": flags, "mode": 0, "dev": 0, "ino": 0}
        if etype == "openat":
            params["dirfd"] = -100
        res = 3
    elif etype in ("read", "write"):
        fd = FdInfo(num=4, type=FdType.FILE, name=rng.choice(FILES), flags=1)
        params = {"res": 512, "data": b"x" * 16, "fd": 4, "size": 512}
        res = 512
    elif etype == "close":
        fd = FdInfo(num=4, type=FdType.FILE, name=rng.choice(FILES), flags=1)
        params = {"res": 0, "fd": 4}
    elif etype in ("connect", "accept", "sendto", "socket"):
        dport = rng.choice([443, 80, 22, 5432, 4444])
        tup = SockTuple("AF_INET", "10.0.0.2", 40000, "93.184.216.34", dport)
        fd = FdInfo(num=5, type=FdType.IPV4, name=f"10.0.0.2:40000->93.184.216.34:{dport}", l4proto="tcp",
                    sip="10.0.0.2", sport=40000, dip="93.184.216.34", dport=dport, connected=True)
        params = {
            "connect": {"res": 0, "tuple": tup, "fd": 5, "addr": SockAddr("AF_INET", "93.184.216.34", dport)},
            "accept": {"fd": 5, "tuple": tup, "queuepct": 0, "queuelen": 0, "queuemax": 128},
            "sendto": {"res": 64, "data": b"q" * 16, "fd": 5, "size": 64, "tuple": tup},
            "socket": {"fd": 5, "domain": 2, "type": 1, "proto": 6, "flags": 0},
        }[etype]
        res = 5 if etype in ("accept", "socket") else 0
    elif etype == "execve":
        comm, path, args = rng.choice(PROGRAMS)
        params = {"res": 0, "exe": path, "args": list(args), "tid": t.tid, "pid": t.pid, "ptid": t.ptid,
                  "cwd": t.cwd, "comm": comm, "tty": t.tty, "loginuid": t.loginuid, "flags": 1, "uid": t.uid,
                  "gid": 0, "trusted_exepath": path, "filename": path}
    elif etype == "rename":
        params = {"res": 0, "oldpath": "/tmp/build/x.o", "newpath": "/tmp/build/y.o"}
    elif etype == "unlink":
        params = {"res": 0, "path": "/tmp/build/x.o"}
    elif etype == "unlinkat":
        params = {"res": 0, "dirfd": -100, "name": "/tmp/build/x.o", "flags": 0}
    elif etype == "setuid":
        params = {"res": 0, "uid": rng.choice([0, 1000])}
    elif etype == "clone":
        res = 100_000 + num
        params = {"res": res, "exe": t.exe, "args": list(t.args), "tid": t.tid, "pid": t.pid, "ptid": t.ptid,
                  "cwd": t.cwd, "comm": t.comm, "flags": 0x1200011, "uid": t.uid, "gid": 0}
    elif etype == "mmap":
        params = {"res": 0, "addr": 0, "length": 4096, "prot": 1, "flags": 2, "fd": -1, "offset": 0}
    return Event(num=num, ts=1_700_000_000_000_000_000 + num * 1000, type=etype, tid=t.tid, params=params,
                 res=res, pid=t.pid, thread=t, fd=fd)


def make_pool(size: int, seed: int = 7) -> list[Event]:
    return make_stream(size, seed)[1]


def make_stream(size: int, seed: int = 7) -> tuple[list[ThreadInfo], list[Event]]:
    """The threads (initial snapshot) and ``size`` events by them."""
    rng = random.Random(seed)
    threads = make_threads(rng, 400)
    kinds = [k for k, w in MIX for _ in range(w)]
    return threads, [make_event(rng, i + 1, rng.choice(kinds), rng.choice(threads)) for i in range(size)]


def end_to_end(ruleset: Ruleset, size: int) -> tuple[float, int]:
    """Seconds for the whole pipeline (JSONL replay -> state -> engine) on a generated recording, and alerts."""
    import os
    import tempfile

    from syswarden.events.jsonl import JsonlWriter
    from syswarden.service.pipeline import open_pipeline
    from syswarden.testing import CapturingOutput

    threads, events = make_stream(size, seed=11)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.jsonl")
        with JsonlWriter(path, hostname="bench") as writer:
            for t in threads:
                writer.write_thread(t)
            for ev in events:
                ev.thread = ev.fd = None       # state attaches them from the recording, as in production
                writer.write_event(ev)
        out = CapturingOutput()
        pipeline = open_pipeline(ruleset, [out], hostname="bench", path=path)
        start = time.perf_counter()
        pipeline.run()
        return time.perf_counter() - start, len(out.alerts)


def run(engine: Engine, pool: list[Event], total: int) -> float:
    """Seconds to process ``total`` events (the pool replayed in order)."""
    process = engine.process
    start = time.perf_counter()
    done = 0
    while done < total:
        batch = pool[: total - done]
        for ev in batch:
            process(ev)
        done += len(batch)
    return time.perf_counter() - start


def latencies(engine: Engine, pool: list[Event], n: int) -> list[float]:
    process = engine.process
    clock = time.perf_counter_ns
    out = []
    for ev in pool[:n]:
        t0 = clock()
        process(ev)
        out.append((clock() - t0) / 1000.0)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--pool", type=int, default=200_000)
    parser.add_argument("--rules", action="append", default=None)
    parser.add_argument("--e2e", type=int, default=200_000,
                        help="events in the end-to-end JSONL replay run (0 to skip)")
    args = parser.parse_args()
    result = load_rules(args.rules or [STOCK])
    if result.ruleset is None:
        print(result.as_verbose(), file=sys.stderr)
        return 2
    ruleset = result.ruleset
    print(f"ruleset: {len(ruleset.active)} active rules, {len(ruleset.buckets)} event-type buckets, "
          f"{len(ruleset.catch_all)} catch-all", file=sys.stderr)
    print(f"building a pool of {args.pool} events ...", file=sys.stderr)
    pool = make_pool(args.pool)
    indexed = Engine(ruleset, hostname="bench")
    flat = Engine(ruleset, hostname="bench", indexed=False)
    t_idx = run(indexed, pool, args.events)
    print(f"indexed done ({t_idx:.1f} s); running without the index ...", file=sys.stderr)
    t_flat = run(flat, pool, args.events)
    lat = latencies(Engine(ruleset, hostname="bench"), pool, min(len(pool), 200_000))
    q = statistics.quantiles(lat, n=1000)
    print(f"events:                 {args.events}")
    print(f"alerts (indexed):       {sum(indexed.counts.values())}   (unindexed: {sum(flat.counts.values())})")
    print(f"with event-type index:  {args.events / t_idx:>12,.0f} events/s")
    print(f"without index:          {args.events / t_flat:>12,.0f} events/s")
    print(f"index speed-up:         {t_flat / t_idx:>12.2f} x")
    print(f"latency us p50/p90/p99/p99.9/max: {q[499]:.2f} / {q[899]:.2f} / {q[989]:.2f} / {q[998]:.2f} / "
          f"{max(lat):.2f}")
    if args.e2e:
        print(f"end to end: writing and replaying a {args.e2e}-event JSONL recording ...", file=sys.stderr)
        secs, alerts = end_to_end(ruleset, args.e2e)
        print(f"pipeline (replay+state+engine): {args.e2e / secs:>10,.0f} events/s ({alerts} alerts); "
              f"engine share of pipeline time: {100 * (args.e2e / secs) / (args.events / t_idx):.0f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
