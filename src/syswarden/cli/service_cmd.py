"""``syswarden config validate|show`` and ``syswarden service install``.

``config validate [FILE]`` (default ``/etc/syswarden/syswarden.yaml``) checks every key's type and the output
settings that can be checked without connecting (addresses, URLs, TLS files), prints the warnings, and exits 2
on the first error, which names ``file:line:col``. ``config show`` prints the effective configuration as
``monitor`` would run it: defaults < ``-c FILE`` < ``--option`` < the flags. ``service install`` writes the
systemd unit and the default config under ``--root`` (``/``).
"""
from __future__ import annotations

import click
import yaml

from syswarden.errors import InputError
from syswarden.input_file import open_regular
from syswarden.escaping import escape_text
from syswarden.rules.alert import Priority


@click.group()
def config() -> None:
    """Validate and show syswarden's configuration (falco.yaml keys)."""


@config.command("validate")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
def validate_cmd(path: str | None) -> None:
    """Check a config file: types, positions, output addresses (default /etc/syswarden/syswarden.yaml)."""
    from syswarden.service.config import load_config
    from syswarden.service.delivery import check_outputs
    from syswarden.service.settings import DEFAULT_CONFIG

    target = path or DEFAULT_CONFIG
    open_regular(target, InputError, what="config file").close()   # a FIFO or device: refused, not waited on
    cfg = load_config(target)
    check_outputs(cfg)
    for warning in cfg.warnings:
        click.echo(f"syswarden: warning: {escape_text(warning)}", err=True)
    click.echo(escape_text(f"{target}: valid" + (f" ({len(cfg.warnings)} warnings)" if cfg.warnings else "")))


@config.command("show")
@click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False, exists=True),
              help="The config file (as monitor -c).")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE", help="Override a key (as monitor).")
@click.option("-r", "--rules-file", "rules_files", multiple=True, help="As monitor -r.")
@click.option("--json", "json_output", is_flag=True, default=None, help="As monitor --json.")
@click.option("-p", "--min-priority", default=None, help="As monitor -p.")
@click.option("--all-matches", is_flag=True, default=None, help="As monitor --all-matches.")
def show_cmd(config_path: str | None, options: tuple[str, ...], rules_files: tuple[str, ...],
             json_output: bool | None, min_priority: str | None, all_matches: bool | None) -> None:
    """Print the effective configuration: defaults < file < --option < flags."""
    from syswarden.service.settings import config_document, effective_config

    priority = None
    if min_priority is not None:
        priority = Priority.parse(min_priority)
        if priority is None:
            raise InputError(f"unknown priority {min_priority!r}")
    cfg = effective_config(config_path, options, json_output=json_output or None, priority=priority,
                           rule_matching="all" if all_matches else None, rules_files=rules_files)
    for warning in cfg.warnings:
        click.echo(f"syswarden: warning: {escape_text(warning)}", err=True)
    click.echo(yaml.safe_dump(config_document(cfg), sort_keys=False, allow_unicode=False), nl=False)


@click.group()
def service() -> None:
    """Run syswarden as a system service."""


@service.command("install")
@click.option("--root", default="/", show_default=True, type=click.Path(file_okay=False),
              help="Install into this tree (packaging, tests) instead of the running system.")
@click.option("--force", is_flag=True, help="Overwrite an existing /etc/syswarden/syswarden.yaml.")
def install_cmd(root: str, force: bool) -> None:
    """Write the hardened systemd unit and a default /etc/syswarden/syswarden.yaml."""
    from syswarden.service.install import install

    done = install(root, force=force)
    click.echo(escape_text(f"wrote {done.unit}"))
    click.echo(escape_text(f"{'wrote' if done.config_written else 'kept the existing'} {done.config}"))
    if root == "/":
        click.echo("next: systemctl daemon-reload && systemctl enable --now syswarden")
