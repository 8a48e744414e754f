"""Hostile JSONL recordings: huge lines, bad UTF-8, wrong types, deep nesting, huge numbers. Each is a
positioned CaptureError after the events before it (counted as one skipped record), or a clean read."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from syswarden.errors import CaptureError
from syswarden.events.jsonl import MAX_LINE
from syswarden.sources.base import SourceConfig, open_source

HEADER = '{"syswarden_replay": 1, "hostname": "h"}'
THREAD = '{"kind": "thread", "tid": 7, "pid": 7, "ptid": 1, "comm": "cat"}'


def _event(num: int, **params: object) -> str:
    return json.dumps({"kind": "event", "num": num, "ts": num, "tid": 7, "type": "openat", "res": 3,
                       "params": {"fd": 3, "dirfd": -100, "name": "/etc/hostname", "flags": 0, **params}})


def _replay(path: Path) -> tuple[list[int], object, CaptureError | None]:
    src = open_source("replay", SourceConfig(path=str(path)))
    nums: list[int] = []
    try:
        list(src.initial_threads())
        for event in src.events():
            nums.append(event.num)
    except CaptureError as err:
        return nums, src, err
    finally:
        src.close()
    return nums, src, None


@pytest.mark.parametrize("bad,message", [
    (_event(3, fd="three"), "parameter 'fd' must be int or null, not str"),
    (_event(3, name=["/etc/shadow"]), "parameter 'name' must be null or str, not list"),
    (_event(3, fd=1 << 70), "parameter 'fd' is out of range"),
    (_event(3, flags=True), "parameter 'flags' must be int or null, not bool"),
    (('{"kind": "event", "num": 3, "ts": 3, "tid": 7, "type": "connect", "params": {"addr": {"family": "AF_INET",'
      ' "addr": 5, "port": 80}}}'), "'addr' must be a string"),
    ('{"kind": "event", "num": 3, "ts": -1, "tid": 7, "type": "openat"}', "'ts' must not be negative"),
    ('{"kind": "event", "num": 3, "ts": 3, "tid": 7, "type": "openat", "source": []}', "'source' must be str"),
    ('{"kind": "event", "num": 3, "ts": 3, "tid": 7, "type": "openat", "params": {"fd": ' + "9" * 5000 + "}}",
     "expected a JSON object"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
])
def test_a_bad_record_is_a_positioned_error_after_the_events_before_it(tmp_path: Path, bad: str,
                                                                        message: str) -> None:
    """Wrong parameter types, out-of-range integers, deep nesting, huge numbers: a CaptureError at the bad
    line (line 5), the two events before it delivered, one record counted as skipped; never a traceback."""
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join([HEADER, THREAD, _event(1), _event(2), bad, _event(4)]) + "\n")
    nums, src, err = _replay(path)
    assert nums == [1, 2] and err is not None
    assert message in str(err) and str(err).startswith(f"{path}:5:"), str(err)
    assert src.stats.skipped == 1


def test_a_line_over_the_limit_is_refused_without_holding_it(tmp_path: Path) -> None:
    """A line longer than MAX_LINE (no newline for megabytes) is an error at its line, not a line in memory."""
    path = tmp_path / "huge.jsonl"
    with path.open("w") as fh:
        fh.write("\n".join([HEADER, THREAD, _event(1)]) + "\n")
        fh.write('{"kind": "event", "x": "' + "a" * (MAX_LINE + 10))
    nums, src, err = _replay(path)
    assert nums == [1] and err is not None and f"{path}:4:1: line longer than {MAX_LINE}" in str(err)
    assert src.stats.skipped == 1


def test_undecodable_bytes_are_kept_and_printed_escaped(tmp_path: Path) -> None:
    """Invalid UTF-8 inside a JSON string reads as the raw byte (a surrogate escape, as file names are kept)
    and reaches the printed line escaped, never raw; outside a string it is a positioned error."""
    path = tmp_path / "bytes.jsonl"
    line = _event(1, name="/tmp/x").replace("/tmp/x", "/tmp/x\xff")
    path.write_bytes("\n".join([HEADER, THREAD]).encode() + b"\n" + line.encode("latin-1") + b"\n")
    src = open_source("replay", SourceConfig(path=str(path)))
    list(src.initial_threads())
    assert [e.params["name"] for e in src.events()] == ["/tmp/x\udcff"]
    shown = subprocess.run([sys.executable, "-m", "syswarden", "capture", "-r", str(path), "-p", "%fd.name"],
                           capture_output=True, timeout=60)
    assert shown.returncode == 0 and shown.stdout.startswith(b"/tmp/x"), shown
    assert b"\xff" not in shown.stdout and shown.stdout.decode("utf-8")     # escaped (escaping.py decides how)
    path.write_bytes("\n".join([HEADER, THREAD]).encode() + b"\n\xff\xfe\n")
    nums, _, err = _replay(path)
    assert nums == [] and err is not None and str(err).startswith(f"{path}:3:")


def test_monitor_replay_of_a_bad_recording_prints_the_summary(tmp_path: Path) -> None:
    """monitor --replay of a recording with a bad line: the summary (records skipped) then the positioned
    error, exit 2."""
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join([HEADER, THREAD, _event(1), _event(2, fd="x")]) + "\n")
    res = subprocess.run([sys.executable, "-m", "syswarden", "monitor", "--replay", str(path)],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "Records skipped:  1" in res.stderr and f"{path}:4:1:" in res.stderr
    assert "Traceback" not in res.stderr
