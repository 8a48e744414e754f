"""syswarden monitor -c falco.yaml and --option, end to end on Falco's cat_write capture."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ANCHORS = Path(__file__).resolve().parents[2] / ".." / "shared" / "anchors" / "falco"
CAPTURE = ANCHORS / "captures" / "falco_cat_write.scap"
RULES = ANCHORS / "tests" / "rules" / "single_rule_with_tags.yaml"
pytestmark = pytest.mark.skipif(not CAPTURE.is_file(), reason="shared/anchors/falco captures not present")


def monitor(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, TZ="UTC", FALCO_HOSTNAME="cfg-host")
    return subprocess.run([sys.executable, "-m", "syswarden", "monitor", "--replay", str(CAPTURE), "-r", str(RULES),
                           *args], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)


def test_config_file_outputs_and_options(tmp_path: Path) -> None:
    """The file's JSON options apply; --option turns on the file output; append_output extends alerts."""
    conf = tmp_path / "falco.yaml"
    conf.write_text("json_output: true\njson_include_tags_property: false\ntime_format_iso_8601: true\n"
                    "file_output:\n  enabled: false\n  filename: alerts.txt\nlog_level: info\n"
                    "append_output:\n  - match: {tags: [testing]}\n    extra_output: on CPU %evt.cpu\n"
                    "    extra_fields: [evt.type, {note: 'pid %proc.pid'}]\n")
    res = monitor(tmp_path, "-c", str(conf), "--option", "file_output.enabled=true")
    assert res.returncode == 0, res.stderr
    assert f"{conf}:7:1: 'log_level' is a Falco setting syswarden does not implement; ignored" in res.stderr
    docs = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(docs) == 8
    first = docs[0]
    assert "tags" not in first and first["hostname"] == "cfg-host"
    assert first["output"] == "2016-08-04T16:17:57.881781397+0000: Warning An open was seen " \
                              "(command=cat /dev/null) on CPU 0"
    assert first["output_fields"]["evt.type"] == "open" and first["output_fields"]["note"].startswith("pid ")
    assert [json.loads(line) for line in (tmp_path / "alerts.txt").read_text().splitlines()] == docs


def test_flags_win_over_config(tmp_path: Path) -> None:
    """Explicit --json and -p beat the file; -o sends alerts to its file instead of the configured outputs."""
    conf = tmp_path / "falco.yaml"
    conf.write_text("json_output: false\npriority: emergency\n")
    quiet = monitor(tmp_path, "-c", str(conf), "-q")
    assert quiet.returncode == 0 and quiet.stdout == ""          # priority: emergency drops the Warning rule
    res = monitor(tmp_path, "-c", str(conf), "-q", "--json", "-p", "debug", "--option", "priority=critical")
    assert len([json.loads(line) for line in res.stdout.splitlines()]) == 8
    out = tmp_path / "o.txt"
    res = monitor(tmp_path, "-c", str(conf), "-q", "-p", "warning", "-o", str(out))
    assert res.stdout == "" and len(out.read_text().splitlines()) == 8


def test_bad_config_is_an_error_with_position(tmp_path: Path) -> None:
    conf = tmp_path / "falco.yaml"
    conf.write_text("stdout_output:\n  enabled: sometimes\n")
    res = monitor(tmp_path, "-c", str(conf))
    assert res.returncode == 2 and res.stdout == ""
    assert f"{conf}:2:12: expected 'stdout_output.enabled' to be a boolean (true or false)" in res.stderr
    res = monitor(tmp_path, "--option", "rule_matching=sometimes")
    assert res.returncode == 2
    assert "--option 'rule_matching=sometimes': expected 'rule_matching' to be first or all" in res.stderr


def test_unknown_field_in_append_output(tmp_path: Path) -> None:
    conf = tmp_path / "falco.yaml"
    conf.write_text("append_output:\n  - extra_output: '%no.such_field'\n")
    res = monitor(tmp_path, "-c", str(conf))
    assert res.returncode == 2 and f"{conf}:2:5: append_output for rule 'open_from_cat'" in res.stderr
