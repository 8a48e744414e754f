"""``syswarden syscalls``: names, numbers and groups as aligned tables; unknown names exit 2."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from syswarden.cli.main import cli, main
from syswarden.cli.syscalls_cmd import render_table


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["syscalls", *args])
    return result.exit_code, result.output


def test_name_lists_numbers_per_arch() -> None:
    """openat is 257 on x86_64 and 56 on aarch64; columns line up with the header."""
    code, out = invoke("openat")
    header, row = out.splitlines()
    assert code == 0 and row.split() == ["openat", "257", "295", "1073742081", "56", "322", "56", "288", "286"]
    assert header.index("aarch64") + len("aarch64") == row.index(" 56 ") + 3


def test_number_with_arch() -> None:
    """59 is execve on x86_64."""
    code, out = invoke("59", "--arch", "amd64")
    assert code == 0 and out.splitlines()[1].split() == ["x86_64", "59", "execve"]


def test_x32_number_without_the_bit() -> None:
    """An x32 number is found with or without X32_SYSCALL_BIT."""
    for query in ("0", "0x40000000"):
        code, out = invoke(query, "--arch", "x32")
        assert code == 0 and out.splitlines()[1].split() == ["x32", str(0x40000000), "read"]


def test_group_lists_members() -> None:
    """@network-io shows its description and its members with their numbers."""
    code, out = invoke("@network-io", "--arch", "x86_64")
    assert code == 0 and out.startswith("@network-io: ")
    assert any(line.split() == ["socket", "41"] for line in out.splitlines())


def test_unknown_name_and_group_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """Unknown names and groups are input errors: exit 2 with the reason on stderr."""
    for query, reason in (("frobnicate", "unknown syscall 'frobnicate'"), ("@nope", "unknown syscall group")):
        with pytest.raises(SystemExit) as info:
            main(["syscalls", query])
        assert info.value.code == 2 and reason in capsys.readouterr().err


def test_render_table_aligns() -> None:
    """Every line of a rendered table has its columns at the same offsets."""
    text = render_table(["A", "NR"], [["x", "1"], ["longer", "100"]], frozenset({1}))
    assert text.splitlines() == ["A        NR", "x         1", "longer  100"]
