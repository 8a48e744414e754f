"""monitor as a service, live (eBPF): SIGTERM during a burst drains, counts and detaches; SIGHUP reloads."""
from __future__ import annotations

import re
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.scenarios.conftest import _ebpf_reason
from tests.servers import free_port, wait_until
from tests.service.live import (kill_if_running, link_ids, live_link_ids, output_row, rules_file, start_monitor,
                                stop_monitor, summary_number, wait_for_lines)

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

BURST = """
import sys, time
d = sys.argv[1]
i = 0
while True:
    open(f"{d}/{sys.argv[2]}{i % 50}", "w").close()
    i += 1
    time.sleep(0.0005)
"""


@pytest.fixture(autouse=True)
def _needs_ebpf() -> None:
    if (reason := _ebpf_reason()) is not None:
        pytest.skip(reason)


def test_sigterm_during_burst(tmp_path: Path) -> None:
    """Every alert raised before SIGTERM is delivered (file, stdout) or counted undelivered (a dead HTTP
    server); the summary prints, the exit status is 0 and none of the monitor's BPF links is left."""
    work = tmp_path / "w"
    work.mkdir()
    alerts = tmp_path / "alerts.txt"
    conf = tmp_path / "conf.yaml"
    conf.write_text(f"""
file_output: {{enabled: true, keep_alive: true, filename: {alerts}}}
http_output: {{enabled: true, url: "http://127.0.0.1:{free_port()}/"}}
outputs_queue: {{drain_timeout: 1s}}
""")
    rules = rules_file(tmp_path / "r.yaml", f"{work}/")
    proc = start_monitor("-c", str(conf), "-r", str(rules), "--source", "ebpf", "--",
                         sys.executable, "-c", BURST, str(work), "f")
    try:
        wait_for_lines(alerts, 300)
        links = link_ids(proc.pid)
        assert links, "the monitor holds its BPF links"
        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        kill_if_running(proc)
    assert proc.returncode == 0, err
    assert time.monotonic() - start < 15
    total = summary_number(err, "Alerts")
    assert total >= 300
    stdout_lines = out.splitlines()
    assert len(stdout_lines) == total and len(alerts.read_text().splitlines()) == total
    assert output_row(err, "stdout")["delivered"] == total
    assert output_row(err, "file:")["delivered"] == total
    http = output_row(err, "http:")
    assert http["delivered"] == 0 and http["dropped"] + http["undelivered"] == total and http["failed"] >= 1
    assert not links & live_link_ids(), "a BPF link outlived the monitor"


def test_sighup_reload(tmp_path: Path) -> None:
    """A broken rules file keeps the old rules (error with file:line:col); a good one applies from the next
    event: after the first alert of the new rule, the old rule never fires again."""
    work = tmp_path / "w"
    work.mkdir()
    rules = rules_file(tmp_path / "r.yaml", f"{work}/a", rule="Old rule")
    proc = start_monitor("-r", str(rules), "--source", "ebpf", "--",
                         sys.executable, "-c", BURST.replace("time.sleep(0.0005)", "time.sleep(0.01)")
                         .replace('open(f"{d}/{sys.argv[2]}{i % 50}", "w").close()',
                                  'open(f"{d}/a{i % 50}", "w").close(); open(f"{d}/b{i % 50}", "w").close()'),
                         str(work), "x")
    err_lines: list[str] = []
    try:
        assert proc.stdout is not None and proc.stderr is not None
        stderr = proc.stderr
        threading.Thread(target=lambda: err_lines.extend(iter(stderr.readline, "")), daemon=True).start()

        def stderr_has(text: str) -> bool:
            return any(text in line for line in list(err_lines))

        first = proc.stdout.readline()
        assert "opened" in first and f"{work}/a" in first
        rules.write_text("- rule: Broken\n  desc: x\n  condition: evt.type = openat and (\n  output: x\n"
                         "  priority: WARNING\n")
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: stderr_has("reload failed"), what="the reload error")
        assert any(re.search(rf"{re.escape(str(rules))}:\d+:\d+: ", line) for line in err_lines), err_lines
        assert f"{work}/a" in proc.stdout.readline()          # the old rules still run
        rules_file(rules, f"{work}/b", rule="New rule", marker="NEW ")
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: stderr_has("syswarden: reloaded"), what="the reload")
        seen: list[str] = []
        while not any("NEW opened" in line for line in seen[-1:]) or len(seen) < 200:
            seen.append(proc.stdout.readline())
            assert len(seen) < 5000
        stop_monitor(proc)
    finally:
        kill_if_running(proc)
    assert proc.returncode == 0
    new_at = next(i for i, line in enumerate(seen) if "NEW opened" in line)
    assert all("NEW opened" in line and f"{work}/b" in line for line in seen[new_at:] if line)
    assert any(f"{work}/a" in line for line in seen[:new_at]) or f"{work}/a" in first
