"""``syswarden capture``: read a capture like ``sysdig -r FILE -p FORMAT FILTER``, or record one from a command.

Reading (``--read``) runs the capture's events through state and prints the matching, user-visible events with a
``%field`` format; as in sysdig, a format starting with ``*`` prints every matching event, and without it an event
is skipped when one of the format's fields has no value. Writing (``-w FILE``) records a command with a live
source (eBPF or ptrace) into a ``.scap``/``.scap.gz`` capture or a ``.jsonl`` replay file.
"""
from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import click

from syswarden.errors import InputError
from syswarden.events.event import Event
from syswarden.sources.base import Source, SourceConfig, open_source
from syswarden.sources.recording import open_writer

if TYPE_CHECKING:
    from syswarden.rules.compiler import CompiledFilter

# sysdig's default line (sysdig -r FILE without -p)
DEFAULT_FORMAT = "*%evt.num %evt.time %evt.cpu %proc.name (%thread.tid) %evt.dir %evt.type %evt.info"
PROGRESS_EVERY = 100_000


@click.command()
@click.option("-r", "--read", "read_path", type=click.Path(dir_okay=False),
              help="Capture to read (.scap, .scap.gz, or a .jsonl replay).")
@click.option("-f", "--filter", "filter_text", default="", help="Falco/sysdig filter expression.")
@click.option("-p", "--print", "fmt", default=None, help="Output format with %%field tokens ('*' prefix: keep "
              "events with missing fields). Default: sysdig's line.")
@click.option("-n", "--count", "limit", type=int, default=None, help="Stop after this many printed events.")
@click.option("-w", "--write", "write_path", type=click.Path(dir_okay=False),
              help="Record to this file (.scap, .scap.gz or .jsonl); the command follows '--'.")
@click.option("--source", type=click.Choice(["ebpf", "ptrace"]), default="ebpf", show_default=True,
              help="Live source used with -w.")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def capture(read_path: str | None, filter_text: str, fmt: str | None, limit: int | None, write_path: str | None,
            source: str, args: tuple[str, ...]) -> None:
    """Read a capture like 'sysdig -r', or record a command into a capture.

    \b
    Examples:
      syswarden capture -r trace.scap.gz -p '%evt.num %proc.name %fd.name' 'evt.type=openat'
      syswarden capture -r trace.scap --filter 'proc.name=curl and evt.dir=<'
      syswarden capture -w out.scap -- curl -s https://example.com
      syswarden capture -w out.jsonl --source ptrace -- sh -c 'cat /etc/hostname'
    """
    if read_path and write_path:
        raise InputError("use either --read FILE or -w FILE, not both")
    if read_path:
        if len(args) > 1:
            raise InputError("--read takes at most one filter argument (quote the expression)")
        text = filter_text or (args[0] if args else "")
        count = print_capture(read_path, text, fmt or DEFAULT_FORMAT, limit, click.echo)
        if count == 0 and sys.stderr.isatty():
            click.echo("no matching events", err=True)
        return
    if write_path:
        if not args:
            raise InputError("-w FILE needs a command to record after '--'")
        n = record(write_path, list(args), source, filter_text)
        click.echo(f"wrote {n} events to {_quote(write_path)}", err=True)
        return
    raise InputError("nothing to do: expected --read FILE or -w FILE -- CMD")


def _quote(text: str) -> str:
    from syswarden.escaping import escape_text

    return escape_text(text)


def open_capture(path: str, judged: CompiledFilter | None = None) -> Source:
    """The source for a recording, chosen by its suffix (scap or JSONL replay), delivering what ``judged`` can
    match and state needs (others are still numbered, as sysdig numbers them)."""
    from syswarden.service.pipeline import choose_source
    from syswarden.service.selection import select_events

    return open_source(choose_source(path, None), select_events(SourceConfig(path=path), judged))


def with_state(src: Source) -> Iterator[Event]:
    """The source's events after state has attached threads and fds (state-only ones included)."""
    from syswarden.service.pipeline import make_state

    state = make_state()
    state.seed(src.initial_threads())
    for event in src.events():
        yield state.apply(event)


def compile_filter(text: str) -> CompiledFilter | None:
    """A filter expression compiled (None for an empty filter, which every event passes)."""
    if not text.strip():
        return None
    from syswarden.rules.compiler import compile_condition
    from syswarden.rules.filter.parser import parse

    return compile_condition(parse(text))


class LineFormat:
    """A sysdig ``-p`` format: render an event, or None when a field is missing and the format has no ``*``."""

    def __init__(self, fmt: str) -> None:
        from syswarden.rules.output_format import OutputFormat

        self.keep_missing = fmt.startswith("*")
        self.format = OutputFormat(fmt[1:] if self.keep_missing else fmt)

    def __call__(self, event: Event) -> str | None:
        text, values = self.format.render(event)
        if not self.keep_missing and any(v is None for v in values.values()):
            return None
        return _quote(text)


def print_capture(path: str, filter_text: str, fmt: str, limit: int | None, echo: Callable[[str], Any]) -> int:
    """Print the events of ``path`` that pass ``filter_text`` with ``fmt``; return how many were printed."""
    flt = compile_filter(filter_text)
    line = LineFormat(fmt)
    src = open_capture(path, flt)
    printed = seen = 0
    try:
        for event in with_state(src):
            seen += 1
            if seen % PROGRESS_EVERY == 0:
                click.echo(f"... {seen} events read, {printed} printed", err=True)
            if event.state_only or (flt is not None and not flt(event)):
                continue
            text = line(event)
            if text is None:
                continue
            echo(text)
            printed += 1
            if limit is not None and printed >= limit:
                break
    finally:
        src.close()
    return printed


def record(path: str, command: list[str], source: str, filter_text: str = "") -> int:
    """Run ``command`` under a live source and write its events to ``path``; return the events that matched.

    With a filter, events it rejects but the state engine needs (process lifecycle, fd changes) are still
    written, flagged state-only as libs does, so a replay of the recording has full process and fd context
    while showing only the matching events.
    """
    from syswarden.service.pipeline import make_state
    from syswarden.service.selection import select_events, state_event_types

    predicate = compile_filter(filter_text)
    src = open_source(source, select_events(SourceConfig(command=command), predicate))
    writer = open_writer(path)
    state = make_state(live=True) if predicate is not None else None
    n = 0
    try:
        threads = list(src.initial_threads())
        writer.write_threads(threads)
        if state is not None:
            state.seed(threads)
        for event in src.events():
            if state is not None and predicate is not None:
                event = state.apply(event)
                if not predicate(event):
                    if event.type not in state_event_types():
                        continue
                    event.state_only = True
            writer.write_event(event)
            if not event.state_only:
                n += 1
                if n % PROGRESS_EVERY == 0:
                    click.echo(f"... {n} events", err=True)
    finally:
        src.close()
        writer.close()
    return n

