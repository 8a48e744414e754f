"""``syswarden alerts tail|report``: follow and summarize the fleet's alerts on a NATS JetStream bus.

``tail --from nats://HOST:4222 [--host H] [-p PRIORITY] [--json] [--all] [-n COUNT] [--no-follow]`` prints
alerts as they arrive (``HOST: <Falco text line>``, or the JSON document); ``report`` counts the stream's alerts
by host, rule and priority. A message that is not an alert is reported on stderr with its stream sequence.
The reading is in ``service/fleet.py``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from syswarden.errors import InputError
from syswarden.escaping import escape_text, json_line
from syswarden.rules.alert import Priority

if TYPE_CHECKING:
    from syswarden.service.fleet import Query

DEFAULT_BUS = "nats://127.0.0.1:4222"


def _query(url: str, stream: str, host: str | None, priority: str, **extra: Any) -> Query:
    from syswarden.service.fleet import Query

    prio = Priority.parse(priority)
    if prio is None:
        raise InputError(f"unknown priority {priority!r}; expected one of: "
                         f"{', '.join(p.name.lower() for p in Priority)}")
    if not url.startswith(("nats://", "tls://")):
        raise InputError(f"--from {url!r}: expected nats://HOST:PORT")
    return Query(url=url, stream=stream, host=host, min_priority=prio, **extra)


def _common(func: Any) -> Any:
    func = click.option("--from", "url", default=DEFAULT_BUS, show_default=True, help="The NATS server.")(func)
    func = click.option("--stream", default="SYSWARDEN_ALERTS", show_default=True, help="JetStream stream.")(func)
    func = click.option("--host", default=None, help="Only this host's alerts.")(func)
    func = click.option("-p", "--min-priority", "priority", default="debug", show_default=True,
                        help="Only alerts at or above this priority.")(func)
    return func


@click.group()
def alerts() -> None:
    """Follow and summarize the alerts a fleet of monitors publishes to NATS JetStream (nats_output)."""


@alerts.command("tail")
@_common
@click.option("--json", "as_json", is_flag=True, help="Print each alert's JSON document.")
@click.option("--all", "since_start", is_flag=True, help="Start at the stream's first alert, not the next one.")
@click.option("-n", "--count", type=click.IntRange(min=0), default=0, help="Stop after COUNT alerts.")
@click.option("--no-follow", is_flag=True, help="Stop at the end of the stream (with --all).")
def tail_cmd(url: str, stream: str, host: str | None, priority: str, as_json: bool, since_start: bool,
             count: int, no_follow: bool) -> None:
    """Print the fleet's alerts as they arrive.

    \b
    Examples:
      syswarden alerts tail --from nats://bus:4222 -p warning
      syswarden alerts tail --host web-1 --all --no-follow --json
    """
    from syswarden.service.fleet import BusAlert, tail

    query = _query(url, stream, host, priority, since_start=since_start, count=count, follow=not no_follow)

    def emit(alert: BusAlert) -> None:
        if alert.doc is None:
            click.echo(f"syswarden: stream message {alert.seq}: {escape_text(alert.problem)}; skipped", err=True)
        else:
            click.echo(json_line(alert.doc) if as_json else alert.text())

    try:
        tail(query, emit)
    except KeyboardInterrupt:
        pass


@alerts.command("report")
@_common
def report_cmd(url: str, stream: str, host: str | None, priority: str) -> None:
    """Count the stream's alerts by host, rule and priority."""
    from syswarden.cli.table import render_table
    from syswarden.service.fleet import report

    rep = report(_query(url, stream, host, priority))
    click.echo(f"Alerts: {rep.total}" + (f" (+{rep.invalid} messages that are not alerts)" if rep.invalid else ""))
    for title, counter in (("host", rep.by_host), ("rule", rep.by_rule), ("priority", rep.by_priority)):
        if counter:
            click.echo("")
            click.echo(render_table([title, "alerts"], [[k, str(v)] for k, v in counter.most_common()], {1}))
