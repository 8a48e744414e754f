"""Executable flags live (issue 19 item 2, acceptance): a binary copied into an overlayfs upper layer and run
from the merged mount has ``proc.is_exe_upper_layer=true``; the same binary present only in the lower layer has
``proc.is_exe_lower_layer=true`` instead. The overlay is mounted by the test inside ``unshare -m`` (a private
mount namespace, gone with its last process), on directories under the test's tmp dir: host mounts are never
touched."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.scenarios.conftest import fired, monitor

pytestmark = [pytest.mark.kernel, pytest.mark.slow]
OWN_RULE = "Program run from an overlay"
OWN_RULES = f"""
- rule: {OWN_RULE}
  desc: every exec of a file on an overlayfs mount, with its layer flags
  condition: evt.type in (execve, execveat) and evt.rawres=0 and proc.exepath contains "/merged/"
  output: >
    exec %proc.exepath upper=%proc.is_exe_upper_layer lower=%proc.is_exe_lower_layer
    writable=%proc.is_exe_writable memfd=%proc.is_exe_from_memfd
  priority: NOTICE
"""
DROP_RULE = "Drop and execute new binary in container"


def _overlay(tmp_path: Path) -> tuple[str, Path, Path]:
    """A script that mounts an overlay of tmp/lower (holding ``from-lower``, a copy of ``true``) in a private
    mount namespace, copies ``true`` into it as ``dropped`` (written to the upper layer), and runs both."""
    true = Path(shutil.which("true") or "/bin/true").resolve()
    for d in ("lower", "upper", "work", "merged"):
        (tmp_path / d).mkdir()
    shutil.copy(true, tmp_path / "lower" / "from-lower")
    merged = tmp_path / "merged"
    inner = (f"mount -t overlay overlay -o lowerdir={tmp_path}/lower,upperdir={tmp_path}/upper,"
             f"workdir={tmp_path}/work {merged} && cp {true} {merged}/dropped && "
             f"{merged}/from-lower && {merged}/dropped")
    return f"unshare -m --propagation private sh -c '{inner}'", merged / "dropped", merged / "from-lower"


def test_upper_layer_binary_is_flagged_lower_is_not(source: str, tmp_path: Path) -> None:
    script, dropped, from_lower = _overlay(tmp_path)
    alerts = monitor(source, script, rules=OWN_RULES)
    hits = {h["proc.exepath"]: h for h in fired(alerts, OWN_RULE)}
    assert set(hits) == {str(dropped), str(from_lower)}, alerts
    assert hits[str(dropped)]["proc.is_exe_upper_layer"] is True
    assert hits[str(dropped)]["proc.is_exe_lower_layer"] is False
    assert hits[str(from_lower)]["proc.is_exe_upper_layer"] is False
    assert hits[str(from_lower)]["proc.is_exe_lower_layer"] is True
    # root runs both: root may write either (the lower copy too: overlayfs copies it up on a write)
    assert hits[str(dropped)]["proc.is_exe_writable"] is True
    assert all(h["proc.is_exe_from_memfd"] is False for h in hits.values())
    assert (tmp_path / "upper" / "dropped").exists() and not (tmp_path / "upper" / "from-lower").exists()


@pytest.mark.covers(DROP_RULE)
def test_drop_and_execute_in_container(source: str, tmp_path: Path, container_cgroup: Path) -> None:
    """In a (Docker-named) cgroup the stock rule fires for the dropped binary only, not for the lower layer's."""
    script, dropped, _ = _overlay(tmp_path)
    alerts = monitor(source, f"echo $$ > {container_cgroup}/cgroup.procs; {script}")
    hits = fired(alerts, DROP_RULE)
    assert [h["proc.exepath"] for h in hits] == [str(dropped)], alerts
    assert hits[0]["proc.name"] == "dropped"
