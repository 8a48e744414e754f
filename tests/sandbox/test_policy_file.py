"""Policy files for `run`: the seccomp part and the landlock: section are read from one document, with spans."""
from __future__ import annotations

from pathlib import Path

import pytest

from syswarden.errors import PolicySyntaxError
from syswarden.policy.model import ActionKind
from syswarden.policy.landlock import FsRight
from syswarden.policy.load import load_policy_file as load_run_policy


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return str(path)


def test_section_is_split_from_the_seccomp_policy(tmp_path: Path) -> None:
    """The landlock: key becomes a LandlockSpec; the rest loads as a native policy."""
    path = write(tmp_path, "default: allow\nrules:\n  - syscalls: [bind]\n    action: kill_process\n"
                           "landlock:\n  paths:\n    - path: /usr\n      allow: [read, execute]\n"
                           "  net:\n    bind: [8080, 8081]\n")
    policy, spec = load_run_policy(path)
    assert policy.rules[0].names == ("bind",) and policy.rules[0].action.kind is ActionKind.KILL_PROCESS
    assert spec is not None and spec.paths[0].path == "/usr"
    assert spec.paths[0].rights == {FsRight.READ, FsRight.EXECUTE}
    assert spec.bind_ports == (8080, 8081) and spec.connect_ports is None
    assert str(spec.paths[0].span) == f"{path}:7:7"


def test_policy_without_section_has_no_spec(tmp_path: Path) -> None:
    """A plain policy yields no Landlock spec."""
    _, spec = load_run_policy(write(tmp_path, "default: allow\n"))
    assert spec is None


@pytest.mark.parametrize("section, message, line", [
    ("  paths:\n    - path: /usr\n      allow: [reed]\n", "unknown landlock right 'reed'", 5),
    ("  paths:\n    - path: /usr\n      allow: []\n", "at least one right", 4),
    ("  net:\n    bind: [99999]\n", "between 0 and 65535", 4),
    ("  nett: {}\n", "unknown key 'nett'", 3),
])
def test_section_errors_point_at_the_file(tmp_path: Path, section: str, message: str, line: int) -> None:
    """Mistakes in the section are PolicySyntaxErrors with the file's line."""
    path = write(tmp_path, "default: allow\nlandlock:\n" + section)
    with pytest.raises(PolicySyntaxError, match=message) as info:
        load_run_policy(path)
    assert info.value.span is not None and info.value.span.line == line
