"""The rules engine: one event in, the alerts of the rules it matches out.

``Engine(ruleset)`` decides everything up front (selection, priority floor, matching mode, hostname); ``process``
then only looks up the event's bucket and runs predicates in definition order. ``state_only`` events feed state
and never reach rules. Enter events (``dir == ">"``) are evaluated like sysdig/Falco <= 0.35 did: a condition
that needs exit data excludes them by itself (``evt.dir``, ``fd.*`` and ``evt.rawres`` make that explicit).
On a source that emits exit events only (``exit_only``: the live sources), a rule that reads ``evt.dir`` is also
evaluated on each exit event's enter view, so rules written for enter events keep detecting
(``passes/enter_dialect.py``).
"""
from __future__ import annotations

import socket
from collections import Counter
from typing import Literal

from syswarden.events.event import Event
from syswarden.rules.alert import Alert, Priority
from syswarden.rules.passes.enter_dialect import enter_view
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
        exit_only: bool = False,
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
        self._exit_only = exit_only
        self._set_enter_dialect()

    def _set_enter_dialect(self) -> None:
        #: Active rules evaluated on enter views too: they read evt.dir and the source has no enter events.
        self.enter_dialect: tuple[Rule, ...] = tuple(r for r in self.ruleset.active if r.reads_direction) \
            if self._exit_only else ()
        self._enter_views = bool(self.enter_dialect)

    def swap(self, ruleset: Ruleset, *, rule_matching: RuleMatching | None = None) -> None:
        """Evaluate ``ruleset`` (already selected) from the next event on: a SIGHUP reload. Counters are kept.

        ``process`` reads ``_lookup`` once per event, so an event is judged wholly by the old or the new rules.
        """
        self.ruleset = ruleset
        if rule_matching is not None:
            self.first_only = rule_matching == "first"
        self._set_enter_dialect()
        self._lookup = ruleset.rules_for

    def process(self, event: Event) -> list[Alert]:
        """Alerts for this event: the first matching rule, or every one with ``rule_matching='all'``."""
        if event.state_only:
            return []
        self.events += 1
        alerts: list[Alert] = []
        enter_views = self._enter_views and event.dir == "<"
        for rule in self._lookup(event.type):
            matched = event if rule.predicate(event) else None
            if matched is None and enter_views and rule.reads_direction:
                view = enter_view(event)
                matched = view if rule.predicate(view) else None
            if matched is not None:
                alerts.append(self.alert(rule, matched))
                self.counts[rule.name] += 1
                if self.first_only:
                    break
        return alerts

    def alert(self, rule: Rule, event: Event) -> Alert:
        text, fields = rule.formatter.render(event)
        return Alert(rule=rule.name, priority=rule.priority, output=text, time_ns=event.ts, source=rule.source,
                     tags=tuple(sorted(rule.tags)), hostname=self.hostname, output_fields=fields)
