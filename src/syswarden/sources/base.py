"""The Source protocol every event source implements, and the drop counters they report."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from syswarden.events.event import Event, ThreadInfo, FdInfo
from syswarden.events.prefilter import Prefilter
from syswarden.sources.syscall_decode import DEFAULT_SNAPLEN


@dataclass(slots=True)
class SourceStats:
    """Counters a source keeps; ``drops_per_cpu`` is never silently zero when events were lost."""

    events: int = 0
    drops: int = 0
    drops_per_cpu: dict[int, int] = field(default_factory=dict)
    drops_per_type: dict[str, int] = field(default_factory=dict)   # event type -> events lost
    skipped: int = 0                  # malformed/unknown records skipped (captures)
    offered: int = 0                  # events the watched processes made of the captured types (live kernel)
    filtered: int = 0                 # of those, not sent: no enabled rule nor state could use them


class Source(Protocol):
    """A stream of events. ``initial_threads`` seeds state before the first event (from /proc or a capture)."""

    stats: SourceStats

    def initial_threads(self) -> Iterator[ThreadInfo]: ...

    def events(self) -> Iterator[Event]: ...

    def close(self) -> None: ...




@dataclass(slots=True)
class SourceConfig:
    """What every source factory receives (``REGISTRY[name](config)``); a source ignores what it cannot use."""

    path: str | None = None                        # capture / replay file to read
    command: list[str] | None = None               # start and follow this command's process tree
    pids: tuple[int, ...] = ()                     # follow these process trees (empty = whole system)
    event_types: frozenset[str] | None = None      # Falco event names the rules + state need (None = all)
    prefilter: Prefilter | None = None             # what a live source may drop in the kernel (None: nothing)
    snaplen: int = DEFAULT_SNAPLEN                 # bytes of each I/O buffer a live source captures (0: none)
    buffer_types: frozenset[str] = frozenset()     # the event types whose I/O buffer (``data``) is captured
    exclude_self: bool = True                      # never report syswarden's own syscalls
    options: dict[str, str] = field(default_factory=dict)   # source-specific knobs (buffer sizes, ...)


def open_source(name: str, config: SourceConfig) -> Source:
    """Instantiate a registered source by name (see ``syswarden.sources.REGISTRY``)."""
    import importlib

    from syswarden.errors import InputError
    from syswarden.sources import REGISTRY

    target = REGISTRY.get(name)
    if target is None:
        raise InputError(f"unknown source {name!r}; expected one of: {', '.join(sorted(REGISTRY))}")
    module_name, attr = target.split(":")
    factory = getattr(importlib.import_module(module_name), attr)
    source: Source = factory(config)
    return source


__all__ = ["Source", "SourceStats", "SourceConfig", "open_source", "Event", "ThreadInfo", "FdInfo"]
