"""``syswarden convert``: formats, host options for Docker, warnings on stderr, errors with exit 2."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from syswarden.cli.main import main
from syswarden.policy.load import load_policy

ANCHORS = Path(__file__).resolve().parents[2] / ".." / "shared" / "anchors" / "seccomp"


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture()
def docker_default() -> Path:
    path = ANCHORS / "docker-default.json"
    if not path.is_file():
        pytest.skip("shared anchors not present")
    return path


def test_docker_to_yaml_and_back(docker_default: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """docker -> yaml -> docker gives the same rules as loading the Docker profile directly."""
    yaml_out = tmp_path / "p.yaml"
    code, _, err = run(["convert", str(docker_default), "--to", "yaml", "-o", str(yaml_out), "--arch", "x86_64"],
                       capsys)
    assert code == 0 and "warning: " in err
    code, out, _ = run(["convert", str(yaml_out), "--to", "docker"], capsys)
    assert code == 0
    profile = json.loads(out)
    assert profile["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    direct = load_policy(docker_default, native_arch=None)
    assert load_policy(out, fmt="docker").rules == direct.rules


def test_cap_and_kernel_options_reach_the_loader(docker_default: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--cap SYS_ADMIN allows mount; --kernel 4.4 drops ptrace."""
    _, out, _ = run(["convert", str(docker_default), "--to", "docker", "--cap", "SYS_ADMIN", "--kernel", "4.4"],
                    capsys)
    names = {n for rule in json.loads(out)["syscalls"] for n in rule["names"]}
    assert "mount" in names and "ptrace" not in names


def test_bad_input_exits_2_with_position(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A malformed policy prints file:line:col and a caret to stderr and exits 2."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("default: allow\nrules:\n  - {syscalls: [read], action: permit}\n")
    code, out, err = run(["convert", str(bad), "--to", "docker"], capsys)
    assert code == 2 and out == ""
    assert f"{bad}:3:" in err and "unknown action 'permit'" in err and "^" in err


def test_unexpressible_conversion_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A per-arch rule cannot become Docker JSON: exit 2 and the reason."""
    src = tmp_path / "p.yaml"
    src.write_text("default: allow\nrules:\n  - {syscalls: [read], action: log, arches: [i386]}\n")
    code, _, err = run(["convert", str(src), "--to", "docker"], capsys)
    assert code == 2 and "only to some arches" in err


def test_bad_arch_option_is_usage_error(tmp_path: Path) -> None:
    """--arch with an unknown name is a click usage error."""
    src = tmp_path / "p.yaml"
    src.write_text("default: allow\n")
    from syswarden.cli.main import cli
    result = CliRunner().invoke(cli, ["convert", str(src), "--to", "yaml", "--arch", "vax"])
    assert result.exit_code == 2 and "unknown architecture 'vax'" in result.output


def test_reads_stdin() -> None:
    """SOURCE '-' reads the policy from stdin."""
    from syswarden.cli.main import cli
    result = CliRunner().invoke(cli, ["convert", "-", "--to", "docker"],
                                input="default: errno(ENOSYS)\narches: [aarch64]\n")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
                                         "architectures": ["SCMP_ARCH_AARCH64"], "syscalls": []}
