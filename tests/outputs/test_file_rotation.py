"""File output: size rotation keeps every line (none split, none lost), fsync, logrotate-style reopen."""
from __future__ import annotations

import json
import time
from pathlib import Path

from syswarden.outputs.file import FileOutput
from syswarden.outputs.queue import QueuedOutput
from syswarden.rules.alert import AlertFormat

from tests.outputs.helpers import assert_escaped_line, hostile, numbered


def _lines_in_order(path: Path, keep: int) -> list[str]:
    files = [Path(f"{path}.{i}") for i in range(keep, 0, -1)] + [path]
    return [line for f in files if f.exists() for line in f.read_text().splitlines()]


def test_rotation_keeps_every_line(tmp_path: Path) -> None:
    """2000 JSON alerts through the queue into a 4 KiB-rotated file: every line once, in order, each file
    under the bound, each line whole."""
    path = tmp_path / "alerts.json"
    sink = FileOutput(path, alert_format=AlertFormat(json_output=True), max_size=4096, keep=1000)
    out = QueuedOutput("file", sink, capacity=5000)
    for i in range(2000):
        out.emit(numbered(i))
    out.close(time.monotonic() + 30)
    lines = _lines_in_order(path, 1000)
    assert [json.loads(line)["output_fields"]["n"] for line in lines] == list(range(2000))
    rotated = sorted(tmp_path.glob("alerts.json.*"))
    assert len(rotated) == sink.rotations >= 50
    assert all(f.stat().st_size <= 4096 for f in [path, *rotated])
    assert out.stats.delivered == 2000 and out.snapshot().extra["rotations"] == sink.rotations


def test_rotation_keeps_only_n(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    sink = FileOutput(path, max_size=200, keep=2, fsync=True)
    for i in range(100):
        sink.emit(numbered(i))
    sink.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "a.txt.1", "a.txt.2"]
    lines = _lines_in_order(path, 2)
    assert lines[-1].endswith("n=99")
    ns = [int(line.rsplit("n=", 1)[1]) for line in lines]
    assert ns == list(range(ns[0], 100))                    # the newest, contiguous


def test_logrotate_move_then_reopen(tmp_path: Path) -> None:
    """logrotate renames the file and signals; the output reopens and nothing is lost between the two."""
    path = tmp_path / "alerts.txt"
    out = QueuedOutput("file", FileOutput(path), capacity=100)
    for i in range(10):
        out.emit(numbered(i))
    time.sleep(0.2)
    path.rename(tmp_path / "alerts.txt.old")
    for i in range(10, 15):
        out.emit(numbered(i))          # may land in the old file (still open) until the reopen
    out.reopen()
    time.sleep(0.2)
    for i in range(15, 20):
        out.emit(numbered(i))
    out.close(time.monotonic() + 10)
    old = (tmp_path / "alerts.txt.old").read_text().splitlines()
    new = path.read_text().splitlines()
    assert [int(x.rsplit("=", 1)[1]) for x in old + new] == list(range(20))
    assert all(x.endswith(f"n={i}") for i, x in zip(range(15, 20), new[-5:]))


def test_file_escapes_hostile_strings(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    sink = FileOutput(path)
    sink.emit(hostile())
    sink.close()
    (line,) = path.read_text(encoding="utf-8").splitlines()
    assert_escaped_line(line)
    assert "\\nFAKE" in line and "\\xff" in line
