"""The Source protocol every event source implements, and the drop counters they report."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from syswarden.events.event import Event, ThreadInfo, FdInfo


@dataclass(slots=True)
class SourceStats:
    """Counters a source keeps; ``drops_per_cpu`` is never silently zero when events were lost."""

    events: int = 0
    drops: int = 0
    drops_per_cpu: dict[int, int] = field(default_factory=dict)
    skipped: int = 0                  # malformed/unknown records skipped (captures)


class Source(Protocol):
    """A stream of events. ``initial_threads`` seeds state before the first event (from /proc or a capture)."""

    stats: SourceStats

    def initial_threads(self) -> Iterator[ThreadInfo]: ...

    def events(self) -> Iterator[Event]: ...

    def close(self) -> None: ...


__all__ = ["Source", "SourceStats", "Event", "ThreadInfo", "FdInfo"]
