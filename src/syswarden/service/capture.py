"""The capture pipelines: reading a recording as ``sysdig -r FILE -p FORMAT FILTER`` does, and recording a
command as ``sysdig -w FILE`` does. ``capture`` (the CLI) parses options and prints; everything it decides
lives here.

Reading: the recording's events go through state (threads, fds, users from the file itself); the filter picks
the user-visible events; a ``LineFormat`` renders each, and as in sysdig a format starting with ``*`` prints every
matching event while without it an event is skipped when one of the format's fields has no value.

Recording: a live source runs the command; every event is written raw, except that with a filter the events it
rejects are dropped unless state needs them, and those are kept flagged state-only (as libs does), so a replay
of the recording has full process and fd context while showing only the matching events.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from syswarden.escaping import escape_text
from syswarden.events.event import Event
from syswarden.rules.compiler import CompiledFilter, compile_condition
from syswarden.rules.filter.parser import parse
from syswarden.rules.output_format import OutputFormat
from syswarden.service.pipeline import PROGRESS_EVERY, choose_source, make_state
from syswarden.service.selection import select_events, state_event_types
from syswarden.sources.base import Source, SourceConfig, open_source
from syswarden.sources.recording import open_writer

# sysdig's default line (sysdig -r FILE without -p)
DEFAULT_FORMAT = "*%evt.num %evt.time %evt.cpu %proc.name (%thread.tid) %evt.dir %evt.type %evt.info"


def compile_filter(text: str) -> CompiledFilter | None:
    """A filter expression compiled (None for an empty filter, which every event passes).

    Raises:
        FilterSyntaxError, RuleLoadError: the expression does not parse or names an unknown field.
    """
    return compile_condition(parse(text)) if text.strip() else None


def open_recording(path: str, judged: CompiledFilter | None = None) -> Source:
    """The source for a recording (scap capture or JSONL replay, told apart by content), delivering what
    ``judged`` can match and what state needs (other events are still numbered, as sysdig numbers them)."""
    return open_source(choose_source(path, None), select_events(SourceConfig(path=path), judged))


def with_state(src: Source) -> Iterator[Event]:
    """The source's events after state has attached threads and fds (state-only ones included)."""
    state = make_state()
    state.seed(src.initial_threads())
    for event in src.events():
        yield state.apply(event)


class LineFormat:
    """A sysdig ``-p`` format: an escaped line for an event, or None when a field is missing and the format
    has no ``*``."""

    def __init__(self, fmt: str) -> None:
        self.keep_missing = fmt.startswith("*")
        self.format = OutputFormat(fmt[1:] if self.keep_missing else fmt)

    def __call__(self, event: Event) -> str | None:
        text, values = self.format.render(event)
        if not self.keep_missing and any(v is None for v in values.values()):
            return None
        return escape_text(text)


def read_capture(path: str, filter_text: str = "", fmt: str = DEFAULT_FORMAT, *, limit: int | None = None,
                 progress: Callable[[int], None] | None = None) -> Iterator[str]:
    """The lines ``sysdig -r path -p fmt filter_text`` prints, at most ``limit`` of them; ``progress`` gets the
    count of events read every ``PROGRESS_EVERY``.

    Raises (after yielding every line before the damage):
        CaptureError: the recording is damaged or not a recording.
    """
    flt = compile_filter(filter_text)
    line = LineFormat(fmt)
    if limit is not None and limit <= 0:
        return
    src = open_recording(path, flt)
    printed = seen = 0
    try:
        for event in with_state(src):
            seen += 1
            if progress is not None and seen % PROGRESS_EVERY == 0:
                progress(seen)
            if event.state_only or (flt is not None and not flt(event)):
                continue
            text = line(event)
            if text is None:
                continue
            yield text
            printed += 1
            if limit is not None and printed >= limit:
                break
    finally:
        src.close()


@dataclass(frozen=True, slots=True)
class Recorded:
    """What ``record`` did: the events written as visible, and how the command ended (its exit code, a
    negative signal number when a signal killed it, None if unknown)."""

    events: int
    exit_code: int | None


def record(path: str, command: list[str], source: str, filter_text: str = "", *,
           progress: Callable[[int], None] | None = None) -> Recorded:
    """Run ``command`` under the live ``source`` and write its events to ``path`` (format by suffix)."""
    flt = compile_filter(filter_text)
    existed = os.path.lexists(path)
    writer = open_writer(path)          # first: a bad name fails before the command runs
    try:
        src = open_source(source, select_events(SourceConfig(command=command), flt))
    except BaseException:
        writer.close()
        if not existed:                 # no recording of a run that never happened
            os.unlink(path)
        raise
    state = make_state(live=True) if flt is not None else None
    needed = state_event_types()
    n = 0
    try:
        threads = list(src.initial_threads())
        writer.write_threads(threads)
        if state is not None:
            state.seed(threads)
        for event in src.events():
            if state is not None and flt is not None:
                event = state.apply(event)
                if not flt(event):
                    if event.type not in needed:
                        continue
                    event.state_only = True
            writer.write_event(event)
            if not event.state_only:
                n += 1
                if progress is not None and n % PROGRESS_EVERY == 0:
                    progress(n)
    finally:
        src.close()
        writer.close()
    exit_code = getattr(src, "exit_code", None)
    return Recorded(n, exit_code if isinstance(exit_code, int) else None)
