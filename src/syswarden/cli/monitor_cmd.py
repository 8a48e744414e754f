"""``syswarden monitor``: run Falco-format rules over a recording (``--replay``) or live syscalls, print alerts.

Alerts go to stdout (or ``-o FILE``) as Falco text lines or JSON; the summary (events, drops, alerts per rule)
goes to stderr at exit and on SIGUSR1 (which also reopens the alert file, for log rotation, as Falco does), as
does progress on long replays. ``--write FILE`` records the events it saw as a scap capture or a JSONL replay.

``-c FILE`` reads a falco.yaml and ``--option KEY=VALUE`` overrides one of its keys (Falco's ``-o``; ours is
``--output-file``). Precedence: defaults < the file < ``--option`` < the flags given on the command line.
"""
from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import click
from click.core import ParameterSource

from syswarden.errors import InputError
from syswarden.escaping import escape_text
from syswarden.rules.alert import Priority
from syswarden.rules.ruleset import Selection
from syswarden.sources.base import SourceConfig
from syswarden.sources.syscall_decode import DEFAULT_SNAPLEN, MAX_SNAPLEN

if TYPE_CHECKING:  # the service modules (YAML, prometheus_client) load only when monitor runs
    from syswarden.outputs.fanout import Fanout
    from syswarden.rules.loader import LoadResult
    from syswarden.rules.ruleset import Ruleset
    from syswarden.service.config import MonitorConfig
    from syswarden.service.pipeline import Pipeline

PRIORITIES = [p.name.lower() for p in Priority] + ["info"]


def _priority(text: str) -> Priority:
    prio = Priority.parse(text)
    if prio is None:
        raise InputError(f"unknown priority {text!r}; expected one of: {', '.join(PRIORITIES)}")
    return prio


def _given(ctx: click.Context, name: str) -> bool:
    """True when the flag was on the command line (it then wins over falco.yaml and --option)."""
    return ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE


def _explain_filter(ruleset: Ruleset, *, kernel_filter: bool) -> None:
    """``--explain-filter``: the kernel prefilter a live run with these rules would load, as a table."""
    from syswarden.cli.table import render_table
    from syswarden.service.prefilter import explain_rows, summary
    from syswarden.service.selection import select_events

    prefilter = select_events(SourceConfig(), ruleset, kernel_filter=kernel_filter).prefilter
    if prefilter is None:
        click.echo("kernel prefilter: off (every event of the needed types reaches user space)")
        return
    for line in summary(prefilter):
        click.echo(escape_text(line))
    click.echo(render_table(["EVENT TYPE", "THE KERNEL SENDS", "NEEDED BY"], explain_rows(prefilter)))


@click.command(context_settings={"ignore_unknown_options": False})
@click.option("--replay", "replay", type=click.Path(exists=True),
              help="Read events from a recording (.jsonl replay, .scap/.scap.gz capture, or audit logs: a file or a "
                   "directory).")
@click.option("--source", type=click.Choice(["ebpf", "ptrace", "audit", "replay", "scap"]), default=None,
              help="Event source (default: by file suffix with --replay, ebpf when live). audit: the kernel's audit "
                   "stream live, or audit.log files with --replay.")
@click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False, exists=True),
              help="Read settings from a falco.yaml (outputs, JSON options, priority, rules files, append_output).")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
              help="Override a falco.yaml key, repeatable: dotted KEY, YAML VALUE (Falco's -o), "
                   "e.g. --option file_output.enabled=true.")
@click.option("-r", "--rules-file", "rules_files", multiple=True, type=click.Path(),
              help="Rules file or directory, repeatable, loaded in order (default: the stock Falco rules).")
@click.option("-o", "--output-file", type=click.Path(dir_okay=False), help="Append alerts to this file.")
@click.option("--json", "json_output", is_flag=True, help="Alerts as Falco JSON (one document per line).")
@click.option("-p", "--min-priority", default="debug", show_default=True, help="Only rules at or above this.")
@click.option("-D", "disable_names", multiple=True, help="Disable rules whose name contains NAME (or matches a glob).")
@click.option("-T", "disable_tags", multiple=True, help="Disable rules with this tag.")
@click.option("-t", "only_tags", multiple=True, help="Run only rules with this tag.")
@click.option("--all-matches", is_flag=True,
              help="Report every matching rule, not just the first (rule_matching: all).")
