"""A rule in the pre-2023 enter dialect fires on a live socket(AF_PACKET), on both live sources (issue 19)."""
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
RULE = """
- rule: Packet socket created (enter dialect)
  desc: as rules were written before Falco dropped enter events
  condition: evt.type=socket and evt.dir=> and evt.arg.domain=AF_PACKET
  output: packet socket by %proc.name domain=%evt.arg.domain
  priority: NOTICE
"""


def test_enter_dialect_rule_fires_live(source: str, tmp_path: Path) -> None:
    """AF_PACKET fires (with the once-per-rule warning), AF_INET does not."""
    rules = tmp_path / "seed.yaml"
    rules.write_text(RULE)
    code = ("import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).close(); "
            "socket.socket(socket.AF_PACKET, socket.SOCK_RAW).close()")
    proc = subprocess.run([*SYSWARDEN, "monitor", "--source", source, "-r", str(rules), "--json", "-q", "--",
                           PY3, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    alerts = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [a["output_fields"]["evt.arg.domain"] for a in alerts] == ["AF_PACKET"]
    assert proc.stderr.count("reads evt.dir (written for enter events)") == 1
