"""Stream and file outputs write one alert per line, as text or JSON."""
from __future__ import annotations

import io
import json
from pathlib import Path

from syswarden.rules.alert import Alert, Priority
from syswarden.outputs.file import FileOutput
from syswarden.outputs.stdout import StreamOutput
from syswarden.testing import CapturingOutput

ALERT = Alert(rule="r", priority=Priority.NOTICE, output="x=1", time_ns=1_700_000_000_123_456_789,
              hostname="h", tags=("a",), output_fields={"x": 1})


def test_stream_text_and_json() -> None:
    """Text mode writes the Falco line, JSON mode a parseable document."""
    buf = io.StringIO()
    StreamOutput(buf).emit(ALERT)
    StreamOutput(buf, json_output=True).emit(ALERT)
    text, js = buf.getvalue().splitlines()
    assert text.endswith(": Notice x=1")
    assert json.loads(js)["rule"] == "r"


def test_file_appends_and_reopens(tmp_path: Path) -> None:
    """The file output appends, and after reopen (log rotation) writes to the new file."""
    path = tmp_path / "alerts.json"
    out = FileOutput(path, json_output=True)
    out.emit(ALERT)
    path.rename(tmp_path / "old.json")
    out.reopen()
    out.emit(ALERT)
    out.close()
    assert len(path.read_text().splitlines()) == 1
    assert len((tmp_path / "old.json").read_text().splitlines()) == 1


def test_capturing_output() -> None:
    """CapturingOutput keeps alerts in order for tests."""
    cap = CapturingOutput()
    cap.emit(ALERT)
    cap.close()
    assert cap.rules() == ["r"] and cap.closed == 1
