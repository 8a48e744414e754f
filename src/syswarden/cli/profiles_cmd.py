"""``syswarden profiles list`` and ``syswarden profiles show NAME [--format yaml|docker]``: the built-in profiles."""
from __future__ import annotations

import click

from syswarden.cli.table import render_table
from syswarden.policy import profiles as registry
from syswarden.policy.load import dump_policy
from syswarden.policy.vocab import format_action


@click.group("profiles")
def profiles() -> None:
    """List and show built-in seccomp profiles."""


@profiles.command("list")
def list_cmd() -> None:
    """An aligned table of the built-in profiles, resolved for this machine."""
    rows = []
    for name, profile in registry.PROFILES.items():
        policy = registry.load(name)
        count = len({n for rule in policy.rules for n in rule.names})
        rows.append((name, format_action(policy.default_action), str(len(policy.rules)), str(count),
                     profile.summary, profile.origin))
    click.echo(render_table(("NAME", "DEFAULT", "RULES", "SYSCALLS", "DESCRIPTION", "SOURCE"), rows, numeric={2, 3}))


@profiles.command("show")
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(["yaml", "docker", "raw"]), default="yaml", show_default=True,
              help="yaml/docker: the profile as resolved for this machine; raw: the shipped data file.")
def show_cmd(name: str, fmt: str) -> None:
    """Print profile NAME as syswarden YAML or Docker/OCI JSON."""
    if fmt == "raw":
        click.echo(registry.text(name), nl=False)
        return
    click.echo(dump_policy(registry.load(name), fmt), nl=False)
