"""QueuedOutput: the engine never waits on a sink; order, retries, overflow and the drain deadline are counted."""
from __future__ import annotations

import threading
import time

from syswarden.errors import OutputError
from syswarden.outputs.fanout import Fanout, render_stats
from syswarden.outputs.queue import AlertRejectedError, Backoff, QueuedOutput
from syswarden.rules.alert import Alert

from tests.outputs.helpers import numbered

FAST = Backoff(initial=0.01, maximum=0.05)


class GateSink:
    """Fails (or blocks) while ``down`` is set; records what it delivered."""

    def __init__(self) -> None:
        self.got: list[int] = []
        self.down = threading.Event()
        self.block = threading.Event()
        self.reject: set[int] = set()
        self.closed = False
        self.reopened = 0

    def emit(self, alert: Alert) -> None:
        n = alert.output_fields["n"]
        while self.block.is_set():
            time.sleep(0.01)
        if self.down.is_set():
            raise OutputError("down")
        if n in self.reject:
            raise AlertRejectedError("no")
        self.got.append(n)

    def reopen(self) -> None:
        self.reopened += 1

    def close(self) -> None:
        self.closed = True


def wait_for(cond, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


def test_order_kept_across_an_outage() -> None:
    """Alerts queued while the sink fails arrive in order once it is back; failures are counted."""
    sink = GateSink()
    sink.down.set()
    out = QueuedOutput("gate", sink, capacity=100, backoff=FAST, log=lambda m: None)
    for i in range(50):
        out.emit(numbered(i))
    time.sleep(0.1)
    assert sink.got == [] and out.stats.failures >= 1
    sink.down.clear()
    out.close(time.monotonic() + 10)
    assert sink.got == list(range(50))
    assert out.stats.delivered == 50 and out.stats.lost == 0 and sink.closed


def test_emit_never_blocks_on_a_stuck_sink() -> None:
    """A sink that hangs does not slow emit; the bound holds and the overflow is counted (drop_newest)."""
    sink = GateSink()
    sink.block.set()
    out = QueuedOutput("stuck", sink, capacity=10, log=lambda m: None)
    out.emit(numbered(0))
    wait_for(lambda: out.stats.depth == 0)          # alert 0 is in flight, stuck in the sink
    start = time.monotonic()
    for i in range(1, 1000):
        out.emit(numbered(i))
    assert time.monotonic() - start < 1.0
    assert out.stats.depth <= 10
    sink.block.clear()
    out.close(time.monotonic() + 10)
    # the first alert was in flight, 10 more queued: everything else overflowed
    assert out.stats.delivered == 11 and out.stats.dropped == 989
    assert sink.got == list(range(11))


def test_drop_oldest_keeps_the_newest() -> None:
    sink = GateSink()
    sink.block.set()
    out = QueuedOutput("old", sink, capacity=5, overflow="drop_oldest", log=lambda m: None)
    for i in range(100):
        out.emit(numbered(i))
        if i == 0:
            wait_for(lambda: out.stats.depth == 0)     # alert 0 is in flight
    sink.block.clear()
    out.close(time.monotonic() + 10)
    assert sink.got == [0, 95, 96, 97, 98, 99]
    assert out.stats.dropped == 94 and out.stats.delivered + out.stats.lost == 100


def test_rejected_alerts_are_counted_and_skipped() -> None:
    sink = GateSink()
    sink.reject = {3, 4}
    out = QueuedOutput("rej", sink, capacity=100, log=lambda m: None)
    for i in range(10):
        out.emit(numbered(i))
    out.close(time.monotonic() + 10)
    assert sink.got == [0, 1, 2, 5, 6, 7, 8, 9] and out.stats.rejected == 2


def test_deadline_counts_what_is_left() -> None:
    """A dead sink at shutdown: close returns at the deadline and every alert is counted undelivered."""
    sink = GateSink()
    sink.down.set()
    out = QueuedOutput("dead", sink, capacity=100, backoff=FAST, log=lambda m: None)
    for i in range(20):
        out.emit(numbered(i))
    start = time.monotonic()
    out.close(time.monotonic() + 0.3)
    assert time.monotonic() - start < 2.0
    assert out.stats.undelivered == 20 and out.stats.delivered == 0
    out.emit(numbered(99))                          # after close: counted, not queued
    assert out.stats.undelivered == 21 and out.stats.enqueued == 21


def test_fanout_drains_in_parallel_and_reopens() -> None:
    good, dead = GateSink(), GateSink()
    dead.down.set()
    fan = Fanout([QueuedOutput("good", good, backoff=FAST, log=lambda m: None),
                  QueuedOutput("dead", dead, backoff=FAST, log=lambda m: None)], drain_timeout=0.5)
    for i in range(5):
        fan.emit(numbered(i))
    fan.reopen()
    start = time.monotonic()
    fan.close()
    assert time.monotonic() - start < 2.0
    assert good.got == list(range(5)) and good.reopened == 1
    table = render_stats(fan.stats())
    assert "good" in table and "dead" in table
    good_row = next(line for line in table.splitlines() if "good" in line).split()
    assert good_row[1:3] == ["0/10000", "5"]
