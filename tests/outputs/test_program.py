"""Program output: fed into sh -c 'cat >> FILE', it survives the program being killed; escaping holds."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from syswarden.outputs.program import ProgramOutput
from syswarden.outputs.queue import Backoff, QueuedOutput

from tests.outputs.helpers import assert_escaped_line, hostile, numbered
from tests.service.live import wait_for_lines


def test_program_survives_being_killed(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    sink = ProgramOutput(f"cat >> {path}", keep_alive=True)
    out = QueuedOutput("program", sink, capacity=1000, backoff=Backoff(0.02, 0.2), log=lambda m: None)
    for i in range(50):
        out.emit(numbered(i))
    assert len(wait_for_lines(path, 50)) == 50
    first = sink._proc
    assert first is not None
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    for i in range(50, 100):
        out.emit(numbered(i))
    out.close(time.monotonic() + 10)
    lines = path.read_text().splitlines()
    # every alert written after the kill found the dead program and was retried in a new one
    assert [int(x.rsplit("=", 1)[1]) for x in lines] == list(range(100))
    assert sink.restarts == 1 and out.stats.delivered == 100
    assert sink._proc is None


def test_program_per_alert_without_keep_alive(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    sink = ProgramOutput(f"cat >> {path}", keep_alive=False)
    for i in range(3):
        sink.emit(numbered(i))
    sink.close()
    assert path.read_text().splitlines()[-1].endswith("n=2") and sink.started == 3


def test_program_escapes_hostile_strings(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    sink = ProgramOutput(f"cat >> {path}")
    sink.emit(hostile())
    sink.close()
    (line,) = path.read_text(encoding="utf-8").splitlines()
    assert_escaped_line(line)
