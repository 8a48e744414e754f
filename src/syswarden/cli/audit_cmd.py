"""``syswarden audit``: auditctl rules (load, list, delete-all, status, check, translate) and, from
``audit_search_cmd``, the ausearch/aureport side (search, report)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import click

from syswarden.errors import InputError, KernelError
from syswarden.escaping import escape_text

if TYPE_CHECKING:
    from syswarden.audit.rule_model import RulesFile


@click.group()
def audit() -> None:
    """Linux audit: load auditctl rules, read and search audit events, report on them.

    \b
    Examples:
      syswarden audit check /etc/audit/rules.d/*.rules
      syswarden audit load 30-stig.rules          # all or nothing; errors name file:line:col
      syswarden audit list                        # the kernel's rules, as auditctl -l prints them
      syswarden audit status
      syswarden audit translate 43-module-load.rules > module-load.yaml
      syswarden audit search /var/log/audit/audit.log -k identity --ecs
      syswarden audit report /var/log/audit/audit.log
    """


def _warn(message: str) -> None:
    click.echo(f"syswarden: warning: {escape_text(message)}", err=True)


def read_files(paths: tuple[str, ...], allow_immutable: bool = False, quiet: bool = False,
               strict_names: bool = True) -> list[RulesFile]:
    """Parse and check every file before anything touches the kernel (``strict_names=False``: a file for another
    machine, whose user and group names need not exist here)."""
    from syswarden.audit.rules_file import read_rules_file

    parsed: list[RulesFile] = []
    for path in paths:
        rules = read_rules_file(path, allow_immutable=allow_immutable, strict_names=strict_names)
        if not quiet:
            for warning in rules.warnings:
                _warn(str(warning))
        parsed.append(rules)
    return parsed


@audit.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("-q", "--quiet", is_flag=True, help="No warnings.")
def check_cmd(files: tuple[str, ...], quiet: bool) -> None:
    """Parse and check rules files without loading them; print the rules in auditctl's listing form."""
    from syswarden.audit.rule_listing import listing

    for rules in read_files(files, allow_immutable=True, quiet=quiet, strict_names=False):
        for rule in rules.rules:
            click.echo(escape_text(listing(rule)))


@audit.command("load")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--allow-immutable", is_flag=True,
              help="Accept -e 2 and --loginuid-immutable, which lock the configuration until reboot.")
@click.option("-q", "--quiet", is_flag=True, help="No warnings or summary.")
def load_cmd(files: tuple[str, ...], allow_immutable: bool, quiet: bool) -> None:
    """Load auditctl rules files into the kernel, each all or nothing.

    Every file is parsed and checked first; then each is applied in order. When the kernel refuses a line, what
    that file changed is undone and the error names the line."""
    from syswarden.audit import control

    for rules in read_files(files, allow_immutable, quiet):
        report = control.load(rules, allow_immutable=allow_immutable)
        for ignored in report.ignored:
            _warn(f"ignored (-i): {ignored}")
        if not quiet:
            click.echo(f"{escape_text(rules.name)}: {report.added} rules added, {report.deleted} deleted, "
                       f"{report.settings} settings", err=True)


def _kernel(action: str) -> KernelError:
    return KernelError(f"cannot {action}: the audit netlink socket refused (root or CAP_AUDIT_CONTROL is needed)")


@audit.command("list")
@click.option("-k", "--key", help="Only rules whose key contains KEY.")
def list_cmd(key: str | None) -> None:
    """Print the kernel's audit rules in auditctl's canonical form (as ``auditctl -l``)."""
    from syswarden.audit.rule_encode import RuleDecodeError, decode
    from syswarden.audit.rule_listing import listing
    from syswarden.kernel import audit_netlink

    try:
        raws = audit_netlink.list_rules()
    except OSError:
        raise _kernel("list the rules") from None
    lines = []
    for raw in raws:
        try:
            rule = decode(raw)
        except RuleDecodeError as exc:      # a list or field newer than syswarden knows: said, not hidden
            if key is None:
                lines.append(f"# a rule syswarden cannot decode: {exc}")
            continue
        if key is None or any(key in k for k in rule.keys):
            lines.append(listing(rule))
    if not lines:
        click.echo("No rules")
    for line in lines:
        click.echo(escape_text(line))


@audit.command("delete-all")
@click.option("-k", "--key", help="Only rules whose key contains KEY (auditctl -D -k KEY).")
def delete_all_cmd(key: str | None) -> None:
    """Delete every audit rule in the kernel (auditctl -D), or those with a key."""
    from syswarden.audit.control import delete_all

    try:
        count = delete_all(key)
    except OSError:
        raise _kernel("delete the rules") from None
    click.echo(f"{count} rules deleted", err=True)


@audit.command("status")
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
def status_cmd(as_json: bool) -> None:
    """The kernel's audit status: enabled, failure mode, daemon pid, limits, backlog and lost records."""
    from syswarden.escaping import json_line
    from syswarden.kernel import audit_netlink

    try:
        status = audit_netlink.get_status()
    except OSError:
        raise _kernel("read the audit status") from None
    status.pop("mask", None)
    status.pop("feature_bitmap", None)
    if as_json:
        click.echo(json_line(status, sort_keys=False))
        return
    width = max(len(k) for k in status)
    for name, value in status.items():
        click.echo(f"{name.ljust(width)}  {value}")


@audit.command("translate")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("-q", "--quiet", is_flag=True, help="No notes on stderr about what could not be translated.")
def translate_cmd(files: tuple[str, ...], quiet: bool) -> None:
    """Turn audit rules into Falco-format rules (YAML on stdout) that fire on the same actions from eBPF events."""
    from syswarden.audit.translate import translate, to_yaml

    result = []
    for rules in read_files(files, allow_immutable=True, quiet=True, strict_names=False):
        translated, notes = translate(rules)
        result.extend(translated)
        if not quiet:
            for note in notes:
                _warn(note)
    if not result:
        raise InputError("no rule could be translated")
    click.echo(to_yaml(result), nl=False)


def _register_search() -> None:
    from syswarden.cli.audit_search_cmd import report_cmd, search_cmd

    audit.add_command(search_cmd)
    audit.add_command(report_cmd)


_register_search()
