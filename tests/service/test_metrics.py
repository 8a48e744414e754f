"""Metrics scraped during a live run match the alerts delivered; promtool accepts the exposition; /healthz;
periodic JSON stats."""
from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.scenarios.conftest import _ebpf_reason
from tests.servers import free_port, wait_until
from tests.service.live import kill_if_running, rules_file, start_monitor, wait_for_lines

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

WORKLOAD = """
import sys, time
for i in range(int(sys.argv[2])):
    open(f"{sys.argv[1]}/f{i}", "w").close()
time.sleep(60)
"""


def _metric(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', line.split("}")[0])) if "{" in line else {}
            if all(got.get(k) == v for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no {name} {labels} in the exposition")


def test_metrics_match_deliveries_and_promtool_accepts(tmp_path: Path) -> None:
    if (reason := _ebpf_reason()) is not None:
        pytest.skip(reason)
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool (Debian's prometheus) is not installed")
    work = tmp_path / "w"
    work.mkdir()
    alerts = tmp_path / "alerts.json"
    stats = tmp_path / "stats.jsonl"
    port = free_port()
    conf = tmp_path / "conf.yaml"
    conf.write_text(f"""
json_output: true
stdout_output: {{enabled: false}}
file_output: {{enabled: true, keep_alive: true, filename: {alerts}}}
webserver: {{enabled: true, listen_port: {port}, prometheus_metrics_enabled: true}}
metrics: {{enabled: true, interval: 200ms, output_file: {stats}}}
""")
    rules = rules_file(tmp_path / "r.yaml", f"{work}/")
    proc = start_monitor("-c", str(conf), "-r", str(rules), "--source", "ebpf", "--",
                         sys.executable, "-c", WORKLOAD, str(work), "150")
    try:
        wait_for_lines(alerts, 150)
        base = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(f"{base}/healthz", timeout=5) as resp:
            assert resp.status == 200 and json.loads(resp.read()) == {"status": "ok"}
        with urllib.request.urlopen(f"{base}/metrics", timeout=5) as resp:
            text = resp.read().decode()
        wait_until(lambda: stats.exists() and stats.read_text().count("\n") >= 2, what="periodic stats")
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    finally:
        kill_if_running(proc)
    delivered = len(alerts.read_text().splitlines())
    assert delivered == 150
    assert _metric(text, "syswarden_alerts_total", rule="Test file opened", priority="Warning") == 150
    assert _metric(text, "syswarden_outputs_delivered_total", output=f"file:{alerts}") == 150
    assert _metric(text, "syswarden_outputs_queue_depth", output=f"file:{alerts}") == 0
    assert _metric(text, "syswarden_events_total", source="ebpf") >= 150
    assert _metric(text, "syswarden_rules_enabled") == 1 and _metric(text, "syswarden_memory_rss_bytes") > 1e6
    assert _metric(text, "syswarden_rule_evaluation_seconds_count") >= 1
    check = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    last = json.loads(stats.read_text().splitlines()[-1])
    assert last["alerts"] == 150 and last["outputs"][f"file:{alerts}"]["delivered"] == 150
