"""Replaying a stream through the reference evaluator: what the kernel prefilter would drop, and what that would
change.

``check_stream`` runs every event through two state engines and two rule engines at once: the *full* side sees
every event (what syswarden does without the prefilter), the *kept* side only the events ``Prefilter.passes``
keeps, with each event's ``KernelView`` built by ``Prefilter.view`` from the full side's thread (the probe's
fork/exec comm) and the raw parameters, and the fd knowledge of ``fd_gated`` types taken from the kept side's
fd table (what user space knows). It reports, per event type, the events seen and dropped; every event that
fired a rule on the full side yet was dropped (``unsound``: must be empty); and both sides' alerts, which must
be equal, so a dropped state event that changed a later alert (state starvation) shows too. Tests and
``bench/prefilter_power.py`` use it.
"""
from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from syswarden.events.event import Event, ThreadInfo
from syswarden.events.prefilter import GATED_FD_PARAMS, OPEN_FLAG_TYPES, Prefilter
from syswarden.events.types import O_DIRECTORY
from syswarden.rules.engine import Engine
from syswarden.rules.ruleset import Ruleset
from syswarden.state import State

DirOracle = Callable[[Event], "bool | None"]
AlertKey = tuple[str, str, int]


@dataclass
class StreamCheck:
    """What the reference evaluator did to one stream."""

    seen: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)
    unsound: list[tuple[int, str, tuple[str, ...]]] = field(default_factory=list)   # (evt.num, type, rules)
    full_alerts: list[AlertKey] = field(default_factory=list)
    kept_alerts: list[AlertKey] = field(default_factory=list)

    @property
    def events(self) -> int:
        return sum(self.seen.values())

    def drop_fraction(self, event_type: str | None = None) -> float:
        seen = self.events if event_type is None else self.seen[event_type]
        dropped = sum(self.dropped.values()) if event_type is None else self.dropped[event_type]
        return dropped / seen if seen else 0.0

    def merge(self, other: StreamCheck) -> None:
        self.seen.update(other.seen)
        self.dropped.update(other.dropped)
        self.unsound += other.unsound
        self.full_alerts += other.full_alerts
        self.kept_alerts += other.kept_alerts


def flags_dir_oracle(event: Event) -> bool | None:
    """Whether an open returned a directory, as far as the event tells: a failed call returned none, and a
    successful ``O_DIRECTORY`` open a directory; otherwise unknown (a capture does not record the inode type)."""
    if event.res is None or event.dir != "<":
        return None
    if event.res < 0:
        return False
    flags = event.params.get("flags")
    if event.type in OPEN_FLAG_TYPES and isinstance(flags, int) and flags & O_DIRECTORY:
        return True
    return None


def check_stream(ruleset: Ruleset, prefilter: Prefilter, events: Iterable[Event],
                 threads: Iterable[ThreadInfo] = (), *, returns_dir: DirOracle = flags_dir_oracle,
                 exit_only: bool = False) -> StreamCheck:
    """Judge ``events`` with and without the prefilter (``rule_matching: all``); see the module doc."""
    seeds = list(threads)
    full, kept = State(), State()
    full.seed(copy.deepcopy(seeds))
    kept.seed(copy.deepcopy(seeds))
    full_engine = Engine(ruleset, rule_matching="all", hostname="prefilter-check", exit_only=exit_only)
    kept_engine = Engine(ruleset, rule_matching="all", hostname="prefilter-check", exit_only=exit_only)
    out = StreamCheck()
    for raw in events:
        raw_params = dict(raw.params)
        mine = replace(raw, params=dict(raw.params))
        known = _fd_known(kept, raw) if raw.type in prefilter.fd_gated else None
        event = full.apply(raw)
        view = prefilter.view(event, event.thread, raw_params, returns_dir=returns_dir(event), fd_known=known)
        passes = prefilter.passes(view)
        out.seen[event.type] += 1
        alerts = full_engine.process(event)
        out.full_alerts += [(a.rule, a.output, a.time_ns) for a in alerts]
        if not passes:
            out.dropped[event.type] += 1
            if alerts:
                out.unsound.append((event.num, event.type, tuple(a.rule for a in alerts)))
            continue
        out.kept_alerts += [(a.rule, a.output, a.time_ns) for a in kept_engine.process(kept.apply(mine))]
    return out


def _fd_known(state: State, event: Event) -> bool:
    """Whether user space (the kept side) knows an fd a gated event names, before the event is applied."""
    thread = state.threads.active(event.tid)
    if thread is None:
        return False
    nums = [event.params.get(name) for name in GATED_FD_PARAMS.get(event.type, ("fd",))]
    return any(isinstance(num, int) and num in thread.fds for num in nums)


__all__ = ["StreamCheck", "check_stream", "flags_dir_oracle"]
