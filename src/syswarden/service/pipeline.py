"""The auditing pipeline, wired in one place: source -> state -> rules engine -> outputs, with counters.

Every way of running rules (``monitor --replay``, live eBPF/ptrace, scap files) goes through ``Pipeline``, so a
new source only has to register itself in ``syswarden.sources.REGISTRY``. ``choose_source`` picks the source
for a path or flag, ``selection.select_events`` tells it what the rules and the state engine need, and
``Summary`` is what ``monitor`` prints at exit (events, drops, records skipped, alerts per rule) with the exit
code of the command a live source started. ``apply_append_output`` gives the rules falco.yaml's
``append_output`` before a run. The capture pipelines (``capture -r``/``-w``) are in ``service.capture``.
"""
from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from syswarden.errors import InputError, OutputError
from syswarden.events.event import Event
from syswarden.input_file import open_regular
from syswarden.outputs.base import Output
from syswarden.escaping import escape_text
from syswarden.rules.alert import Alert
from syswarden.rules.engine import Engine, RuleMatching
from syswarden.rules.output_format import AppendOutput, OutputFormat, OutputFormatError
from syswarden.rules.ruleset import Ruleset
from syswarden.service.selection import select_events
from syswarden.service.drop_actions import DropMonitor
from syswarden.service.drops import drop_report
from syswarden.sources.base import Source, SourceConfig, open_source
from syswarden.sources.recording import CaptureWriter, open_writer, recording_format
from syswarden.state import State

PROGRESS_EVERY = 100_000
INFINITY = float("inf")


def choose_source(path: str | None, source: str | None) -> str:
    """Registry name of the source: ``source`` when given, else for a recording its format by content (scap's
    magic, a JSON object; ``recording_format``) or, when the content does not say, by suffix (``.jsonl`` replay,
    ``.scap``/``.scap.gz`` scap); eBPF when live."""
    if path is None:
        return source or "ebpf"
    if source:
        return source
    found = recording_format(path)
    if found is not None:
        return found
    lower = path.lower()
    if lower.endswith((".jsonl", ".jsonl.gz", ".json")):
        return "replay"
    if lower.endswith((".scap", ".scap.gz")):
        return "scap"
    if _is_audit_log(path):
        return "audit"
    if os.path.exists(path) and not os.path.isdir(path):
        open_regular(path, InputError, what="recording").close()   # a FIFO or a device: say that, not "format"
    raise InputError(f"cannot tell the format of {path!r}: expected a .jsonl recording or a .scap/.scap.gz "
                     "capture, or audit logs (audit.log*, a directory of them; or say --source audit)")


def _is_audit_log(path: str) -> bool:
    import os
    name = os.path.basename(path.rstrip("/"))
    return os.path.isdir(path) or name.startswith("audit.log") or name.endswith(".log")


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


def make_state(*, live: bool = False) -> State:
    """The state engine; live sources may look unknown threads up in /proc, recordings never do.

    ``user.name``/``group.name`` and pid parameters are named through the lookups the state attaches to each
    event (its account and thread tables), so a capture's own users (recorded on another machine) win over this
    host's, and two pipelines in one process each use their own tables.
    """
    return State(procfs=live)


def shell_status(exit_code: int | None) -> int:
    """A command's exit code as a shell reports it (``$?``): the code itself, 128+N for a death by signal N
    (``waitstatus_to_exitcode`` gives -N), 1 when it is unknown."""
    if exit_code is None:
        return 1
    return 128 - exit_code if exit_code < 0 else exit_code


@dataclass(slots=True)
class Summary:
    """What happened during one run; ``exit_code`` is the started command's (None without one)."""

    events: int = 0
    state_only: int = 0
    alerts: int = 0
    stopped: bool = False            # ended by a stop request (SIGTERM/SIGINT), not by the source running out
    by_rule: Counter[str] = field(default_factory=Counter)
    drops: int = 0
    skipped: int = 0
    output_errors: int = 0
    seconds: float = 0.0
    exit_code: int | None = None
    drop_details: list[str] = field(default_factory=list)   # service/drops.DropReport.lines()
    drop_actions: list[str] = field(default_factory=list)   # service/drop_actions.DropMonitor.lines()

    def render(self) -> str:
        """Aligned text for stderr."""
        lines = [f"Events processed: {self.events}" + (f" (+{self.state_only} state-only)" if self.state_only else ""),
                 f"Events dropped:   {self.drops}", f"Records skipped:  {self.skipped}",
                 f"Alerts:           {self.alerts}", f"Elapsed:          {self.seconds:.2f} s"]
        if self.output_errors:
            lines.append(f"Output errors:    {self.output_errors}")
        lines += [escape_text(line) for line in self.drop_details + self.drop_actions]
        if self.by_rule:
            width = max(len(name) for name in self.by_rule)
            lines.append("Alerts by rule:")
            # Rule names come from rules files: escape them like any other text we print.
            lines += [escape_text(f"  {name.ljust(width)}  {count}") for name, count in self.by_rule.most_common()]
        return "\n".join(lines)


