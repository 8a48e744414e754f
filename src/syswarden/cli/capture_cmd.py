"""``syswarden capture``: read a capture like ``sysdig -r FILE -p FORMAT FILTER``, or record one from a command.

This module parses options and prints; the pipelines are ``service.capture`` (``read_capture``, ``record``).
As in sysdig, the filter may be given as unquoted words after the options (``capture -r F evt.type=open and
proc.name=cat``): the words are joined with spaces, after ``--filter``'s value when both are given.
"""
from __future__ import annotations

import sys

import click
from click.core import ParameterSource

from syswarden.escaping import escape_text

# Options that belong to one mode only: given in the other, they would be silently ignored.
_READ_ONLY = {"fmt": "-p/--print", "limit": "-n/--count"}
_WRITE_ONLY = {"source": "--source"}


@click.command()
@click.option("-r", "--read", "read_path", type=click.Path(dir_okay=False),
              help="Capture to read (.scap, .scap.gz, or a .jsonl replay; recognised by content).")
@click.option("-f", "--filter", "filter_text", default="", help="Falco/sysdig filter expression.")
@click.option("-p", "--print", "fmt", default=None, help="Output format with %%field tokens ('*' prefix: keep "
              "events with missing fields). Default: sysdig's line.")
@click.option("-n", "--count", "limit", type=click.IntRange(min=0), default=None,
              help="Stop after this many printed events.")
@click.option("-w", "--write", "write_path", type=click.Path(dir_okay=False),
              help="Record to this file (.scap, .scap.gz or .jsonl); the command follows '--'.")
@click.option("--source", type=click.Choice(["ebpf", "ptrace"]), default="ebpf", show_default=True,
              help="Live source used with -w.")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def capture(ctx: click.Context, read_path: str | None, filter_text: str, fmt: str | None, limit: int | None,
            write_path: str | None, source: str, args: tuple[str, ...]) -> None:
    """Read a capture like 'sysdig -r', or record a command into a capture.

    With -r, ARGS are filter words (joined with spaces, as sysdig does). With -w, ARGS are the command to
    record, after '--'; capture then exits with the command's status.

    \b
    Examples:
      syswarden capture -r trace.scap.gz -p '%evt.num %proc.name %fd.name' 'evt.type=openat'
      syswarden capture -r trace.scap evt.type=open and proc.name=cat
      syswarden capture -r trace.scap --filter 'proc.name=curl and evt.dir=<'
      syswarden capture -w out.scap -- curl -s https://example.com
      syswarden capture -w out.jsonl --source ptrace -- sh -c 'cat /etc/hostname'
    """
    from syswarden.service.capture import DEFAULT_FORMAT, read_capture, record
    from syswarden.service.pipeline import shell_status

    given = {name for name in ctx.params if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE}
    if read_path and write_path:
        raise click.UsageError("-r/--read and -w/--write conflict: read a capture or record one, not both")
    if read_path:
        _refuse(given, _WRITE_ONLY, "-r/--read")
        words = " ".join(w for w in (filter_text, *args) if w)
        printed = 0
        for line in read_capture(read_path, words, fmt or DEFAULT_FORMAT, limit=limit, progress=_progress):
            click.echo(line)
            printed += 1
        if printed == 0 and sys.stderr.isatty():
            click.echo("no matching events", err=True)
        return
    if write_path:
        _refuse(given, _READ_ONLY, "-w/--write")
        if not args:
            raise click.UsageError("-w FILE needs a command to record after '--'")
        done = record(write_path, list(args), source, filter_text, progress=_progress)
        click.echo(f"wrote {done.events} events to {escape_text(write_path)}", err=True)
        sys.exit(shell_status(done.exit_code))
    raise click.UsageError("nothing to do: expected -r FILE [FILTER] or -w FILE -- CMD")


def _refuse(given: set[str], other_mode: dict[str, str], mode: str) -> None:
    for name, flag in other_mode.items():
        if name in given:
            raise click.UsageError(f"{flag} does not apply with {mode}")


def _progress(count: int) -> None:
    click.echo(f"... {count} events", err=True)
