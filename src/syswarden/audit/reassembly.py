"""Records -> events: the records of one event share node, timestamp and serial; put them back together.

An event is complete when its EOE record arrives (netlink only: auditd does not write EOE), when its
PROCTITLE arrives (the kernel writes it last), or at once for the one-record message types (user and daemon
messages, 1100-1299, and user anomaly/response messages from 2100). Otherwise it completes when it is older
than ``timeout`` (against the newest record's time: the file's clock for logs, the wall clock live), when more
than ``max_in_flight`` events are open, or at the end. Events leave in serial order per node, across the 32-bit
wrap; a gap between consecutive serials counts as lost events; records of a serial that has already left
(later than the timeout, or the same serial again in another file) make a new event, counted as ``late``.
Memory is bounded: at most ``max_in_flight`` open events of at most ``max_records`` records each.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from syswarden.audit.constants import EOE, FIRST_ANOM_LOGIN, LAST_DAEMON, PROCTITLE
from syswarden.audit.records import Record

_WRAP = 1 << 32
FIRST_USER = 1100


def serial_after(a: int, b: int) -> bool:
    """Whether serial ``a`` comes after ``b`` (32-bit serials wrap: 0 comes after 4294967295)."""
    return 0 < (a - b) % _WRAP < _WRAP // 2


@dataclass(slots=True)
class AuditEvent:
    """One audit event: its records in arrival order. ``complete`` is False when it left on a timeout, for
    lack of room, or at the end of the input without its last record."""

    node: str
    serial: int
    sec: int
    msec: int
    records: list[Record] = field(default_factory=list)
    complete: bool = False
    dropped_records: int = 0
    ts_ns: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.ts_ns = self.sec * 1_000_000_000 + self.msec * 1_000_000

    def first(self, record_type: int) -> Record | None:
        """The first record of ``record_type``."""
        return next((r for r in self.records if r.type == record_type), None)

    def all(self, record_type: int) -> list[Record]:
        return [r for r in self.records if r.type == record_type]

    @property
    def types(self) -> list[int]:
        return [r.type for r in self.records]


@dataclass(slots=True)
class ReassemblyStats:
    records: int = 0
    events: int = 0
    lost: int = 0              # serials never seen between two events that were
    late: int = 0              # events whose serial had left already (records later than the timeout)
    incomplete: int = 0        # events that left without their last record
    dropped_records: int = 0   # records beyond max_records in one event


def _ends_event(record_type: int) -> bool:
    return record_type == PROCTITLE or FIRST_USER <= record_type <= LAST_DAEMON or record_type >= FIRST_ANOM_LOGIN


class _NodeQueue:
    """The open events of one node, in serial order."""

    def __init__(self) -> None:
        self.order: list[int] = []
        self.events: dict[int, AuditEvent] = {}
        self.last: int | None = None

    def insert(self, serial: int) -> None:
        if not self.order or serial_after(serial, self.order[-1]):
            self.order.append(serial)           # the usual case: serials arrive in order
            return
        i = len(self.order)
        while i > 0 and serial_after(self.order[i - 1], serial):
            i -= 1
        self.order.insert(i, serial)


class Reassembler:
    """Feed records with ``push``; it returns the events that are done. ``close`` returns the rest."""

    def __init__(self, *, max_in_flight: int = 500, timeout_ns: int = 2_000_000_000, max_records: int = 4096):
        self.max_in_flight = max_in_flight
        self.timeout_ns = timeout_ns
        self.max_records = max_records
        self.stats = ReassemblyStats()
        self._nodes: dict[str, _NodeQueue] = {}
        self._open = 0

    def push(self, record: Record, now_ns: int | None = None) -> list[AuditEvent]:
        """Add one record; ``now_ns`` is the current time (default: the record's own timestamp)."""
        self.stats.records += 1
        queue = self._nodes.get(record.node)
        if queue is None:
            queue = self._nodes[record.node] = _NodeQueue()
        serial = record.serial
        event = queue.events.get(serial)
        if event is None:
            if record.type == EOE:
                return self._evict(queue, record.ts_ns if now_ns is None else now_ns)
            event = queue.events[serial] = AuditEvent(record.node, serial, record.sec, record.msec)
            if queue.last is not None and not serial_after(serial, queue.last):
                self.stats.late += 1        # its serial has left already: a second event with that serial
            queue.insert(serial)
            self._open += 1
        if record.type == EOE:
            event.complete = True
        elif len(event.records) >= self.max_records:
            event.dropped_records += 1
            self.stats.dropped_records += 1
        else:
            event.records.append(record)
            if _ends_event(record.type):
                event.complete = True
        now = record.ts_ns if now_ns is None else now_ns
        if len(self._nodes) == 1:
            return self._evict(queue, now)
        return self._evict_all(now)

    def expire(self, now_ns: int) -> list[AuditEvent]:
        """Events that timed out by ``now_ns`` (live sources call this when no record comes)."""
        return self._evict_all(now_ns)

    def close(self) -> list[AuditEvent]:
        """Every open event, in order (the input ended)."""
        out: list[AuditEvent] = []
        for queue in self._nodes.values():
            while queue.order:
                out.append(self._pop(queue))
        return out

    def _evict_all(self, now_ns: int) -> list[AuditEvent]:
        out: list[AuditEvent] = []
        for queue in self._nodes.values():
            out.extend(self._evict(queue, now_ns))
        return out

    def _evict(self, queue: _NodeQueue, now_ns: int) -> list[AuditEvent]:
        out = []
        deadline = now_ns - self.timeout_ns
        while queue.order:
            head = queue.events[queue.order[0]]
            if head.complete or self._open > self.max_in_flight or head.ts_ns <= deadline:
                out.append(self._pop(queue))
                continue
            break
        return out

    def _pop(self, queue: _NodeQueue) -> AuditEvent:
        serial = queue.order.pop(0)
        event = queue.events.pop(serial)
        self._open -= 1
        if queue.last is None or serial_after(serial, queue.last):
            if queue.last is not None:
                self.stats.lost += (serial - queue.last - 1) % _WRAP
            queue.last = serial
        return self._emit(event, event.complete)

    def _emit(self, event: AuditEvent, complete: bool) -> AuditEvent:
        self.stats.events += 1
        if not complete:
            self.stats.incomplete += 1
        return event
