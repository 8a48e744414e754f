"""Benchmark: the state engine (and the JSONL replay reader) against sysdig's libsinsp on the same capture.

Every run does the whole file (sysdig parses the hidden state-only events too), so speeds compare directly.
Prints events per second for:
  sysdig   — ``sysdig -r CAPTURE -p FIELDS`` (reading, libsinsp state, formatting proc/fd fields), the peer;
  scap     — syswarden's scap reader alone;
  scap+st  — the scap reader feeding ``State.apply`` (threads, fds, paths);
  jsonl+st — the same events as a JSONL replay, read and fed to ``State.apply``;
and each as a ratio to sysdig measured in the same run. Usage: ``python bench/state.py [CAPTURE] [REPEAT]``.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from syswarden.events.event import Event, ThreadInfo
from syswarden.events.jsonl import JsonlReader, JsonlWriter
from syswarden.sources.base import SourceConfig
from syswarden.sources.scap.reader import ScapSource
from syswarden.state import State

CAPTURES = Path(__file__).resolve().parents[1] / ".." / "shared" / "anchors" / "falco" / "captures"
FIELDS = "%evt.num %proc.name %proc.pname %fd.name %user.uid"


def best(fn: Callable[[], int], repeat: int) -> tuple[int, float]:
    """(events, best wall seconds) over ``repeat`` runs."""
    times, n = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        n = fn()
        times.append(time.perf_counter() - start)
    return n, min(times)


def run_sysdig(capture: Path) -> int:
    out = subprocess.run(["sysdig", "-r", str(capture), "-p", "*" + FIELDS], capture_output=True, text=True,
                         check=True).stdout
    return out.count("\n")


def run_scap(capture: Path, with_state: bool) -> int:
    source = ScapSource(SourceConfig(path=str(capture)))
    state = State()
    state.seed(source.initial_threads())
    n = 0
    for event in source.events():
        if with_state:
            state.apply(event)
        n += 1
    return n


def to_jsonl(capture: Path, path: Path) -> None:
    source = ScapSource(SourceConfig(path=str(capture)))
    with JsonlWriter(path, source.hostname) as writer:
        for thread in source.initial_threads():
            writer.write_thread(thread)
            for fd in thread.fds.values():
                writer.write_fd(thread.tid, fd)
        for event in source.events():
            writer.write_event(event)


def run_jsonl(path: Path) -> int:
    state, n = State(), 0
    with JsonlReader(path) as reader:
        threads: dict[int, ThreadInfo] = {}
        for rec in reader:
            if isinstance(rec, Event):
                if threads:
                    state.seed(threads.values())
                    threads = {}
                state.apply(rec)
                n += 1
            elif isinstance(rec, ThreadInfo):
                threads[rec.tid] = rec
            else:
                threads[rec.tid].fds[rec.fd.num] = rec.fd
    return n


def main() -> None:
    capture = CAPTURES / (sys.argv[1] if len(sys.argv) > 1 else "sysdig-inspect_502Error.scap")
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    if shutil.which("sysdig") is None or not capture.exists():
        sys.exit(f"needs sysdig and {capture}")
    print(f"capture: {capture.name}", file=sys.stderr)
    _, t_peer = best(lambda: run_sysdig(capture), repeat)
    rows = [("sysdig (peer)", run_scap(capture, False), t_peer)]   # sysdig parses every event, hidden ones too
    rows.append(("scap reader", *best(lambda: run_scap(capture, False), repeat)))
    rows.append(("scap + state", *best(lambda: run_scap(capture, True), repeat)))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "replay.jsonl"
        to_jsonl(capture, path)
        rows.append(("jsonl + state", *best(lambda: run_jsonl(path), repeat)))
    width = max(len(r[0]) for r in rows)
    print(f"{'run'.ljust(width)}  {'events':>8}  {'seconds':>8}  {'events/s':>10}  {'speed vs sysdig':>15}")
    for name, n, t in rows:
        print(f"{name.ljust(width)}  {n:>8}  {t:>8.3f}  {n / t:>10.0f}  {t_peer / t:>14.2f}x")


if __name__ == "__main__":
    main()
