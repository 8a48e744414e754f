"""syswarden monitor --explain-filter and --no-kernel-filter."""
from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from syswarden.cli.main import cli


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner(mix_stderr=False).invoke(cli, ["monitor", *args])
    return result.exit_code, result.stdout, result.stderr


def test_explain_filter_with_the_stock_rules() -> None:
    code, out, _err = _run("--explain-filter")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("delivered: ") and "filtered in the kernel" in lines[0]
    assert lines[1] == "fd-gated (sent only for fds user space knows): close, dup, dup2, dup3, fcntl"
    header = lines[2].split()
    assert header[:3] == ["EVENT", "TYPE", "THE"]
    openat = [line for line in lines if line.startswith("openat ")]
    assert any("Read sensitive file untrusted" in line and "comm not in" in line for line in openat)
    assert any("returns a directory" in line and "state: a directory fd" in line for line in openat)
    assert any(line.startswith("execve ") and "kills prefiltering of execve" in line for line in lines)
    column = lines[2].index("THE KERNEL SENDS")               # aligned: every row's second cell starts there
    assert all(line[column - 1] == " " and line[column] != " " for line in lines[3:] if line[:1] != " ")


def test_explain_filter_follows_the_selection_and_escapes_rule_names(tmp_path: Path) -> None:
    rules = tmp_path / "r.yaml"
    rules.write_text("- rule: \"evil\\e[31m name\"\n  desc: d\n  condition: evt.type = openat and fd.name = /etc/x\n"
                     "  output: x\n  priority: WARNING\n- rule: quiet\n  desc: d\n"
                     "  condition: evt.type = unlinkat and evt.arg.name = /etc/y\n  output: x\n  priority: DEBUG\n")
    code, out, _ = _run("--explain-filter", "-r", str(rules), "-p", "warning")
    assert code == 0
    assert "\x1b" not in out and "evil\\u001b[31m name" in out
    assert "unlinkat" not in out                      # -p warning disabled the only rule on unlinkat
    code, out, _ = _run("--explain-filter", "-r", str(rules), "-D", "evil")
    assert code == 0 and "name:{name /etc/x}" not in out


def test_no_kernel_filter() -> None:
    code, out, _ = _run("--explain-filter", "--no-kernel-filter")
    assert code == 0 and out.startswith("kernel prefilter: off")
