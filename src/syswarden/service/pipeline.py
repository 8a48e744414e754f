"""The auditing pipeline, wired in one place: source -> state -> rules engine -> outputs, with counters.

Every way of running rules (``monitor --replay``, live eBPF/ptrace, scap files) goes through ``Pipeline``, so a
new source only has to register itself in ``syswarden.sources.REGISTRY``. ``choose_source`` picks the source
for a path or flag, ``needed_event_types`` tells it what the rules and the state engine need, and
``Summary`` is what ``monitor`` prints at exit (events, drops, alerts per rule). ``apply_append_output``
gives the rules falco.yaml's ``append_output`` before a run.
"""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from syswarden.errors import InputError, OutputError
from syswarden.events.event import Event
from syswarden.outputs.base import Output
from syswarden.escaping import escape_text
from syswarden.rules.alert import Alert
from syswarden.rules.engine import Engine
from syswarden.rules.output_format import AppendOutput, OutputFormat, OutputFormatError
from syswarden.rules.ruleset import Ruleset
from syswarden.service.drops import drop_report
from syswarden.sources.base import Source, SourceConfig, open_source
from syswarden.sources.recording import CaptureWriter, open_writer

PROGRESS_EVERY = 100_000


def choose_source(path: str | None, source: str | None) -> str:
    """Registry name for a recording's suffix (``.jsonl`` replay, ``.scap``/``.scap.gz`` scap) or live default."""
    if path is None:
        return source or "ebpf"
    if source:
        return source
    lower = path.lower()
    if lower.endswith((".jsonl", ".jsonl.gz", ".json")):
        return "replay"
    if lower.endswith((".scap", ".scap.gz")):
        return "scap"
    raise InputError(f"cannot tell the format of {path!r}: expected a .jsonl recording or a .scap/.scap.gz capture")


def apply_append_output(ruleset: Ruleset, entries: Sequence[AppendOutput]) -> Ruleset:
    """The ruleset with each rule's output extended by the entries that match it (Falco does this when it
    compiles the rules, so selection and matching see the same rules). A field an entry names that does not
    exist is an error at the entry's position."""
    if not entries:
        return ruleset
    rules = []
    for rule in ruleset.rules:
        matching = [e for e in entries if e.matches(rule.name, rule.source, rule.tags)]
        if not matching:
            rules.append(rule)
            continue
        try:
            formatter = OutputFormat.extended(rule.output, matching)
        except OutputFormatError as exc:
            where = next((e.span for e in matching if e.span is not None), None)
            raise InputError(f"append_output for rule {rule.name!r}: {exc.message}", span=where) from exc
        rules.append(replace(rule, output=formatter.text, formatter=formatter))
    return replace(ruleset, rules=tuple(rules))


def state_event_types() -> frozenset[str]:
    """Events the state engine needs whatever the rules say (clone, execve, close, ...)."""
    from syswarden.state import REQUIRED_EVENT_TYPES

    return frozenset(REQUIRED_EVENT_TYPES)


def needed_event_types(ruleset: Ruleset) -> frozenset[str] | None:
    """The ruleset's event types plus the state engine's; None (= all) when a rule may match any type."""
    types = ruleset.event_types()
    return None if types is None else types | state_event_types()


def make_state(*, live: bool = False) -> Any:
    """The state engine; live sources may look unknown threads up in /proc, recordings never do.

    ``user.name``/``group.name`` and pid parameters are named through the lookups the state attaches to each
    event (its account and thread tables), so a capture's own users (recorded on another machine) win over this
    host's, and two pipelines in one process each use their own tables.
    """
    from syswarden.state import State

    return State(procfs=live)


@dataclass(slots=True)
class Summary:
    """What happened during one run."""

    events: int = 0
    state_only: int = 0
    alerts: int = 0
    by_rule: Counter[str] = field(default_factory=Counter)
    drops: int = 0
    skipped: int = 0
    output_errors: int = 0
    seconds: float = 0.0
    drop_details: list[str] = field(default_factory=list)   # service/drops.DropReport.lines()

    def render(self) -> str:
        """Aligned text for stderr."""
        lines = [f"Events processed: {self.events}" + (f" (+{self.state_only} state-only)" if self.state_only else ""),
                 f"Events dropped:   {self.drops}", f"Records skipped:  {self.skipped}",
                 f"Alerts:           {self.alerts}", f"Elapsed:          {self.seconds:.2f} s"]
        if self.output_errors:
            lines.append(f"Output errors:    {self.output_errors}")
        lines += [escape_text(line) for line in self.drop_details]
        if self.by_rule:
            width = max(len(name) for name in self.by_rule)
            lines.append("Alerts by rule:")
            # Rule names come from rules files: escape them like any other text we print.
            lines += [escape_text(f"  {name.ljust(width)}  {count}") for name, count in self.by_rule.most_common()]
        return "\n".join(lines)


