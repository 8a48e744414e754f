"""A bounded queue and a worker thread in front of every sink, so a slow or dead sink never stalls detection.

The engine calls ``QueuedOutput.emit``: it appends the alert to a bounded deque under a lock and returns; it
never waits on the sink. One worker thread per output takes alerts in order and hands them to the sink:

* the sink raises ``OutputError`` for a failure worth retrying (server down, disk full, program died): the
  worker keeps the alert, waits with exponential backoff, and tries it again, so order is kept;
* the sink raises ``AlertRejectedError`` when the far end refused this one alert for good (an HTTP 4xx): it is
  counted as ``rejected`` and the worker moves on;
* when the queue is full the overflow policy decides: ``drop_newest`` (Falco's: the arriving alert is dropped)
  or ``drop_oldest`` (the oldest waiting one is); either way ``dropped`` counts it.

``close(deadline)`` drains: the worker keeps delivering until the queue is empty or the deadline passes; what is
left then (the alert in flight included) is counted ``undelivered``. Every alert handed to ``emit`` ends in
exactly one of ``delivered``, ``dropped``, ``rejected``, ``undelivered`` (or still queued while running), so
nothing is lost silently. Sink methods are only ever called from the worker thread (``reopen`` is a request
the worker carries out before its next delivery).
"""
from __future__ import annotations

import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from syswarden.errors import OutputError
from syswarden.escaping import escape_text
from syswarden.rules.alert import Alert

Overflow = Literal["drop_newest", "drop_oldest"]
OVERFLOW_POLICIES: tuple[Overflow, ...] = ("drop_newest", "drop_oldest")
DEFAULT_CAPACITY = 10_000


class AlertRejectedError(OutputError):
    """The sink's far end refused this alert for good (retrying the same bytes cannot help)."""

    code = "output-rejected"


class Sink(Protocol):
    """What a worker drives: ``emit`` delivers one alert or raises; ``poll`` (optional) runs when idle."""

    def emit(self, alert: Alert) -> None: ...

    def reopen(self) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Backoff:
    """Waits between retries: ``initial`` seconds, times ``factor`` after each failure, at most ``maximum``."""

    initial: float = 0.1
    maximum: float = 5.0
    factor: float = 2.0

    def delays(self) -> Callable[[], float]:
        current = [self.initial]

        def next_delay() -> float:
            delay = current[0]
            current[0] = min(self.maximum, delay * self.factor)
            return delay
        return next_delay


@dataclass(slots=True)
class OutputStats:
    """Per-output counters (read by the summary, SIGUSR1 and the metrics endpoint from other threads)."""

    name: str
    capacity: int
    overflow: Overflow
    enqueued: int = 0
    delivered: int = 0
    failures: int = 0          # failed attempts (each retry counts)
    dropped: int = 0           # overflow of the queue
    rejected: int = 0          # refused for good by the far end
    undelivered: int = 0       # still queued or in flight when the drain deadline passed
    depth: int = 0
    last_error: str = ""
    extra: dict[str, int] = field(default_factory=dict)    # sink-specific counters (spooled, restarts ...)

    @property
    def lost(self) -> int:
        """Alerts that will never reach this output."""
        return self.dropped + self.rejected + self.undelivered


