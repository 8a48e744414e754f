"""``syswarden status [PID...] [--json]``: a table of processes' seccomp mode, filter count, no_new_privs and
capabilities."""
from __future__ import annotations

import json

import click

from syswarden.cli.table import render_table
from syswarden.sandbox.status import ProcessStatus, collect

HEADERS = ("PID", "COMM", "SECCOMP", "FILTERS", "NO_NEW_PRIVS", "CAPS")


def _row(status: ProcessStatus) -> tuple[str, ...]:
    return (str(status.pid), status.comm, status.seccomp.name.lower(), str(status.filters),
            "yes" if status.no_new_privs else "no", status.caps_summary)


@click.command("status")
@click.argument("pids", nargs=-1, type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per process instead of a table.")
def status(pids: tuple[int, ...], as_json: bool) -> None:
    """Show processes' seccomp mode, number of filters, no_new_privs and capabilities (all when no PID)."""
    found = list(collect(pids or None))
    missing = set(pids) - {s.pid for s in found}
    for pid in sorted(missing):
        click.echo(f"syswarden: no such process: {pid}", err=True)
    if as_json:
        for found_status in found:      # JSON Lines: one object per process, as the help says
            click.echo(json.dumps(found_status.to_json()))
    elif found:
        click.echo(render_table(HEADERS, [_row(s) for s in found], numeric={3}))
    if missing:
        raise SystemExit(1)
