"""``syswarden audit search`` (like ausearch) and ``syswarden audit report`` (like aureport's summaries)."""
from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import click

from syswarden.errors import InputError
from syswarden.escaping import escape_text, json_line

DEFAULT_LOGS = "/var/log/audit"


def _events(files: tuple[str, ...], live: bool, command: tuple[str, ...], socket: str,
            duration: float | None) -> tuple[Any, Iterator[Any]]:
    """(the source, its reassembled audit events): from the logs, or live from the kernel."""
    from syswarden.sources.audit.source import AuditSource
    from syswarden.sources.base import SourceConfig

    if live and files:
        raise InputError("give log files or --live, not both")
    if command and not live:
        raise InputError("a command to run needs --live")
    if live:
        source = AuditSource(SourceConfig(command=list(command) or None, options={"socket": socket}))
        if duration is not None:
            source.stop_at = time.monotonic() + duration
        return source, source.audit_events()
    paths = list(files) or [DEFAULT_LOGS]
    sources = [AuditSource(SourceConfig(path=p)) for p in paths]

    def chain() -> Iterator[Any]:
        for src in sources:
            yield from src.audit_events()
    return sources[0], chain()


def _ints(values: tuple[str, ...], what: str) -> tuple[int, ...]:
    out = []
    for v in values:
        if v == "unset":
            out.append(-1)
            continue
        try:
            out.append(int(v))
        except ValueError:
            raise InputError(f"{what} must be a number (or unset), not {v!r}") from None
    return tuple(out)


def _query(key: tuple[str, ...], syscall: tuple[str, ...], pid: tuple[str, ...], uid: tuple[str, ...],
           auid: tuple[str, ...], session: tuple[str, ...], success: str | None, types: tuple[str, ...],
           exe: tuple[str, ...], comm: tuple[str, ...], node: tuple[str, ...], since: str | None,
           until: str | None) -> Any:
    from syswarden.audit.search import Query, parse_time

    return Query(keys=key, syscalls=syscall, pids=_ints(pid, "--pid"), uids=_ints(uid, "--uid"),
                 auids=_ints(auid, "--auid"), sessions=_ints(session, "--session"),
                 success=None if success is None else success == "yes", types=tuple(t.upper() for t in types),
                 exes=exe, comms=comm, nodes=node, since_ns=parse_time(since) if since else None,
                 until_ns=parse_time(until) if until else None)