@click.option("-w", "--write", "write_path", type=click.Path(dir_okay=False),
              help="Also record the events to FILE (.scap/.scap.gz for sysdig, or .jsonl).")
@click.option("-q", "--quiet", is_flag=True, help="No summary on stderr.")
@click.option("--explain-filter", is_flag=True,
              help="Print, per event type, what the kernel prefilter drops and which rule or state need keeps "
                   "each condition open; then exit.")
@click.option("--no-kernel-filter", is_flag=True,
              help="Deliver every event of the needed types to user space (no kernel prefilter), for comparison.")
@click.option("--workers", type=click.IntRange(1, 256), default=None, metavar="N",
              help="Live eBPF source: decode, state and rules in N worker processes, sharded by process "
                   "(falco.yaml key 'ebpf.workers'; default 1: all in the monitor process).")
@click.option("-S", "--snaplen", type=click.IntRange(0, MAX_SNAPLEN), default=DEFAULT_SNAPLEN, show_default=True,
              help="Bytes of each I/O buffer (read/write/send/recv data) a live source captures, for the event "
                   f"types a rule reads them on (evt.buffer ...); 0: none. At most {MAX_SNAPLEN}.")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def monitor(ctx: click.Context, replay: str | None, source: str | None, config_path: str | None,
            options: tuple[str, ...], rules_files: tuple[str, ...], output_file: str | None,
            json_output: bool, min_priority: str, disable_names: tuple[str, ...], disable_tags: tuple[str, ...],
            only_tags: tuple[str, ...], all_matches: bool, write_path: str | None, quiet: bool,
            explain_filter: bool, no_kernel_filter: bool, workers: int | None, snaplen: int,
            command: tuple[str, ...]) -> None:
    """Watch syscalls (or replay a recording) and raise Falco-style alerts.

    \b
    Examples:
      syswarden monitor --replay trace.jsonl -r falco_rules.yaml
      syswarden monitor --replay capture.scap.gz --json -p warning
      syswarden monitor --source ptrace -- sh -c 'cat /etc/shadow'
      syswarden monitor --source audit -r audit_rules.yaml      # needs audit rules loaded (syswarden audit load)
      syswarden monitor --replay /var/log/audit/ -r audit_rules.yaml
      syswarden monitor --write incident.scap        # live, and keep the events for sysdig
      syswarden monitor -c falco.yaml --option json_output=true --replay trace.scap
    """
    _check_conflicts(replay, source, command)
    if workers is not None and workers > 1:
        _check_workers(replay, source, write_path)

    from syswarden.rules.loader import stock_rules_path
    from syswarden.service.rules_spec import SpecOf, load_selected
    from syswarden.service.settings import effective_config

    json_flag = json_output if _given(ctx, "json_output") else None
    matching_flag = ("all" if all_matches else "first") if _given(ctx, "all_matches") else None
    priority_flag = _priority(min_priority) if _given(ctx, "min_priority") else None

    spec_of = SpecOf()

    def settings() -> tuple[MonitorConfig, Ruleset, LoadResult]:
        """Config and rules as the command line says (again on SIGHUP). Explicit flags win."""
        cfg = effective_config(config_path, options, json_output=json_flag, rule_matching=matching_flag,
                               priority=priority_flag, rules_files=rules_files)
        selection = Selection(cfg.priority, disable_names, disable_tags, only_tags)
        ruleset, result, spec = load_selected(list(cfg.rules_files) or [stock_rules_path()], cfg.append_output,
                                              selection)
        spec_of.remember(ruleset, spec)
        return cfg, ruleset, result

    cfg, ruleset, result = settings()
    for warning in cfg.warnings:        # -q quiets the summary, not what is wrong with the user's config
        click.echo(f"syswarden: warning: {warning}", err=True)
    if result.warnings and not quiet:
        click.echo(f"syswarden: {len(result.warnings)} rules warnings (see 'syswarden rules validate')", err=True)
    if explain_filter:
        _explain_filter(ruleset, kernel_filter=not no_kernel_filter)
        return
    # drops are reported by syscall_event_drops (service/drop_actions), not by the source's own line
    config = SourceConfig(command=list(command) or None,
                          options={"ringbuf_bytes": str(cfg.ebpf.ring_buffer_size), "drop_report": "none"},
                          snaplen=snaplen)

    def progress(count: int) -> None:
        if not quiet:
            click.echo(f"... {count} events", err=True)

    from syswarden.service.pipeline import open_pipeline, shell_status
    from syswarden.service.runner import run_service

    def warn_enter_dialect(pipeline: Pipeline) -> Pipeline:
        for rule in pipeline.engine.enter_dialect:
            click.echo(escape_text(f"syswarden: warning: rule '{rule.name}' reads evt.dir (written for enter "
                                   "events); live sources emit exit events only, so each exit event is also "
                                   "evaluated as the enter event it stands for (evt.dir='>', evt.res <NA>; "
                                   "docs/rules.md)"), err=True)
        return pipeline

    # FALCO_HOSTNAME names the host in alerts, as in Falco (its test suite sets it), over a recording's own.
    hostname = os.environ.get("FALCO_HOSTNAME") or None
    shards = workers if workers is not None else cfg.ebpf.workers
    if shards > 1 and replay is None and source in (None, "ebpf") and write_path is None:
        from syswarden.service.shards import open_sharded_pipeline

        def opener(fanout: Fanout) -> Pipeline:
            return open_sharded_pipeline(ruleset, [fanout], workers=shards, spec_of=spec_of, config=config,
                                         rule_matching=cfg.rule_matching, hostname=hostname,
                                         kernel_filter=not no_kernel_filter)
    else:   # the config file's `workers` applies to the live eBPF source only (docs/config.md)
        def opener(fanout: Fanout) -> Pipeline:
            return open_pipeline(ruleset, [fanout], path=replay, source=source, config=config,
                                 rule_matching=cfg.rule_matching, hostname=hostname, progress=progress,
                                 write_path=write_path, kernel_filter=not no_kernel_filter)

    summary = run_service(cfg, ruleset, lambda fanout: warn_enter_dialect(opener(fanout)),
                          reload=lambda: settings()[:2], output_file=output_file, quiet=quiet,
                          config_path=config_path, source_label=replay or source or "ebpf",
                          log=lambda message: click.echo(message, err=True))
    if command and not summary.stopped:
        # CMD's status passes through, as with `run`; a monitor stopped by SIGTERM/SIGINT exits 0 as a service.
        sys.exit(shell_status(summary.exit_code))