class Pipeline:
    """Runs one source through state and the engine to the outputs; ``run()`` returns the ``Summary``."""

    def __init__(self, source: Source, engine: Engine, outputs: Sequence[Output], *, state: State | None = None,
                 progress: Callable[[int], None] | None = None, writer: CaptureWriter | None = None,
                 selection: SourceConfig | None = None, kernel_filter: bool = True) -> None:
        self.source = source
        self.selection = selection          # what the source was asked for (select_events), for reselect()
        self.kernel_filter = kernel_filter
        self.writer = writer
        self.engine = engine
        self.outputs = list(outputs)
        self.state = state
        self.progress = progress
        self.summary = Summary()
        self.drop_monitor: DropMonitor | None = None   # syscall_event_drops (set by service/runner)

    def reselect(self, ruleset: Ruleset) -> None:
        """After a rules reload: the live source now delivers what ``ruleset`` needs (event types, I/O buffers and
        kernel prefilter, decided by ``select_events`` as at start), changed in its maps, no reload."""
        if self.selection is None:
            return
        self.selection = select_events(self.selection, ruleset, kernel_filter=self.kernel_filter)
        if (set_buffers := getattr(self.source, "set_buffer_types", None)) is not None:
            set_buffers(self.selection.buffer_types)
        if (set_types := getattr(self.source, "set_event_types", None)) is not None:
            set_types(self.selection.event_types)
        if (set_prefilter := getattr(self.source, "set_prefilter", None)) is not None:
            set_prefilter(self.selection.prefilter)

    def snapshot(self) -> Summary:
        """The summary so far, with the source's current drop and skip counters (for SIGUSR1) and, once it has
        exited, the exit code of the command the source started (``exit_code`` of the ebpf and ptrace sources)."""
        self.summary.drops, self.summary.skipped = self.source.stats.drops, self.source.stats.skipped
        exit_code = getattr(self.source, "exit_code", None)
        self.summary.exit_code = exit_code if isinstance(exit_code, int) else None
        report = drop_report(self.source.stats, getattr(self.engine, "ruleset", None))
        self.summary.drop_details = report.lines() if report else []
        self.summary.drop_actions = self.drop_monitor.lines() if self.drop_monitor is not None else []
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
            self.source.close()         # a command still running is stopped and reaped: its status is known
            self.snapshot()
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
        progress, drops, stats = self.progress, self.drop_monitor, self.source.stats
        check_at = 0 if drops is not None else INFINITY     # the drop check: once a second of event time
        for event in events:
            if event.ts > check_at:
                check_at = drops.check(event.ts, stats)     # type: ignore[union-attr]
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
                except (OutputError, ValueError):
                    # One broken channel must not stop detection on the others; the summary reports it.
                    # ValueError covers the encoding errors (UnicodeError) a sink might still hit.
                    self.summary.output_errors += 1

    def emit_internal(self, alert: Alert) -> None:
        """An alert of syswarden's own (``drop_actions``): to every output, not counted as a rule's alert."""
        for out in self.outputs:
            try:
                out.emit(alert)
            except (OutputError, ValueError):
                self.summary.output_errors += 1

    def step(self, event: Event) -> None:
        if self.drop_monitor is not None and event.ts > self.drop_monitor.next_check:
            self.drop_monitor.check(event.ts, self.source.stats)
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


def open_pipeline(ruleset: Ruleset, outputs: Iterable[Output], *, path: str | None = None,
                  source: str | None = None, config: SourceConfig | None = None,
                  rule_matching: RuleMatching = "first", hostname: str | None = None,
                  progress: Callable[[int], None] | None = None, write_path: str | None = None,
                  kernel_filter: bool = True) -> Pipeline:
    """The pipeline that judges ``ruleset`` (already selected) over the source for ``path``/``source``.

    ``config`` is the caller's base ``SourceConfig`` (command, pids, options); it is copied, never changed, and
    the copy gets the recording path and the event selection (``selection.select_events``). The engine is built
    here, once the source is open, so that its hostname is decided in one step: ``hostname`` when given (the
    CLI passes Falco's ``FALCO_HOSTNAME``), else the recording's own machine (a capture's machine-info block,
    a replay header), else this machine's name.
    """
    name = choose_source(path, source)
    selection = select_events(replace(config or SourceConfig(), path=path), ruleset, kernel_filter=kernel_filter)
    src = open_source(name, selection)
    try:
        # Live sources emit exit events only: rules written for enter events are also run on enter views.
        engine = Engine(ruleset, rule_matching=rule_matching, hostname=hostname or source_hostname(src) or None,
                        exit_only=path is None)
        writer = open_writer(write_path) if write_path else None
    except BaseException:
        src.close()
        raise
    return Pipeline(src, engine, list(outputs), state=make_state(live=path is None), progress=progress,
                    writer=writer, selection=selection, kernel_filter=kernel_filter)


def source_hostname(src: Source) -> str:
    """The machine a recording was taken on ("" for live sources and recordings that do not say)."""
    hostname = getattr(src, "hostname", "")
    return hostname if isinstance(hostname, str) else ""
