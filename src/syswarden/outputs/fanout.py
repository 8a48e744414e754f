"""The one ``Output`` the pipeline sees: every alert to every queued output; closing drains them together.

``close()`` gives every output the same deadline (``drain_timeout`` seconds from the moment it is called), so
a dead HTTP server cannot eat the time the file output needed. ``swap`` replaces the outputs (a SIGHUP reload
whose output settings changed) and returns the old ones for the caller to drain. ``summary()`` is the table
the run summary and SIGUSR1 print: queue bound, delivered, failed attempts and every undelivered alert.
"""
from __future__ import annotations

import time
from collections.abc import Sequence

from syswarden.escaping import escape_text
from syswarden.outputs.queue import OutputStats, QueuedOutput
from syswarden.rules.alert import Alert


class Fanout:
    """Fans alerts out to ``outputs`` (each behind its own queue)."""

    def __init__(self, outputs: Sequence[QueuedOutput], *, drain_timeout: float = 5.0) -> None:
        self.outputs = list(outputs)
        self.drain_timeout = drain_timeout

    def emit(self, alert: Alert) -> None:
        for out in self.outputs:
            out.emit(alert)

    def reopen(self) -> None:
        for out in self.outputs:
            out.reopen()

    def close(self) -> None:
        drain(self.outputs, time.monotonic() + self.drain_timeout)

    def swap(self, outputs: Sequence[QueuedOutput]) -> list[QueuedOutput]:
        """Send alerts to ``outputs`` from now on; the previous ones are returned, still running."""
        old, self.outputs = self.outputs, list(outputs)
        return old

    def stats(self) -> list[OutputStats]:
        return [out.snapshot() for out in self.outputs]

    def summary(self) -> str:
        return render_stats(self.stats())


def drain(outputs: Sequence[QueuedOutput], deadline: float) -> None:
    """Let every output drain at once until ``deadline``; what is left is counted undelivered."""
    for out in outputs:
        out.begin_close(deadline)
    for out in outputs:
        out.join(deadline)


def render_stats(stats: Sequence[OutputStats]) -> str:
    """An aligned table: one row per output."""
    if not stats:
        return "Outputs:          none"
    header = ("output", "queue", "delivered", "failed", "dropped", "rejected", "undelivered", "")
    rows = [header]
    for s in stats:
        extra = " ".join(f"{k}={v}" for k, v in sorted(s.extra.items()) if v)
        rows.append((escape_text(s.name), f"{s.depth}/{s.capacity}", str(s.delivered), str(s.failures),
                     str(s.dropped), str(s.rejected), str(s.undelivered), extra))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["Outputs:"]
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:-1], widths[1:-1])] + [row[-1]]
        lines.append("  " + "  ".join(cells).rstrip())
    return "\n".join(lines)
