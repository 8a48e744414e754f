"""Dropped events made actionable (issue 14): where they were lost (per CPU, per event type) and which rules may
have missed events because of them, for the run's summary and its SIGUSR1 snapshot.

A live source counts what it could not deliver (``SourceStats.drops_per_cpu``/``drops_per_type``; the eBPF
probe when its ring buffer was full). A rule may have missed an event when a type it matches was dropped; and
every rule reading process or fd context may be judging later events on stale state when an event state
needs was dropped (a clone, an exec, an open). Falco reports drops as one rate-limited internal alert with
per-category counters (``syscall_event_drops``); this names the rules instead.
"""
from __future__ import annotations

from dataclasses import dataclass

from syswarden.rules.ruleset import Ruleset
from syswarden.sources.base import SourceStats
from syswarden.state import REQUIRED_EVENT_TYPES

# the scheduler records the eBPF probe counts under these names (kernel_tables.counter_types)
_STATE_RECORDS = {"clone (child)": "clone"}


@dataclass(frozen=True, slots=True)
class DropReport:
    """What was lost and what it may have cost."""

    total: int
    per_cpu: dict[int, int]
    per_type: dict[str, int]
    rules: tuple[str, ...]          # active rules matching a dropped type, in rule order
    state_types: tuple[str, ...]    # dropped types state needs (process/fd context of later events)

    def lines(self) -> list[str]:
        """Aligned lines for the summary (rule names are the caller's to escape)."""
        out = [f"Dropped per CPU:  {' '.join(f'cpu{c}={n}' for c, n in sorted(self.per_cpu.items()))}"]
        if self.per_type:
            out.append(f"Dropped per type: {' '.join(f'{t}={n}' for t, n in _by_count(self.per_type))}")
        if self.rules:
            out.append("Rules that may have missed events:")
            out += [f"  {name}" for name in self.rules]
        if self.state_types:
            out.append(f"State events lost ({', '.join(self.state_types)}): process and fd fields of later events "
                       "may be wrong for every rule")
        return out


def _by_count(counts: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def drop_report(stats: SourceStats, ruleset: Ruleset | None) -> DropReport | None:
    """The report for a source's counters (None when nothing was dropped)."""
    if not stats.drops:
        return None
    types = {_STATE_RECORDS.get(t, t) for t in stats.drops_per_type}
    rules: list[str] = []
    if ruleset is not None:
        hit = {r.name for t in types for r in ruleset.rules_for(t)}
        if not stats.drops_per_type:        # a source that cannot say which types: every active rule
            hit = {r.name for r in ruleset.active}
        rules = [r.name for r in ruleset.active if r.name in hit]
    state = tuple(sorted(t for t in types if t in REQUIRED_EVENT_TYPES))
    return DropReport(stats.drops, dict(stats.drops_per_cpu), dict(stats.drops_per_type), tuple(rules), state)


__all__ = ["DropReport", "drop_report"]
