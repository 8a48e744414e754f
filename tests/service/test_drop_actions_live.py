"""syscall_event_drops on the real kernel: a one-page ring buffer under a burst drops events; ``alert`` puts
Falco's internal drop alert through the outputs, ``log`` names where and which rules, ``exit`` stops the monitor
with status 1 (and detaches everything)."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.scenarios.conftest import _ebpf_reason
from tests.service.live import SYSWARDEN, summary_number

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

BURST = """
import os, sys, time
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    for _ in range(500):
        os.close(os.open("/etc/hostname", os.O_RDONLY))
"""
RULES = """
- rule: Hostname read
  desc: d
  condition: evt.type in (open, openat) and fd.name = /etc/hostname and proc.name = nothing-matches
  output: read %fd.name
  priority: WARNING
"""


@pytest.fixture(autouse=True)
def _needs_ebpf() -> None:
    if (reason := _ebpf_reason()) is not None:
        pytest.skip(reason)


def _monitor(tmp_path: Path, actions: str, seconds: float, *extra: str) -> tuple[subprocess.CompletedProcess[str],
                                                                                  float]:
    conf = tmp_path / "falco.yaml"
    conf.write_text(f"syscall_event_drops: {{actions: [{actions}], threshold: 0, rate: 1, max_burst: 10}}\n"
                    "ebpf: {ring_buffer_size: 4096}\n")
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    start = time.monotonic()
    res = subprocess.run([*SYSWARDEN, "monitor", "-c", str(conf), "-r", str(rules), "--json", "--no-kernel-filter",
                          *extra, "--", sys.executable, "-c", BURST, str(seconds)],
                         capture_output=True, text=True, timeout=240)
    return res, time.monotonic() - start


@pytest.mark.parametrize("workers", ["1", "2"])
def test_alert_and_log_actions(tmp_path: Path, workers: str) -> None:
    res, _ = _monitor(tmp_path, "log, alert", 4, "--workers", workers)
    assert res.returncode == 0, res.stderr
    dropped = summary_number(res.stderr, "Events dropped")
    assert dropped > 0, "a one-page ring buffer under this burst must drop"
    internal = [doc for doc in map(json.loads, res.stdout.splitlines())
                if doc["rule"] == "Falco internal: syscall event drop"]
    assert internal, res.stdout[-2000:]
    fields = internal[0]["output_fields"]
    assert internal[0]["source"] == "internal" and internal[0]["priority"] == "Debug"
    assert fields["ebpf_enabled"] == "1" and int(fields["n_drops"]) > 0
    assert int(fields["n_drops_buffer_open_exit"]) + int(fields["n_drops_buffer_close_exit"]) > 0
    assert sum(int(doc["output_fields"]["n_drops"]) for doc in internal) <= dropped
    assert internal[0]["output"] == f"Falco internal: syscall event drop. {fields['n_drops']} system calls " \
                                    "dropped in last second."
    assert "syswarden: Falco internal: syscall event drop." in res.stderr
    assert "  Hostname read" in res.stderr              # the rule that may have missed events in that second
    assert "Syscall event drop monitoring:" in res.stderr and "Traceback" not in res.stderr
    assert f"num times actions taken: {len(internal)}" in res.stderr
    # not a rule's alert: the summary's rule counts do not include it
    assert summary_number(res.stderr, "Alerts") == 0


def test_exit_action_stops_the_monitor(tmp_path: Path) -> None:
    res, took = _monitor(tmp_path, "exit", 120)
    assert res.returncode == 1, res.stderr
    assert took < 60, "the monitor stopped at the first drop check, not when the workload ended"
    assert "syswarden: Exiting." in res.stderr and "syswarden: error:" in res.stderr
    assert "event drop detected: 1 occurrences" in res.stderr
    assert not res.stdout.strip()
