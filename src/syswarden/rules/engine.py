"""The rules engine: one event in, the alerts of the rules it matches out.

``Engine(ruleset)`` decides everything up front (selection, priority floor, matching mode, hostname); ``process``
then only looks up the event's bucket and runs predicates in definition order. ``state_only`` events feed state
and never reach rules. Enter events (``dir == ">"``) are evaluated like sysdig/Falco <= 0.35 did: a condition
that needs exit data excludes them by itself (``evt.dir``, ``fd.*`` and ``evt.rawres`` make that explicit).
"""
from __future__ import annotations

import socket
from collections import Counter
from typing import Literal

from syswarden.events.event import Event
from syswarden.rules.alert import Alert, Priority
from syswarden.rules.ruleset import Rule, Ruleset, Selection

RuleMatching = Literal["first", "all"]


class Engine:
    """Evaluates a ruleset; ``counts`` holds alerts per rule name and ``events`` the events evaluated."""

    def __init__(
        self,
        ruleset: Ruleset,
        *,
        min_priority: Priority | None = None,
        rule_matching: RuleMatching = "first",
        selection: Selection | None = None,
        hostname: str | None = None,
        indexed: bool = True,
    ) -> None:
        sel = selection or ruleset.selection
        if min_priority is not None:
            sel = Selection(min_priority, sel.disable_names, sel.disable_tags, sel.only_tags, sel.enable_all)
        self.ruleset = ruleset.select(sel) if sel != ruleset.selection else ruleset
        self.first_only = rule_matching == "first"
        self.hostname = socket.gethostname() if hostname is None else hostname
        self.counts: Counter[str] = Counter()
        self.events = 0
        # Without the index every active rule is tried on every event (the benchmark's baseline).
        self._lookup = self.ruleset.rules_for if indexed else (lambda _t: self.ruleset.active)

    def swap(self, ruleset: Ruleset, *, rule_matching: RuleMatching | None = None) -> None:
        """Evaluate ``ruleset`` (already selected) from the next event on: a SIGHUP reload. Counters are kept.

        ``process`` reads ``_lookup`` once per event, so an event is judged wholly by the old or the new rules.
        """
        self.ruleset = ruleset
        if rule_matching is not None:
            self.first_only = rule_matching == "first"
        self._lookup = ruleset.rules_for

    def process(self, event: Event) -> list[Alert]:
        """Alerts for this event: the first matching rule, or every one with ``rule_matching='all'``."""
        if event.state_only:
            return []
        self.events += 1
        alerts: list[Alert] = []
        for rule in self._lookup(event.type):
            if rule.predicate(event):
                alerts.append(self.alert(rule, event))
                self.counts[rule.name] += 1
                if self.first_only:
                    break
        return alerts

    def alert(self, rule: Rule, event: Event) -> Alert:
        text, fields = rule.formatter.render(event)
        return Alert(rule=rule.name, priority=rule.priority, output=text, time_ns=event.ts, source=rule.source,
                     tags=tuple(sorted(rule.tags)), hostname=self.hostname, output_fields=fields)
