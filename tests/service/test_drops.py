"""Drop reports: per CPU and per type, and the rules a dropped type may have cost (service/drops)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from syswarden.errors import SourceError
from syswarden.rules.alert import Alert, AlertFormat, Priority
from syswarden.rules.loader import load_rules
from syswarden.rules.ruleset import Ruleset
from syswarden.service.drop_actions import DropMonitor, InternalAlert, SyscallEventDropsConfig
from syswarden.service.drops import drop_report
from syswarden.service.pipeline import Summary
from syswarden.sources.base import SourceStats

RULES = """
- rule: Shadow read
  desc: d
  condition: evt.type in (open, openat) and fd.name = /etc/shadow
  output: o
  priority: WARNING
- rule: Module load
  desc: d
  condition: evt.type = init_module
  output: o
  priority: WARNING
- rule: Any exec
  desc: d
  condition: evt.type = execve
  output: o
  priority: WARNING
"""


def ruleset(tmp_path: Path) -> Ruleset:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    result = load_rules([str(path)])
    assert not result.errors
    return result.ruleset


def test_report_names_the_rules_of_the_dropped_types(tmp_path: Path) -> None:
    stats = SourceStats(drops=7, drops_per_cpu={0: 5, 1: 2}, drops_per_type={"openat": 6, "clone (child)": 1})
    report = drop_report(stats, ruleset(tmp_path))
    assert report is not None
    assert report.rules == ("Shadow read",)
    assert report.state_types == ("clone", "openat")
    text = "\n".join(report.lines())
    assert "cpu0=5 cpu1=2" in text and "openat=6" in text and "  Shadow read" in text
    assert "Module load" not in text and "Any exec" not in text


def test_no_drops_no_report_and_a_typeless_source_blames_every_rule(tmp_path: Path) -> None:
    assert drop_report(SourceStats(), ruleset(tmp_path)) is None
    report = drop_report(SourceStats(drops=3, drops_per_cpu={0: 3}), ruleset(tmp_path))
    assert report is not None and report.rules == ("Shadow read", "Module load", "Any exec")


def test_summary_prints_the_report_escaped() -> None:
    summary = Summary(drops=1, drop_details=["Rules that may have missed events:", "  evil\x1b[2Jname"])
    text = summary.render()
    assert "Rules that may have missed events:" in text and "\x1b" not in text


# -- syscall_event_drops (service/drop_actions) -------------------------------------------------------------

def _monitor(tmp_path: Path, **cfg: object) -> tuple[DropMonitor, list[Alert], list[str]]:
    alerts: list[Alert] = []
    logged: list[str] = []
    monitor = DropMonitor(SyscallEventDropsConfig(**cfg), emit=alerts.append, hostname="h", ebpf=True,  # type: ignore[arg-type]
                          ruleset=lambda: ruleset(tmp_path), log=logged.append)
    return monitor, alerts, logged


def _second(monitor: DropMonitor, stats: SourceStats, at: int, events: int, drops: dict[str, int]) -> None:
    """One more second: ``events`` delivered and ``drops`` lost (per type, all on cpu 1)."""
    stats.events += events
    for name, n in drops.items():
        stats.drops_per_type[name] = stats.drops_per_type.get(name, 0) + n
        stats.drops_per_cpu[1] = stats.drops_per_cpu.get(1, 0) + n
        stats.drops += n
    monitor.check(at * 1_000_000_010, stats)          # just over a second after the last check


def test_threshold_is_the_share_of_the_last_second(tmp_path: Path) -> None:
    monitor, alerts, logged = _monitor(tmp_path, actions=("log", "alert"), max_burst=10)
    stats = SourceStats()
    monitor.check(0, stats)                                   # arms the first check a second later
    _second(monitor, stats, 1, 100, {"openat": 5})            # 5 of 105: under 10%
    assert monitor.occurrences == 0 and not alerts
    _second(monitor, stats, 2, 100, {"openat": 20, "clone (child)": 2, "execve": 1})   # 23 of 123
    assert monitor.occurrences == 1 and monitor.actions_taken == 1
    (alert,) = alerts
    assert alert.rule == "Falco internal: syscall event drop" and alert.source == "internal"
    fields = alert.output_fields
    assert fields["n_drops"] == "23" and fields["n_evts"] == "123" and fields["n_drops_buffer_open_exit"] == "20"
    assert fields["n_drops_buffer_clone_fork_exit"] == "2" and fields["n_drops_buffer_execve_exit"] == "1"
    assert fields["ebpf_enabled"] == "1" and all(isinstance(v, str) for v in fields.values())
    text = "\n".join(logged)
    assert "syswarden: Falco internal: syscall event drop. 23 system calls dropped in last second." in text
    assert "cpu1=23" in text and "  Shadow read" in text and "Any exec" in text and "Module load" not in text


def test_token_bucket_limits_the_actions(tmp_path: Path) -> None:
    monitor, alerts, _ = _monitor(tmp_path, actions=("alert",), rate=0.5, max_burst=2, threshold=0)
    stats = SourceStats()
    monitor.check(0, stats)
    for second in range(1, 6):                                 # 5 occurrences, 2 tokens, +0.5 a second
        _second(monitor, stats, second, 10, {"openat": 1})
    # tokens: 2 -> 1, 1.5 -> 0.5, 1 -> 0, 0.5 (none), 1 -> 0: four actions
    assert monitor.occurrences == 5 and monitor.actions_taken == len(alerts) == 4
    assert monitor.lines() == ["Syscall event drop monitoring:", "   - event drop detected: 5 occurrences",
                               "   - num times actions taken: 4"]


def test_exit_stops_with_an_error_and_ignore_does_nothing(tmp_path: Path) -> None:
    monitor, alerts, logged = _monitor(tmp_path, actions=("exit",), threshold=0)
    stats = SourceStats()
    monitor.check(0, stats)
    with pytest.raises(SourceError, match=r"syscall_event_drops\.actions"):
        _second(monitor, stats, 1, 10, {"openat": 1})
    assert logged[-1] == "syswarden: Exiting." and not alerts
    quiet, alerts, logged = _monitor(tmp_path, actions=("ignore",), threshold=0)
    quiet.check(0, stats)
    _second(quiet, stats, 1, 10, {"openat": 1})
    assert quiet.occurrences == 1 and not alerts and not logged


def test_internal_alert_renders_as_falcos_handle_msg() -> None:
    alert = InternalAlert(rule="Falco internal: syscall event drop", priority=Priority.DEBUG, output="m.",
                          time_ns=1_700_000_000_123_456_789, source="internal", hostname="h",
                          output_fields={"n_evts": "3", "ebpf_enabled": "1"})
    doc = json.loads(alert.to_json(AlertFormat(json_output=True, include_tags=True)))
    assert doc == {"hostname": "h", "output": "m.", "output_fields": {"ebpf_enabled": "1", "n_evts": "3"},
                   "priority": "Debug", "rule": "Falco internal: syscall event drop", "source": "internal",
                   "time": "2023-11-14T22:13:20.123456789Z"}
    assert alert.text_line().endswith(': Debug m. (ebpf_enabled="1" n_evts="3")')
