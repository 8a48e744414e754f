"""Alert rendering: Falco's text line and Falco's JSON document."""
from __future__ import annotations

import json
import os
import time

import pytest

from syswarden.rules.alert import Alert, Priority, format_iso_utc, format_local_time

TS = 1470327477881781397          # 2016-08-04T16:17:57.881781397Z (Falco's single_rule_with_cat_write.json)


@pytest.fixture()
def utc(monkeypatch: pytest.MonkeyPatch):
    """Run with TZ=UTC so local time is predictable."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def make(**kw: object) -> Alert:
    base: dict[str, object] = dict(rule="open_from_cat", priority=Priority.WARNING,
                output="An open was seen (command=cat /dev/null)", time_ns=TS,
                tags=("testing", "filesystem", "process"), hostname="test-falco-hostname",
                output_fields={"proc.cmdline": "cat /dev/null"})
    base.update(kw)
    return Alert(**base)  # type: ignore[arg-type]


def test_priority_parse_like_falco() -> None:
    """Priorities parse case-insensitively and 'info' means Informational."""
    assert Priority.parse("WARNING") is Priority.WARNING
    assert Priority.parse("info") is Priority.INFORMATIONAL
    assert Priority.parse("Informational").label == "Informational"
    assert Priority.parse("severe") is None
    assert Priority.CRITICAL < Priority.WARNING      # more severe sorts first


def test_iso_time_matches_falco_json() -> None:
    """JSON time is UTC with nanoseconds and Z, exactly as Falco's recorded output."""
    assert format_iso_utc(TS) == "2016-08-04T16:17:57.881781397Z"


def test_text_line_uses_local_time(utc: None) -> None:
    """The text line is 'HH:MM:SS.nnnnnnnnn: Priority output' in local time."""
    assert make().text_line() == "16:17:57.881781397: Warning An open was seen (command=cat /dev/null)"
    os.environ["TZ"] = "Asia/Kolkata"
    time.tzset()
    assert format_local_time(TS) == "21:47:57.881781397"


def test_json_matches_falco_document(utc: None) -> None:
    """Keys sorted, tags sorted, evt.time an int in output_fields, the same fields Falco's file holds."""
    doc = json.loads(make().to_json())
    assert list(doc) == ["hostname", "output", "output_fields", "priority", "rule", "source", "tags", "time"]
    assert doc["tags"] == ["filesystem", "process", "testing"]
    assert doc["time"] == "2016-08-04T16:17:57.881781397Z"
    assert doc["output_fields"] == {"evt.time": TS, "proc.cmdline": "cat /dev/null"}
    assert doc["priority"] == "Warning" and doc["source"] == "syscall"
    assert doc["output"] == "16:17:57.881781397: Warning An open was seen (command=cat /dev/null)"


def test_json_escapes_control_characters() -> None:
    """A newline in an attacker-chosen file name cannot break the JSON line."""
    line = make(output="file=/tmp/a\nFAKE", output_fields={"fd.name": "/tmp/a\nFAKE"}).to_json()
    assert "\n" not in line
    assert json.loads(line)["output_fields"]["fd.name"] == "/tmp/a\nFAKE"


def test_text_escapes_control_characters(utc: None) -> None:
    """The text line shows control characters as escapes, so one alert is always one line."""
    line = make(output="file=/tmp/a\nFAKE\x1b[31m").text_line()
    assert line.endswith("file=/tmp/a\\nFAKE\\u001b[31m")
