"""What the event handlers (``lifecycle``, ``fd_events``) may use of the state they update.

``State`` dispatches each event to a handler and passes itself; the handlers see it through ``StateContext``,
so they depend on this small protocol and not on ``state.py``, which imports them (no import circle, even one
for type hints only).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from syswarden.state.processes import ThreadTable


@dataclass(slots=True)
class StateStats:
    """Counters of what state did; ``placeholders`` are threads first seen mid-life without /proc data."""

    events: int = 0
    threads_created: int = 0
    placeholders: int = 0
    procfs_reads: int = 0
    fds_dropped: int = 0


class StateContext(Protocol):
    """The thread table, the counters, and forgetting a thread's pending enter event."""

    threads: ThreadTable
    stats: StateStats

    def forget_enter(self, tid: int) -> None: ...
