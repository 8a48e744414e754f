#!/usr/bin/env python3
"""Replay speed: events per second for syswarden and for `sysdig -r` on the same large capture and filter.

The capture is built by writing (ScapWriter) the events of a real capture many times over, timestamps shifted
so they stay ordered; both tools then read the whole file and evaluate the same filter on every event.
syswarden is measured as `ScapSource -> State -> compiled filter` twice: asking the source only for the event
types the filter and state need (what `monitor --replay` does: the others are numbered but not decoded), and
for every type (what `capture --read` does); sysdig as `sysdig -r FILE -p '*%evt.num' FILTER > /dev/null`.
Events per second count every event of the file. Figures are ratios measured in this run. `--profile` prints
the top cProfile entries of the syswarden loop instead.

Usage:  .venv/bin/python bench/replay.py [--repeat N] [--capture NAME] [--filter EXPR] [--profile all|types]
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
DEFAULT_FILTER = ("evt.type in (open, openat, connect, sendto, recvfrom, read, write) and evt.dir = < "
                  "and fd.name contains /")


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


def run_syswarden(path: Path, text: str, narrow: bool = True) -> tuple[float, int, int]:
    """(seconds, events in the file, events matched); ``narrow``: ask the source for the needed types only."""
    from syswarden.rules.compiler import compile_condition
    from syswarden.rules.filter.parser import parse
    from syswarden.service.selection import select_events
    from syswarden.sources.base import SourceConfig
    from syswarden.sources.scap.reader import ScapSource
    from syswarden.state import State

    start = time.perf_counter()
    flt = compile_condition(parse(text))
    types = flt.evttypes
    src = ScapSource(select_events(SourceConfig(path=str(path)), flt if narrow else None))   # as the pipeline asks
    state = State()
    state.seed(src.initial_threads())
    matched = 0
    for event in src.events():
        event = state.apply(event)
        if not event.num or event.state_only or (types is not None and event.type not in types):
            continue
        if flt.predicate(event):
            matched += 1
    return time.perf_counter() - start, src.stats.events, matched


def profile(path: Path, text: str, narrow: bool, top: int = 20) -> None:
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.runcall(run_syswarden, path, text, narrow)
    pstats.Stats(prof).sort_stats("tottime").print_stats(top)


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
    ap.add_argument("--profile", choices=("all", "types"), help="profile the syswarden loop (every type, or the "
                    "needed types only) instead of comparing")
    args = ap.parse_args()
    if shutil.which("sysdig") is None and not args.profile:
        raise SystemExit("sysdig is not installed: it is the peer this bench compares against")
    with tempfile.TemporaryDirectory(prefix="syswarden-bench-") as tmp:
        big = Path(tmp) / "big.scap"
        print(f"building {big.name} from {args.capture} x{args.repeat} ...", file=sys.stderr)
        total = build(CAPTURES / args.capture, big, args.repeat)
        size = big.stat().st_size
        if args.profile:
            profile(big, args.filter, args.profile == "types")
            return
        sd_time, sd_matched = run_sysdig(big, args.filter)
        for narrow in (True, False):      # warm-up: first-use imports and tables are not replay speed
            run_syswarden(CAPTURES / args.capture, args.filter, narrow)
        rows = [("syswarden", *run_syswarden(big, args.filter, True)),
                ("  all types", *run_syswarden(big, args.filter, False))]
    print(f"capture: {args.capture} x{args.repeat} = {total} events, {size / 1e6:.1f} MB")
    print(f"filter:  {args.filter}")
    print(f"{'tool':<12} {'seconds':>8} {'events/s':>10} {'matched':>8}")
    print(f"{'sysdig':<12} {sd_time:>8.2f} {total / sd_time:>10.0f} {sd_matched:>8}")
    for name, sw_time, sw_seen, sw_matched in rows:
        print(f"{name:<12} {sw_time:>8.2f} {sw_seen / sw_time:>10.0f} {sw_matched:>8}")
    for name, sw_time, sw_seen, _ in rows:
        print(f"ratio {name.strip()}/sysdig events/s: {(sw_seen / sw_time) / (total / sd_time):.3f}"
              f"  (sysdig is {sw_time / sd_time:.1f}x faster)")


if __name__ == "__main__":
    main()
