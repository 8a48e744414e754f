"""Drop reports: per CPU and per type, and the rules a dropped type may have cost (service/drops)."""
from __future__ import annotations

from pathlib import Path

from syswarden.rules.loader import load_rules
from syswarden.rules.ruleset import Ruleset
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