class Pipeline:
    """Runs one source through state and the engine to the outputs; ``run()`` returns the ``Summary``."""

    def __init__(self, source: Source, engine: Engine, outputs: Sequence[Output], *, state: Any = None,
                 progress: Callable[[int], None] | None = None, writer: CaptureWriter | None = None) -> None:
        self.source = source
        self.writer = writer
        self.engine = engine
        self.outputs = list(outputs)
        self.state = state
        self.progress = progress
        self.summary = Summary()

    def snapshot(self) -> Summary:
        """The summary so far, with the source's current drop and skip counters (for SIGUSR1)."""
        self.summary.drops, self.summary.skipped = self.source.stats.drops, self.source.stats.skipped
        report = drop_report(self.source.stats, getattr(self.engine, "ruleset", None))
        self.summary.drop_details = report.lines() if report else []
        return self.summary

    def reopen_outputs(self) -> None:
        """Reopen every output (log rotation; ``monitor`` calls it on SIGUSR1 as Falco does)."""
        for out in self.outputs:
            out.reopen()

    def run(self, limit: int | None = None) -> Summary:
        start = time.monotonic()
        try:
            threads = list(self.source.initial_threads())
            if self.writer is not None:
                self.writer.write_threads(threads)
            if self.state is not None:
                self.state.seed(threads)
            self._loop(self.source.events(), limit)
        finally:
            self.summary.seconds = time.monotonic() - start
            self.snapshot()
            self.source.close()
            if self.writer is not None:
                self.writer.close()
            for out in self.outputs:
                out.close()
        return self.summary

    def _loop(self, events: Iterable[Event], limit: int | None) -> None:
        """``step`` for every event, with what it looks up hoisted out of the loop (the live sources deliver
        tens of thousands of events a second; without a writer the loop body is inlined)."""
        if self.writer is not None or self.state is None:
            for event in events:
                self.step(event)
                if limit is not None and self.summary.events >= limit:
                    break
            return
        summary, apply, process, outputs = self.summary, self.state.apply, self.engine.process, self.outputs
        progress = self.progress
        for event in events:
            event = apply(event)
            if event.state_only:
                summary.state_only += 1
                continue
            summary.events += 1
            if progress is not None and summary.events % PROGRESS_EVERY == 0:
                progress(summary.events)
            alerts = process(event)
            if alerts:
                self._emit(alerts, outputs)
            if limit is not None and summary.events >= limit:
                break

    def _emit(self, alerts: list[Alert], outputs: list[Output]) -> None:
        for alert in alerts:
            self.summary.alerts += 1
            self.summary.by_rule[alert.rule] += 1
            for out in outputs:
                try:
                    out.emit(alert)
                except OutputError:
                    # One broken channel must not stop detection on the others; the summary reports it.
                    self.summary.output_errors += 1

    def step(self, event: Event) -> None:
        if self.writer is not None:
            # The raw event, before state resolves anything: the recording replays as the source delivered it.
            self.writer.write_event(event)
        if self.state is not None:
            event = self.state.apply(event)
        if event.state_only:
            self.summary.state_only += 1
            return
        self.summary.events += 1
        if self.progress and self.summary.events % PROGRESS_EVERY == 0:
            self.progress(self.summary.events)
        self._emit(self.engine.process(event), self.outputs)


def open_pipeline(ruleset: Ruleset, engine: Engine, outputs: Iterable[Output], *, path: str | None = None,
                  source: str | None = None, config: SourceConfig | None = None,
                  progress: Callable[[int], None] | None = None, write_path: str | None = None) -> Pipeline:
    """Pick and open the source for ``path``/``source``, asking it for the event types the run needs."""
    name = choose_source(path, source)
    cfg = config or SourceConfig()
    cfg.path = path
    cfg.event_types = needed_event_types(ruleset)
    src = open_source(name, cfg)
    hostname = getattr(src, "hostname", "")
    if hostname:
        engine.hostname = hostname
    writer = open_writer(write_path) if write_path else None
    return Pipeline(src, engine, list(outputs), state=make_state(live=path is None), progress=progress,
                    writer=writer)
