"""``syswarden monitor``: run Falco-format rules over a recording (``--replay``) or live syscalls, print alerts.

Alerts go to stdout (or ``-o FILE``) as Falco text lines or JSON; the summary (events, drops, alerts per rule)
goes to stderr at exit and on SIGUSR1 (which also reopens the alert file, for log rotation, as Falco does), as
does progress on long replays. ``--write FILE`` records the events it saw as a scap capture or a JSONL replay.

``-c FILE`` reads a falco.yaml and ``--option KEY=VALUE`` overrides one of its keys (Falco's ``-o``; ours is
``--output-file``). Precedence: defaults < the file < ``--option`` < the flags given on the command line.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import os

import click
from click.core import ParameterSource

from syswarden.errors import InputError
from syswarden.rules.alert import Priority
from syswarden.rules.engine import Engine
from syswarden.rules.ruleset import Selection
from syswarden.sources.base import SourceConfig

if TYPE_CHECKING:  # the service modules (YAML, prometheus_client) load only when monitor runs
    from syswarden.rules.loader import LoadResult
    from syswarden.rules.ruleset import Ruleset
    from syswarden.service.config import MonitorConfig

PRIORITIES = [p.name.lower() for p in Priority] + ["info"]


def _priority(text: str) -> Priority:
    prio = Priority.parse(text)
    if prio is None:
        raise InputError(f"unknown priority {text!r}; expected one of: {', '.join(PRIORITIES)}")
    return prio


def _given(ctx: click.Context, name: str) -> bool:
    """True when the flag was on the command line (it then wins over falco.yaml and --option)."""
    return ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE


@click.command(context_settings={"ignore_unknown_options": False})
@click.option("--replay", "replay", type=click.Path(dir_okay=False, exists=True),
              help="Read events from a recording (.jsonl replay or .scap/.scap.gz capture).")
@click.option("--source", type=click.Choice(["ebpf", "ptrace", "replay", "scap"]), default=None,
              help="Event source (default: by file suffix with --replay, ebpf when live).")
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
@click.option("--all-matches", is_flag=True, help="Report every matching rule, not just the first (rule_matching: all).")
@click.option("-w", "--write", "write_path", type=click.Path(dir_okay=False),
              help="Also record the events to FILE (.scap/.scap.gz for sysdig, or .jsonl).")
@click.option("-q", "--quiet", is_flag=True, help="No summary on stderr.")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def monitor(ctx: click.Context, replay: str | None, source: str | None, config_path: str | None,
            options: tuple[str, ...], rules_files: tuple[str, ...], output_file: str | None,
            json_output: bool, min_priority: str, disable_names: tuple[str, ...], disable_tags: tuple[str, ...],
            only_tags: tuple[str, ...], all_matches: bool, write_path: str | None, quiet: bool,
            command: tuple[str, ...]) -> None:
    """Watch syscalls (or replay a recording) and raise Falco-style alerts.

    \b
    Examples:
      syswarden monitor --replay trace.jsonl -r falco_rules.yaml
      syswarden monitor --replay capture.scap.gz --json -p warning
      syswarden monitor --source ptrace -- sh -c 'cat /etc/shadow'
      syswarden monitor --write incident.scap        # live, and keep the events for sysdig
      syswarden monitor -c falco.yaml --option json_output=true --replay trace.scap
    """
    from syswarden.cli.rules_cmd import load_or_fail
    from syswarden.service.pipeline import apply_append_output, open_pipeline
    from syswarden.service.settings import effective_config

    flags = {"json_output": json_output if _given(ctx, "json_output") else None,
             "rule_matching": ("all" if all_matches else "first") if _given(ctx, "all_matches") else None,
             "priority": _priority(min_priority) if _given(ctx, "min_priority") else None,
             "rules_files": rules_files}

    def settings() -> tuple[MonitorConfig, Ruleset, LoadResult]:
        """Config and rules as the command line says (again on SIGHUP). Explicit flags win."""
        cfg = effective_config(config_path, options, **flags)
        ruleset, result = load_or_fail(list(cfg.rules_files))
        selection = Selection(cfg.priority, disable_names, disable_tags, only_tags)
        return cfg, apply_append_output(ruleset, cfg.append_output).select(selection), result

    cfg, ruleset, result = settings()
    if not quiet:
        for warning in cfg.warnings:
            click.echo(f"syswarden: warning: {warning}", err=True)
    if result.warnings and not quiet:
        click.echo(f"syswarden: {len(result.warnings)} rules warnings (see 'syswarden rules validate')", err=True)
    # FALCO_HOSTNAME names the host in alerts, as in Falco (its test suite sets it).
    hostname = os.environ.get("FALCO_HOSTNAME") or None
    engine = Engine(ruleset, rule_matching=cfg.rule_matching, hostname=hostname)
    config = SourceConfig(command=list(command) or None)
    if replay is None and not command and source == "ptrace":
        raise InputError("--source ptrace needs a command to follow: syswarden monitor --source ptrace -- CMD")

    def progress(count: int) -> None:
        if not quiet:
            click.echo(f"... {count} events", err=True)

    from syswarden.service.runner import run_service

    run_service(cfg, ruleset, engine, lambda fanout: open_pipeline(
        ruleset, engine, [fanout], path=replay, source=source, config=config, progress=progress,
        write_path=write_path), reload=lambda: settings()[:2], output_file=output_file, quiet=quiet,
        config_path=config_path, source_label=replay or source or ("ptrace" if command else "ebpf"),
        hostname=hostname, log=lambda message: click.echo(message, err=True))