def _criteria(fn: Any) -> Any:
    options = [
        click.option("-k", "--key", multiple=True, help="Events of rules with this key (repeatable: any)."),
        click.option("--syscall", "-sc", multiple=True, help="Syscall name (for the event's arch) or number."),
        click.option("--pid", "-p", multiple=True, help="Process id."),
        click.option("--uid", "-ui", multiple=True, help="Real user id."),
        click.option("--auid", "-ua", multiple=True, help="Login user id (unset for none)."),
        click.option("--session", multiple=True, help="Audit session id."),
        click.option("--success", "-sv", type=click.Choice(["yes", "no"]), help="Syscall success."),
        click.option("--type", "-m", "types", multiple=True, help="Record type (SYSCALL, SECCOMP, USER_LOGIN ...)."),
        click.option("--exe", "-x", multiple=True, help="Executable path."),
        click.option("--comm", "-c", multiple=True, help="Command name (comm)."),
        click.option("--node", "-n", multiple=True, help="Node name (node= prefixed logs)."),
        click.option("--since", "-ts", help="Start time (now, recent, today, yesterday, this-week, ..., "
                                            "YYYY-MM-DD [HH:MM[:SS]], @EPOCH)."),
        click.option("--until", "-te", help="End time (same forms)."),
        click.option("--live", is_flag=True, help="Read the kernel's audit stream instead of log files."),
        click.option("--socket", type=click.Choice(["auto", "unicast", "multicast"]), default="auto",
                     show_default=True, help="Live: as the audit daemon (unicast) or beside auditd (multicast)."),
        click.option("--duration", type=float, help="Live: stop after this many seconds."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


@click.command("search")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@_criteria
@click.option("--json", "as_json", is_flag=True, help="One normalised event per line (go-libaudit's aucoalesce).")
@click.option("--ecs", is_flag=True, help="One Auditbeat ECS document per line.")
@click.option("--no-resolve", is_flag=True, help="--ecs: keep uids and gids as numbers (no names).")
@click.option("--count", type=int, help="Stop after this many matching events.")
def search_cmd(args: tuple[str, ...], as_json: bool, ecs: bool, no_resolve: bool, count: int | None,
               live: bool, socket: str, duration: float | None, **criteria: Any) -> None:
    """Print the audit events that match, from log files (default /var/log/audit) or --live.

    \b
    FILES are audit logs (a directory means its audit.log* rotations, oldest first; - reads stdin). With
    --live, anything after -- is a command to run; only its process tree is reported and the search ends when
    it exits.
    Output: ausearch's raw form, --json or --ecs. Exit 1 when nothing matched (as ausearch).
    """
    from syswarden.audit.ecs import Resolver, document
    from syswarden.audit.coalesce import coalesce
    from syswarden.audit.search import matches, raw_text

    files, command = _split_args(args, live)
    query = _query(**criteria)
    resolver = None if no_resolve else Resolver.local()
    source, events = _events(files, live, command, socket, duration)
    found = 0
    try:
        for event in events:
            if not matches(event, query):
                continue
            found += 1
            if as_json or ecs:
                doc = document(event, resolve=resolver) if ecs else coalesce(event)
                if doc is not None:
                    click.echo(json_line(doc, sort_keys=False))
            else:
                click.echo("\n".join(escape_text(line) for line in raw_text(event).split("\n")))
            if count is not None and found >= count:
                break
    except KeyboardInterrupt:
        pass
    finally:
        if live:
            source.close()
    if not found:
        click.echo("<no matches>", err=True)
        raise SystemExit(1)


def _split_args(args: tuple[str, ...], live: bool) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if live:
        return (), args
    for arg in args:
        if arg.startswith("-") and arg != "-":     # "-": the log on stdin
            raise InputError(f"unknown option {arg!r} (a command after -- needs --live)")
    return args, ()


@click.command("report")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@_criteria
@click.option("--top", type=int, default=20, show_default=True, help="Rows per table.")
def report_cmd(args: tuple[str, ...], top: int, live: bool, socket: str, duration: float | None,
               **criteria: Any) -> None:
    """aureport's summaries of the matching events: by key, syscall, executable, login user, result, hour."""
    from syswarden.audit.report import Report
    from syswarden.audit.search import facts, matches
    from syswarden.cli.table import render_table as table

    files, command = _split_args(args, live)
    query = _query(**criteria)
    source, events = _events(files, live, command, socket, duration)
    report = Report()
    try:
        for event in events:
            f = facts(event)
            if matches(event, query, f):
                report.add(event, f)
    except KeyboardInterrupt:
        pass
    finally:
        if live:
            source.close()
    click.echo(render(report, top, table))


def _when(ns: int | None) -> str:
    return "-" if ns is None else time.strftime("%m/%d/%Y %H:%M:%S", time.localtime(ns / 1e9))


def render(report: Any, top: int, table: Any) -> str:
    parts = ["Summary Report", "=" * 22, f"Range of time in logs: {_when(report.first_ns)} - {_when(report.last_ns)}",
             f"Number of events: {report.events}",
             f"Number of failed syscalls: {report.success.get('no', 0)}", ""]
    for title, counter, column in (("Key Summary Report", report.keys, "key"),
                                   ("Syscall Summary Report", report.syscalls, "syscall"),
                                   ("Executable Summary Report", report.executables, "file"),
                                   ("User Summary Report", report.users, "auid"),
                                   ("Success Summary Report", report.success, "success"),
                                   ("Record Type Summary Report", report.types, "type")):
        parts += [title, table(["total", column], [[str(n), name] for name, n in counter.most_common(top)],
                                numeric=(0,)), ""]
    busiest = max(report.hours.values(), default=1)
    bars = [[time.strftime("%Y-%m-%d %H:00", time.localtime(hour)), str(n), "#" * max(1, round(40 * n / busiest))]
            for hour, n in sorted(report.hours.items())]
    parts += ["Events per Hour", table(["hour", "events", ""], bars, numeric=(1,))]
    return "\n".join(parts)
