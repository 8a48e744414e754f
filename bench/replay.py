#!/usr/bin/env python3
"""Replay speed: events per second for syswarden and for `sysdig -r` on the same large capture and filter.

The capture is built by writing (ScapWriter) the events of a real capture many times over, timestamps shifted
so they stay ordered; both tools then read the whole file and evaluate the same filter on every event.
syswarden is measured as `ScapSource -> State -> compiled filter` (what `capture --read` and `monitor --replay`
do per event); sysdig as `sysdig -r FILE -p '*%evt.num' FILTER > /dev/null`. Figures are ratios measured in
this run.

Usage:  .venv/bin/python bench/replay.py [--repeat N] [--capture NAME] [--filter EXPR]
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CAPTURES = REPO / ".." / "shared" / "anchors" / "falco" / "captures"
DEFAULT_FILTER = "evt.type in (open, openat, connect, sendto, recvfrom, read, write) and evt.dir = < and fd.name contains /"


def build(source: Path, out: Path, repeat: int) -> int:
    """Write ``repeat`` copies of ``source``'s events into ``out``; return how many events it holds."""
    from syswarden.sources.base import SourceConfig
    from syswarden.sources.scap.reader import ScapSource
    from syswarden.sources.scap.writer import ScapWriter

    src = ScapSource(SourceConfig(path=str(source)))
    events = [e for e in src.events() if e.num]
    span = events[-1].ts - events[0].ts + 1_000
    written = 0
    with ScapWriter(str(out), legacy_enter=False) as w:
        w.write_threads(src.initial_threads(), users=src.meta.users, groups=src.meta.groups,
                        interfaces=src.meta.interfaces)
        for i in range(repeat):
            for e in events:
                w.write_event(replace(e, ts=e.ts + i * span))
                written += 1
            print(f"  wrote copy {i + 1}/{repeat}", file=sys.stderr)
    return written - w.skipped


def run_syswarden(path: Path, text: str) -> tuple[float, int, int]:
    from syswarden.rules.compiler import compile_condition
    from syswarden.rules.filter.parser import parse
    from syswarden.sources.base import SourceConfig
    from syswarden.sources.scap.reader import ScapSource
    from syswarden.state import State

    start = time.perf_counter()
    flt = compile_condition(parse(text))
    types = flt.evttypes
    src = ScapSource(SourceConfig(path=str(path)))
    state = State()
    state.seed(src.initial_threads())
    seen = matched = 0
    for event in src.events():
        event = state.apply(event)
        if not event.num:
            continue
        seen += 1
        if event.state_only or (types is not None and event.type not in types):
            continue
        if flt.predicate(event):
            matched += 1
    return time.perf_counter() - start, seen, matched


def run_sysdig(path: Path, text: str) -> tuple[float, int]:
    start = time.perf_counter()
    proc = subprocess.run(["sysdig", "-r", str(path), "-p", "*%evt.num", text], capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"sysdig failed: {proc.stderr.strip()[:300]}")
    return elapsed, sum(1 for line in proc.stdout.splitlines() if line.strip())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=10, help="copies of the capture's events (default 10)")
    ap.add_argument("--capture", default="sysdig-inspect_502Error.scap", help="capture under shared/anchors")
    ap.add_argument("--filter", default=DEFAULT_FILTER, help="filter both tools evaluate")
    args = ap.parse_args()
    if shutil.which("sysdig") is None:
        raise SystemExit("sysdig is not installed: it is the peer this bench compares against")
    with tempfile.TemporaryDirectory(prefix="syswarden-bench-") as tmp:
        big = Path(tmp) / "big.scap"
        print(f"building {big.name} from {args.capture} x{args.repeat} ...", file=sys.stderr)
        total = build(CAPTURES / args.capture, big, args.repeat)
        size = big.stat().st_size
        sd_time, sd_matched = run_sysdig(big, args.filter)
        sw_time, sw_seen, sw_matched = run_syswarden(big, args.filter)
    print(f"capture: {args.capture} x{args.repeat} = {total} events, {size / 1e6:.1f} MB")
    print(f"filter:  {args.filter}")
    print(f"{'tool':<10} {'seconds':>8} {'events/s':>10} {'matched':>8}")
    print(f"{'sysdig':<10} {sd_time:>8.2f} {total / sd_time:>10.0f} {sd_matched:>8}")
    print(f"{'syswarden':<10} {sw_time:>8.2f} {sw_seen / sw_time:>10.0f} {sw_matched:>8}")
    print(f"ratio syswarden/sysdig events/s: {(sw_seen / sw_time) / (total / sd_time):.3f}"
          f"  (sysdig is {sw_time / sd_time:.1f}x faster)")


if __name__ == "__main__":
    main()
