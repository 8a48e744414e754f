"""HTTP output end to end: while the server is down the engine's event rate stays what it is with a healthy
output; when it comes up every alert arrives in order; the queue bound is respected and the overflow counted.

The rate is events per CPU second of the engine's thread (the one that runs the pipeline; the outputs' workers
run beside it on their own threads: work a dead sink pushed onto the engine would show here), from interleaved
runs of each configuration, as the machine is shared (bench/outputs.py has wall-clock figures). The baseline
is the same alerts to a file output: any output costs the engine the formatting of every alert (5-10 % of its
CPU here with one alert per 15 events, file or HTTP alike), which is not the dead server's doing; against no
output at all the rate only has to stay within 20 %, far from what a sink blocking the engine would cost. That
``emit`` never blocks the engine on a stuck sink is tests/outputs/test_queue.py's."""
from __future__ import annotations

import statistics
import time
from pathlib import Path

import pytest

from syswarden.rules.loader import load_rules
from syswarden.service.config import load_config
from syswarden.service.delivery import build_fanout
from syswarden.service.pipeline import open_pipeline

from tests.servers import RecordingHTTP, free_port
from tests.service.live import kill_if_running, output_row, recording, rules_file, start_monitor

pytestmark = [pytest.mark.slow]


def _cpu_rate(rec: Path, rules: Path, options: list[str]) -> float:
    """Events per CPU second of the engine's thread for one replay with the outputs ``options`` configure."""
    ruleset = load_rules([rules]).ruleset
    assert ruleset is not None
    cfg = load_config(None, ["stdout_output.enabled=false", *options])
    fanout = build_fanout(cfg, log=lambda m: None)
    pipeline = open_pipeline(ruleset, [fanout], path=str(rec))
    start = time.thread_time()
    summary = pipeline.run()          # closes the fanout: waiting for its drain costs this thread no CPU
    cpu = time.thread_time() - start
    assert summary.alerts == 2000
    return summary.events / cpu


def _median_ratio(rec: Path, rules: Path, options: list[str], baseline: list[str]) -> float:
    """The median of nine ratios of adjacent runs, alternating which goes first: drift on this shared machine
    moves both runs of a pair alike."""
    ratios = []
    for i in range(9):
        if i % 2:
            measured, base = _cpu_rate(rec, rules, options), _cpu_rate(rec, rules, baseline)
        else:
            base, measured = _cpu_rate(rec, rules, baseline), _cpu_rate(rec, rules, options)
        ratios.append(measured / base)
    return statistics.median(ratios)


def test_engine_rate_unaffected_by_a_dead_http_server(tmp_path: Path) -> None:
    """CPU time rather than wall time; a dead HTTP server against a healthy file output (the same alerts
    formatted), and against no output at all."""
    rec = recording(tmp_path / "r.jsonl", 30_000, every=15)
    rules = rules_file(tmp_path / "r.yaml", "/tmp/hit/")
    dead = ["http_output.enabled=true", f"http_output.url=http://127.0.0.1:{free_port()}/",
            "outputs_queue.drain_timeout=0.1s"]
    healthy = ["file_output.enabled=true", f"file_output.filename={tmp_path / 'alerts.txt'}"]
    # A sink that blocked the engine would cost far more than 5% every time; a noisy neighbour costs it once.
    # Up to three measurements: the claim holds if one of them shows it.
    medians: list[float] = []
    for _attempt in range(3):
        medians.append(_median_ratio(rec, rules, dead, healthy))
        if medians[-1] >= 0.95:
            break
    assert max(medians) >= 0.95, medians
    assert _median_ratio(rec, rules, dead, []) >= 0.8


def test_down_then_up_in_order_with_overflow(tmp_path: Path) -> None:
    """3000 alerts, queue bound 1000, server down at first: what the queue held arrives in order once the server
    is up, the rest is counted as overflow, and delivered + dropped is every alert."""
    rec = recording(tmp_path / "r.jsonl", 30_000, every=10)
    rules = rules_file(tmp_path / "r.yaml", "/tmp/hit/")
    server = RecordingHTTP(free_port())
    proc = start_monitor("--replay", str(rec), "-r", str(rules), "--option", "stdout_output.enabled=false",
                         "--option", "http_output.enabled=true", "--option", f"http_output.url={server.url}",
                         "--option", "outputs_queue.capacity=1000", "--option", "outputs_queue.drain_timeout=20s")
    try:
        time.sleep(2.0)              # the replay is over by now; the queue is full and retrying
        server.start()
        _, err = proc.communicate(timeout=120)
    finally:
        kill_if_running(proc)
        server.stop()
    assert proc.returncode == 0, err
    row = output_row(err, "http:")
    got = [int(b["output_fields"]["fd.name"].rsplit("/", 1)[1]) for b in server.bodies]
    assert got == sorted(got) and len(got) == row["delivered"]
    # at least the bound arrives (more when the replay was still running as the server came up and the queue
    # drained and took more, or when the worker held one in flight beside a full queue)
    assert row["delivered"] + row["dropped"] == 3000 and row["dropped"] >= 1 and row["delivered"] >= 1000
    assert row["undelivered"] == 0 and row["failed"] >= 1
    assert all(b["hostname"] == "rec-host" and b["rule"] == "Test file opened" for b in server.bodies)
