"""Two monitors publishing as two hosts to a real nats-server -js are both seen by `alerts tail`; `alerts report`
counts by host, rule and priority; `config validate|show`; `service install` passes `systemd-analyze verify`."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.servers import NatsServer
from tests.service.live import SYSWARDEN, recording, rules_file


def _sw(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SYSWARDEN, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "TZ": "UTC", **(env or {})})


@pytest.mark.slow
def test_two_hosts_tail_and_report(tmp_path: Path) -> None:
    server = NatsServer(tmp_path).start()
    try:
        rec = recording(tmp_path / "r.jsonl", 500, every=10)
        rules = rules_file(tmp_path / "r.yaml", "/tmp/hit/")
        tail = subprocess.Popen([*SYSWARDEN, "alerts", "tail", "--from", server.url, "--all", "-n", "100", "--json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for host in ("web-1", "db-2"):
            res = _sw("monitor", "--replay", str(rec), "-r", str(rules), "-q", "--option",
                      "stdout_output.enabled=false", "--option", "nats_output.enabled=true", "--option",
                      f"nats_output.url={server.url}", "--option", f"nats_output.spool_dir={tmp_path}/spool-{host}",
                      env={"FALCO_HOSTNAME": host})
            assert res.returncode == 0, res.stderr
        out, err = tail.communicate(timeout=60)
        assert tail.returncode == 0, err
        docs = [json.loads(line) for line in out.splitlines()]
        assert len(docs) == 100 and {d["hostname"] for d in docs} == {"web-1", "db-2"}
        one = _sw("alerts", "tail", "--from", server.url, "--all", "--no-follow", "--host", "db-2")
        assert one.returncode == 0, one.stderr
        lines = one.stdout.splitlines()
        assert len(lines) == 50 and all(line.startswith("db-2: ") for line in lines)
        assert [int(x.rsplit("/", 1)[1].split()[0]) for x in lines] == list(range(0, 500, 10))
        none = _sw("alerts", "tail", "--from", server.url, "--all", "--no-follow", "-p", "critical")
        assert none.returncode == 0 and none.stdout == ""
        rep = _sw("alerts", "report", "--from", server.url)
        assert rep.returncode == 0, rep.stderr
    finally:
        server.stop()
    assert rep.stdout.startswith("Alerts: 100\n")
    assert any(line.split() == ["web-1", "50"] for line in rep.stdout.splitlines())
    assert any(line.split() in (["Warning", "50"], ["Warning", "100"]) for line in rep.stdout.splitlines())


def test_tail_without_a_bus_is_a_clear_error(tmp_path: Path) -> None:
    from tests.servers import free_port

    res = _sw("alerts", "tail", "--from", f"nats://127.0.0.1:{free_port()}", "--no-follow", timeout=60)
    assert res.returncode == 1 and "cannot reach the bus" in res.stderr and "Traceback" not in res.stderr


def test_config_validate_and_show(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("http_output:\n  enabled: true\n  url: http://127.0.0.1:2801/\n  headers: {X-A: b}\n"
                    "outputs_queue: {capacity: 50, overflow: drop_oldest, drain_timeout: 3s}\n")
    res = _sw("config", "validate", str(good))
    assert res.returncode == 0 and "valid" in res.stdout, res.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("outputs_queue:\n  overflow: drop_sometimes\n")
    res = _sw("config", "validate", str(bad))
    assert res.returncode == 2 and f"{bad}:2:13: expected 'outputs_queue.overflow' to be one of" in res.stderr
    bad.write_text("file_output:\n  max_size: lots\n")
    res = _sw("config", "validate", str(bad))
    assert res.returncode == 2 and f"{bad}:2:13:" in res.stderr and "a size like" in res.stderr
    res = _sw("config", "show", "-c", str(good), "--option", "outputs_queue.capacity=7", "-p", "error")
    assert res.returncode == 0, res.stderr
    import yaml

    doc = yaml.safe_load(res.stdout)
    assert doc["outputs_queue"] == {"capacity": 7, "overflow": "drop_oldest", "drain_timeout": 3.0}
    assert doc["priority"] == "error" and doc["http_output"]["headers"] == {"X-A": "b"}


def test_service_install_verifies(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    res = _sw("service", "install", "--root", str(tmp_path))
    assert res.returncode == 0, res.stderr
    unit = tmp_path / "etc/systemd/system/syswarden.service"
    config = tmp_path / "etc/syswarden/syswarden.yaml"
    check = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True)
    assert check.returncode == 0 and check.stderr == "", check.stderr
    text = unit.read_text()
    assert "ProtectSystem=strict" in text and "Restart=on-failure" in text
    assert "CapabilityBoundingSet=CAP_BPF CAP_PERFMON" in text and "CAP_SYS_ADMIN" not in text
    assert "-c /etc/syswarden/syswarden.yaml" in text
    assert _sw("config", "validate", str(config)).returncode == 0
    config.write_text("priority: warning\n")
    assert _sw("service", "install", "--root", str(tmp_path)).returncode == 0
    assert config.read_text() == "priority: warning\n"          # an existing config is kept
    # the oracle can fail: a unit with a relative ExecStart is refused
    broken = tmp_path / "broken.service"
    broken.write_text(text.replace("ExecStart=/", "ExecStart="))
    assert subprocess.run([analyze, "verify", str(broken)], capture_output=True, text=True).returncode != 0
