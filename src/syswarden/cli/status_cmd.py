"""``syswarden status [PID...] [--json]``: a table of processes' seccomp mode, filter count, no_new_privs and
capabilities."""
from __future__ import annotations

import json
from collections.abc import Sequence

import click

from syswarden.escaping import escape_text
from syswarden.sandbox.status import ProcessStatus, collect

HEADERS = ("PID", "COMM", "SECCOMP", "FILTERS", "NO_NEW_PRIVS", "CAPS")


def _row(status: ProcessStatus) -> tuple[str, ...]:
    return (str(status.pid), escape_text(status.comm), status.seccomp.name.lower(), str(status.filters),
            "yes" if status.no_new_privs else "no", status.caps_summary)


def format_table(rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns, each as wide as its widest cell."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows)


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
        click.echo(json.dumps([s.to_json() for s in found], indent=2))
    elif found:
        click.echo(format_table([HEADERS, *(_row(s) for s in found)]))
    if missing:
        raise SystemExit(1)
