"""file_output.keep_alive: false reopens the file per alert (Falco's default), true keeps it open."""
from __future__ import annotations

from pathlib import Path

from syswarden.outputs.file import FileOutput
from syswarden.rules.alert import Alert, AlertFormat, Priority

ALERT = Alert(rule="r", priority=Priority.NOTICE, output="x=1", time_ns=1_700_000_000_123_456_789)


def test_without_keep_alive_a_rotated_file_is_recreated(tmp_path: Path) -> None:
    path = tmp_path / "events.txt"
    out = FileOutput(path, alert_format=AlertFormat(time_iso_8601=True), keep_alive=False)
    out.emit(ALERT)
    path.rename(tmp_path / "old.txt")
    out.emit(ALERT)                       # no reopen() needed
    assert path.read_text() == "2023-11-14T22:13:20.123456789+0000: Notice x=1\n"
    assert (tmp_path / "old.txt").read_text() == path.read_text()


def test_keep_alive_keeps_writing_to_the_open_file(tmp_path: Path) -> None:
    path = tmp_path / "events.txt"
    out = FileOutput(path, keep_alive=True)
    out.emit(ALERT)
    path.rename(tmp_path / "old.txt")
    out.emit(ALERT)
    out.close()
    assert not path.exists() and len((tmp_path / "old.txt").read_text().splitlines()) == 2
