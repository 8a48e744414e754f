"""Learning beyond one run: ``--merge`` (a test suite and a smoke run build one profile), ``--widen`` (what a
logged run under P was denied becomes P's additions) and ``--from CAPTURE`` (a recording of another host)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from syswarden.policy.formats.native_yaml import load
from tests.recorder.conftest import bare, confined, record, syswarden

pytestmark = pytest.mark.kernel

CAPTURES = Path("/work/shared/anchors/falco/captures")
for _parent in Path(__file__).resolve().parents:
    if (_parent / "shared" / "anchors" / "falco" / "captures").exists():
        CAPTURES = _parent / "shared" / "anchors" / "falco" / "captures"
        break


def test_merge_builds_one_profile_for_two_runs(tmp_path: Path) -> None:
    usr = ["ls", "-l", "/usr"]
    py = ["/usr/bin/python3", "-c", "print(sum(range(10)))"]
    first, _ = record(tmp_path, usr, name="first")
    assert confined(first, py).returncode != 0, "the ls profile should not run python"
    merged = tmp_path / "merged.yaml"
    result = syswarden("record", "--merge", str(first), "-o", str(merged), "--", *py)
    assert result.returncode == 0, result.stderr
    assert "merge: added" in result.stderr
    for cmd in (usr, py):
        assert confined(merged, cmd).stdout == bare(cmd).stdout
    # merging the same run again adds nothing
    again = syswarden("record", "--merge", str(merged), "-o", str(tmp_path / "again.yaml"), "--", *py)
    assert "already allows everything" in again.stderr
    assert load((tmp_path / "again.yaml").read_text()).rules == load(merged.read_text()).rules


def test_widen_adds_what_the_logged_run_was_denied(tmp_path: Path) -> None:
    base, _ = record(tmp_path, ["true"], name="base")
    cmd = ["ls", "-l", "/usr"]
    assert confined(base, cmd).returncode != 0
    widened = tmp_path / "widened.yaml"
    result = syswarden("record", "--widen", str(base), "-o", str(widened), "--", *cmd)
    assert result.returncode == 0, result.stderr
    assert "widen: + allow" in result.stderr and "getdents64" in result.stderr
    assert confined(widened, cmd).stdout == bare(cmd).stdout
    # the additions are what ls needed beyond true, not an open door
    assert load(widened.read_text()).default_action.kind.name == "ERRNO"


def test_from_capture_learns_the_chosen_tree(tmp_path: Path) -> None:
    capture = CAPTURES / "falco_cat_write.scap"
    if not capture.exists():
        pytest.skip("shared/anchors/falco/captures is not here")
    out = tmp_path / "cat.yaml"
    result = syswarden("record", "--from", str(capture), "--comm", "cat", "--summary", "-o", str(out))
    assert result.returncode == 0, result.stderr
    policy = load(out.read_text())
    names = {n for r in policy.rules for n in r.names}
    assert {"open", "read", "mmap", "execve", "close"} <= names
    # sysdig, the oracle for captures, sees the same syscalls for that process (when it is installed)
    if shutil.which("sysdig"):
        import subprocess
        seen = subprocess.run(["sysdig", "-r", str(capture), "-p", "%evt.type", "proc.name=cat and evt.dir=<"],
                              capture_output=True, text=True, timeout=60).stdout.split()
        # "<unknown>": an event sysdig cannot name either (no syscall to learn from it)
        syscalls = {s for s in seen if s not in ("procexit", "switch", "signaldeliver", "<unknown>")}
        assert syscalls <= names | {"clone", "fork", "vfork"}, sorted(syscalls - names)


def test_from_capture_needs_a_tree(tmp_path: Path) -> None:
    capture = CAPTURES / "falco_cat_write.scap"
    if not capture.exists():
        pytest.skip("shared/anchors/falco/captures is not here")
    result = syswarden("record", "--from", str(capture))
    assert result.returncode == 2 and "--pid PID or --comm NAME" in result.stderr
    missing = syswarden("record", "--from", str(capture), "--comm", "no-such-process")
    assert missing.returncode == 2 and "no process named" in missing.stderr


@pytest.mark.parametrize("args, message", [
    ([], "expected a command to run"),
    (["--default-action", "sometimes", "--", "true"], "unknown action"),
    (["--backend", "ebpf", "--landlock", "--", "true"], "--landlock learns paths with the ptrace backend"),
    (["--format", "docker", "--landlock", "--", "true"], "cannot hold Landlock rules"),
    (["--pid", "1", "--", "true"], "expected --from CAPTURE"),
])
def test_bad_usage_exits_2(args: list[str], message: str, tmp_path: Path) -> None:
    result = syswarden("record", "-o", str(tmp_path / "x.yaml"), *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