class QueuedOutput:
    """An ``Output`` (emit/reopen/close) that queues alerts for ``sink`` and delivers them on its own thread."""

    def __init__(self, name: str, sink: Sink, *, capacity: int = DEFAULT_CAPACITY,
                 overflow: Overflow = "drop_newest", backoff: Backoff = Backoff(),
                 idle_interval: float = 0.5, log: Callable[[str], None] | None = None) -> None:
        if capacity < 1:
            raise ValueError("an output queue holds at least one alert")
        self.name = name
        self.sink = sink
        self.stats = OutputStats(name, capacity, overflow)
        self._queue: deque[Alert] = deque()
        self._cond = threading.Condition()
        self._backoff = backoff
        self._idle = idle_interval
        self._log = log or _stderr
        self._closing = False
        self._closed = threading.Event()        # set with _closing: wakes a worker sleeping between retries
        self._deadline = float("inf")
        self._reopen = False
        self._in_flight = False
        self._thread = threading.Thread(target=self._run, name=f"syswarden-output-{name}", daemon=True)
        self._thread.start()

    # -- the engine's side ---------------------------------------------------------------------------------

    def emit(self, alert: Alert) -> None:
        """Queue ``alert``; never blocks on the sink. A full queue applies the overflow policy."""
        stats = self.stats
        with self._cond:
            stats.enqueued += 1
            if self._closing:
                stats.undelivered += 1
                return
            if len(self._queue) >= stats.capacity:
                stats.dropped += 1
                if stats.overflow == "drop_newest":
                    return
                self._queue.popleft()
            self._queue.append(alert)
            stats.depth = len(self._queue)
            self._cond.notify()

    def reopen(self) -> None:
        """Ask the worker to reopen the sink (log rotation) before its next delivery."""
        with self._cond:
            self._reopen = True
            self._cond.notify()

    def close(self, deadline: float | None = None) -> None:
        """Drain until the queue is empty or ``deadline`` (``time.monotonic()``) passes, then close the sink.

        What is still queued or in flight at the deadline is counted ``undelivered``.
        """
        self.begin_close(deadline if deadline is not None else float("inf"))
        self.join(deadline)

    def join(self, deadline: float | None) -> None:
        """Wait for the worker until ``deadline``; count what it could not deliver by then."""
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        self._thread.join(remaining)
        if self._thread.is_alive():
            with self._cond:
                self.stats.undelivered += len(self._queue) + (1 if self._in_flight else 0)
                self._queue.clear()
                self._in_flight = False
                self.stats.depth = 0

    def begin_close(self, deadline: float) -> None:
        """Start draining without waiting (``join`` waits); lets several outputs drain at once."""
        with self._cond:
            self._closing = True
            self._deadline = deadline
            self._cond.notify()
        self._closed.set()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # -- the worker ----------------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    while not self._queue and not self._closing and not self._reopen:
                        if not self._cond.wait(self._idle):
                            break
                    reopen, self._reopen = self._reopen, False
                    if not self._queue and self._closing:
                        break
                    alert = self._queue.popleft() if self._queue else None
                    self._in_flight = alert is not None
                    self.stats.depth = len(self._queue)
                if reopen:
                    self._call(self.sink.reopen)
                if alert is None:
                    self._call_poll()
                    continue
                self._deliver(alert)
            self._call_poll(final=True)
        finally:
            self._call(self.sink.close)

    def _deliver(self, alert: Alert) -> None:
        delay = self._backoff.delays()
        while True:
            try:
                self.sink.emit(alert)
            except AlertRejectedError as exc:
                self._finish(rejected=True, error=str(exc))
                return
            except (OutputError, OSError, ValueError) as exc:
                # ValueError: an encoding error a sink might still hit; OSError: one a sink forgot to wrap.
                self._note_failure(exc)
                if self._wait_or_give_up(delay()):
                    with self._cond:
                        if self._in_flight:
                            self.stats.undelivered += 1
                            self._in_flight = False
                    return
                continue
            self._finish()
            return

    def _finish(self, *, rejected: bool = False, error: str = "") -> None:
        with self._cond:
            if not self._in_flight:        # counted undelivered by ``join`` already
                return
            self._in_flight = False
            if rejected:
                self.stats.rejected += 1
                self.stats.last_error = error
            else:
                self.stats.delivered += 1

    def _note_failure(self, exc: BaseException) -> None:
        first = self.stats.failures == 0 or self.stats.last_error == ""
        self.stats.failures += 1
        message = str(exc) or type(exc).__name__
        if first or message != self.stats.last_error:
            self._log(f"syswarden: output {self.name}: {message}; retrying with backoff")
        self.stats.last_error = message

    def _wait_or_give_up(self, delay: float) -> bool:
        """Sleep ``delay`` (cut short by close); True when the drain deadline has passed.

        The sleep waits on ``_closed``, not on the queue's condition: alerts arriving meanwhile do not wake the
        worker (a dead sink costs the engine nothing per alert but the append)."""
        end = time.monotonic() + delay
        while True:
            now = time.monotonic()
            if self._closing and now >= self._deadline:
                return True
            if now >= end:
                return False
            if self._closing:       # _closed is set: sleep until the retry or the deadline, whichever is first
                time.sleep(min(end, self._deadline) - now)
            else:
                self._closed.wait(end - now)

    def _call(self, method: Callable[[], Any]) -> None:
        try:
            method()
        except (OutputError, OSError, ValueError) as exc:
            self._note_failure(exc)

    def _call_poll(self, final: bool = False) -> None:
        poll = getattr(self.sink, "poll", None)
        if poll is None:
            return
        try:
            poll(self._deadline if final else None)
        except (OutputError, OSError, ValueError) as exc:
            self._note_failure(exc)

    def snapshot(self) -> OutputStats:
        """The counters now, with the sink's own (``counters()``: spooled, restarts ...) in ``extra``."""
        counters = getattr(self.sink, "counters", None)
        if counters is not None:
            self.stats.extra = dict(counters())
        self.stats.depth = len(self._queue)
        return self.stats


def _stderr(message: str) -> None:
    print(escape_text(message), file=sys.stderr, flush=True)
