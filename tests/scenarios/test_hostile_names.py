"""Attacker-chosen bytes in file names, argv and comm go through every alert output of both live sources.

The denial of service of issue 13: `monitor --json -o FILE` died on the first alert whose file name held an
invalid UTF-8 byte, and stdout carried the raw byte into a JSON line. Here one monitor run per source and format
writes the same alerts to stdout, to an alert file and to a JSONL recording; every line must be valid (strict
UTF-8 text with every hostile character escaped, or ASCII JSON a strict parser reads), and no alert may be lost
or forged. The spellings expected below are docs/alerts.md's.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.scenarios.conftest import SYSWARDEN

pytestmark = [pytest.mark.kernel, pytest.mark.slow]
PY3 = os.path.realpath(sys.executable)
STOCK = Path(__file__).resolve().parents[2] / "src" / "syswarden" / "rules" / "data" / "falco_rules.yaml"

# name bytes -> (how the text line spells it, the string the JSON document holds)
HOSTILE: dict[bytes, tuple[str, str]] = {
    b"bad\xff": ("bad\\xff", "bad\ufffd"),
    b"a\nFAKE ALERT": ("a\\nFAKE ALERT", "a\nFAKE ALERT"),
    b"a\\nb": ("a\\\\nb", "a\\nb"),
    "inv\u202egpj.exe".encode(): ("inv\\u202egpj.exe", "inv\u202egpj.exe"),
    b"esc\x1b[31mred": ("esc\\u001b[31mred", "esc\x1b[31mred"),
    "ls\u2028x".encode(): ("ls\\u2028x", "ls\u2028x"),
}

# Creates each hostile file (the rule below fires on each open), under a comm with hostile bytes, then runs
# find over a directory whose name holds an invalid byte (the stock "Search Private Keys or Passwords").
SCRIPT = r"""
import os, subprocess, sys
files, probe = os.fsencode(sys.argv[1]), os.fsencode(sys.argv[2])
with open("/proc/self/comm", "wb") as comm:
    comm.write(b"ev\xff\x1b")
for name in sys.argv[3:]:
    os.close(os.open(files + b"/" + os.fsencode(name), os.O_CREAT | os.O_WRONLY, 0o600))
subprocess.run([b"find", probe, b"-name", b"id_rsa"], stdout=subprocess.DEVNULL)
"""


def _run(source: str, tmp: Path, json_output: bool) -> tuple[bytes, bytes, Path]:
    files = tmp / "files"
    probe = Path(os.fsdecode(bytes(tmp) + b"/x\xff"))
    files.mkdir()
    probe.mkdir()
    rules = tmp / "hostile.yaml"
    rules.write_text(f"""
- rule: Hostile name opened
  desc: a file created in the test's directory
  condition: evt.type in (open, openat) and fd.name startswith "{files}/"
  output: hostile file=%fd.name comm=%proc.name
  priority: WARNING
""")
    alert_file, recording = tmp / "alerts.out", tmp / "rec.jsonl"
    config = tmp / "falco.yaml"
    config.write_text(f"stdout_output:\n  enabled: true\nfile_output:\n  enabled: true\n"
                      f"  keep_alive: false\n  filename: {alert_file}\njson_output: {str(json_output).lower()}\n")
    script = tmp / "hostile.py"
    script.write_text(SCRIPT)
    argv = [os.fsdecode(n) for n in HOSTILE]
    cmd = [*SYSWARDEN, "monitor", "--source", source, "-c", str(config), "-r", str(STOCK), "-r", str(rules),
           "--all-matches", "-q", "-w", str(recording), "--", PY3, str(script), str(files), str(probe), *argv]
    proc = subprocess.run(cmd, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout, alert_file.read_bytes(), recording


def test_hostile_names_in_json_outputs(source: str, tmp_path: Path) -> None:
    """stdout and the alert file: ASCII JSON lines, each strict-parseable, every alert there, names as U+FFFD."""
    stdout, filed, recording = _run(source, tmp_path, json_output=True)
    for raw in (stdout, filed):
        assert raw.isascii()
        docs = [json.loads(line) for line in raw.splitlines()]
        for doc in docs:
            json.dumps(doc).encode("utf-8")
            assert all("\ud800" > c or c > "\udfff" for c in json.dumps(doc, ensure_ascii=False))
        names = sorted(d["output_fields"]["fd.name"].rsplit("/", 1)[1] for d in docs
                       if d["rule"] == "Hostile name opened")
        assert names == sorted(spelled for _text, spelled in HOSTILE.values())
        finds = [d for d in docs if d["rule"] == "Search Private Keys or Passwords"]
        assert len(finds) == 1 and "/x\ufffd -name id_rsa" in finds[0]["output_fields"]["proc.cmdline"]
    # The recording keeps the bytes exactly: replayed, it raises the same alerts.
    assert recording.read_bytes().isascii()
    replay = subprocess.run([*SYSWARDEN, "monitor", "--replay", str(recording), "-r", str(STOCK), "-r",
                             str(tmp_path / "hostile.yaml"), "--all-matches", "--json", "-q"],
                            capture_output=True, timeout=120)
    assert replay.returncode == 0, replay.stderr.decode(errors="replace")
    assert sorted(json.loads(x)["output_fields"].get("fd.name", "") for x in replay.stdout.splitlines()) == \
        sorted(json.loads(x)["output_fields"].get("fd.name", "") for x in stdout.splitlines())


def test_hostile_names_in_text_outputs(source: str, tmp_path: Path) -> None:
    """stdout and the alert file: strict UTF-8, one line per alert (none forged), every hostile byte escaped."""
    stdout, filed, _recording = _run(source, tmp_path, json_output=False)
    for raw in (stdout, filed):
        text = raw.decode("utf-8")                        # strict: no raw invalid byte got through
        lines = text.splitlines()
        hostile = [line for line in lines if " hostile file=" in line]
        assert len(hostile) == len(HOSTILE)
        assert len(lines) == len(HOSTILE) + 1             # plus the find alert: nothing forged, nothing lost
        for spelled, _json in HOSTILE.values():
            assert sum(f"/{spelled} comm=" in line for line in hostile) == 1
        for line in lines:
            assert not any(c in line for c in "\x1b\u2028\u2029\u202e\r")
        assert sum("/x\\xff -name id_rsa" in line for line in lines) == 1
