"""The top-level CLI: help lists every command section, errors map to exit codes."""
from __future__ import annotations

import click
from click.testing import CliRunner

from syswarden.cli.main import cli, main
from syswarden.errors import PolicySyntaxError
from syswarden.spans import SourceText, Span


def test_help_lists_sections() -> None:
    """--help groups commands by job."""
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for section in ("Enforcement commands", "Auditing commands", "Inspection commands"):
        assert section in result.output


def test_syswarden_error_goes_to_stderr_with_exit_2(monkeypatch, capsys) -> None:
    """A SyswardenError raised by a command prints file:line:col and a caret to stderr and exits 2."""
    src = SourceText("p.yaml", "default: allow\nrules: [\n")

    @cli.command("boom-test")
    def boom() -> None:
        raise PolicySyntaxError("expected ']'", span=Span("p.yaml", 2, 8), source=src)

    try:
        try:
            main(["boom-test"])
        except SystemExit as exc:
            assert exc.code == 2
        err = capsys.readouterr().err
        assert "p.yaml:2:8: expected ']'" in err
        assert "rules: [\n       ^" in err
    finally:
        cli.commands.pop("boom-test", None)


def test_unknown_command_is_usage_error() -> None:
    result = CliRunner().invoke(cli, ["no-such-command"])
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit) or result.exception is None
    assert "No such command" in result.output
    assert click is not None
