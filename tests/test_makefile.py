"""The README's `make run`: its stdout is the alert stream (make run > alerts.txt), so make prints nothing else
there: no echoed command, no setup chatter."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_make_run_writes_only_the_monitors_output_on_stdout(tmp_path: Path) -> None:
    """With the monitor replaced by a stand-in that prints one line, `make run`'s stdout is exactly that line;
    the banner goes to stderr."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    fake = tmp_path / "syswarden"
    fake.write_text('#!/bin/sh\necho "alert line $*"\n')
    fake.chmod(0o755)
    res = subprocess.run(["make", "-C", str(ROOT), "--no-print-directory", "run", f"BIN={tmp_path}"],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert res.stdout == "alert line monitor\n"
    assert "syswarden monitor: watching this machine" in res.stderr
