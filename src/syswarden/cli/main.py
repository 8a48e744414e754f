"""Entry point: the ``syswarden`` click group, its command sections, and the one place errors become exit codes.

Commands live in their own modules and are imported only when used, so ``syswarden --help`` stays fast and a
command whose optional parts (eBPF, libseccomp) are missing does not break the others.
"""
from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from syswarden import __version__
from syswarden.errors import SyswardenError

# (section, command name, "module:attribute", one-line help shown before the module is imported)
COMMANDS: tuple[tuple[str, str, str, str], ...] = (
    ("Enforcement", "run", "syswarden.cli.run_cmd:run", "Run a command confined by seccomp and Landlock."),
    ("Enforcement", "profiles", "syswarden.cli.profiles_cmd:profiles", "List and show built-in profiles."),
    ("Enforcement", "compile", "syswarden.cli.seccomp_cmds:compile_cmd", "Compile a policy to seccomp BPF."),
    ("Enforcement", "check", "syswarden.cli.seccomp_cmds:check_cmd", "Show what a policy does with one syscall."),
    ("Enforcement", "disasm", "syswarden.cli.seccomp_cmds:disasm_cmd", "Disassemble a compiled seccomp filter."),
    ("Enforcement", "convert", "syswarden.cli.convert_cmd:convert", "Convert a policy between formats."),
    ("Enforcement", "record", "syswarden.cli.record_cmd:record",
     "Trace a command and write the smallest policy that lets it run."),
    ("Enforcement", "syscalls", "syswarden.cli.syscalls_cmd:syscalls", "Look up syscall names, numbers and groups."),
    ("Auditing", "monitor", "syswarden.cli.monitor_cmd:monitor", "Watch syscalls and raise Falco-style alerts."),
    ("Auditing", "capture", "syswarden.cli.capture_cmd:capture", "Record or read event captures (jsonl, scap)."),
    ("Auditing", "rules", "syswarden.cli.rules_cmd:rules", "Validate, list and explore Falco-format rules."),
    ("Auditing", "audit", "syswarden.cli.audit_cmd:audit", "Linux audit: auditctl rules, audit logs, search, report."),
    ("Auditing", "alerts", "syswarden.cli.alerts_cmd:alerts", "Follow and summarize a fleet's alerts on NATS."),
    ("Service", "config", "syswarden.cli.service_cmd:config", "Validate and show the effective configuration."),
    ("Service", "service", "syswarden.cli.service_cmd:service", "Install syswarden as a systemd service."),
    ("Inspection", "status", "syswarden.cli.status_cmd:status", "Show processes' seccomp and privilege state."),
)


class SectionedGroup(click.Group):
    """A group whose commands load on first use and whose --help lists them by section."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for _, name, _, _ in COMMANDS]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        for _, name, target, _ in COMMANDS:
            if name == cmd_name:
                module_name, attr = target.split(":")
                try:
                    module = importlib.import_module(module_name)
                except ModuleNotFoundError as exc:
                    if exc.name != module_name:
                        raise
                    return None
                command: click.Command = getattr(module, attr)
                return command
        return None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        sections: dict[str, list[tuple[str, str]]] = {}
        for section, name, _, short in COMMANDS:
            sections.setdefault(section, []).append((name, short))
        for section, rows in sections.items():
            with formatter.section(f"{section} commands"):
                formatter.write_dl(rows)


@click.group(cls=SectionedGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="syswarden")
def cli() -> None:
    """syswarden: confine programs with seccomp and Landlock, and audit syscalls with Falco-format rules.

    \b
    Examples:
      syswarden run --profile docker-default -- sh -c 'unshare --user true'
      syswarden run --drop bind --errno EPERM -- python3 -m http.server
      syswarden compile policy.yaml --format asm
      syswarden monitor -r falco_rules.yaml
      syswarden monitor --replay capture.scap -r falco_rules.yaml
    """


def main(argv: list[str] | None = None) -> Any:
    """Run the CLI; syswarden errors print to stderr (with their source snippet) and exit with their code."""
    try:
        return cli.main(args=argv, prog_name="syswarden", standalone_mode=True)
    except SyswardenError as err:
        click.echo(f"syswarden: error: {err.detail()}", err=True)
        sys.exit(err.exit_code)