def _check_workers(replay: str | None, source: str | None, write_path: str | None) -> None:
    """``--workers N`` shards the live eBPF source's records; anything else cannot be sharded."""
    if replay is not None or source not in (None, "ebpf"):
        raise click.UsageError("--workers shards the live eBPF source: it cannot be used with "
                               + ("--replay" if replay is not None else f"--source {source}"))
    if write_path is not None:
        raise click.UsageError("--write records the decoded events in one process: it cannot be used with "
                               "--workers above 1")


def _check_conflicts(replay: str | None, source: str | None, command: tuple[str, ...]) -> None:
    """Options that cannot go together are a usage error naming both, never one silently ignored."""
    if replay is not None and source in ("ebpf", "ptrace"):
        raise click.UsageError(f"--replay reads a recording but --source {source} watches live syscalls: "
                               "give one of them (--source replay|scap only says the recording's format)")
    if replay is not None and command:
        raise click.UsageError("--replay reads a recording, so there is no command to run: drop "
                               f"'-- {escape_text(' '.join(command))}' or --replay")
    if source in ("replay", "scap") and replay is None:
        raise click.UsageError(f"--source {source} reads a recording: give it with --replay FILE")
    if source == "ptrace" and not command:
        raise click.UsageError("--source ptrace needs a command to follow: syswarden monitor --source ptrace -- CMD")
