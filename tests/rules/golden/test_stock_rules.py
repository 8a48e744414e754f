"""Golden tests: recorded event sequences fire stock Falco rules with Falco's exact output; near misses do not.

Each case replays ``<slug>.jsonl`` through the real pipeline (replay source -> state -> engine) with the stock
rules file the rule lives in, matching every rule (``rule_matching: all``), and compares the alert of the rule
under test with the output string written in ``cases.json``. ``<slug>.miss.jsonl`` changes one detail that the
rule's condition depends on, and the rule must stay silent.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pytest

from syswarden.rules.alert import Alert
from syswarden.rules import Ruleset, load_rules
from syswarden.service.pipeline import open_pipeline
from syswarden.testing import CapturingOutput

HERE = Path(__file__).resolve().parent
RULES = Path(__file__).resolve().parents[3] / "src" / "syswarden" / "rules" / "data"
ANCHORS = Path(__file__).resolve().parents[3] / ".." / "shared" / "anchors" / "falco"
CASES = json.loads((HERE / "cases.json").read_text())


@lru_cache(maxsize=None)
def ruleset(name: str) -> Ruleset:
    path = RULES / name if (RULES / name).exists() else ANCHORS / name
    if not path.exists():
        pytest.skip(f"{name} is not available (shared/anchors missing)")
    result = load_rules([path])
    assert result.ruleset is not None, result.as_verbose()
    return result.ruleset


def replay(recording: Path, rules: Ruleset) -> list[Alert]:
    out = CapturingOutput()
    open_pipeline(rules, [out], path=str(recording), rule_matching="all").run()
    return out.alerts


def test_enough_rules() -> None:
    """The acceptance asks for at least 25 stock rules."""
    assert len({c["rule"] for c in CASES}) >= 25


@pytest.mark.parametrize("case", CASES, ids=[c["slug"] for c in CASES])
def test_rule_fires_with_falco_output(case: dict[str, str]) -> None:
    """The recording fires the rule once, with Falco's output string, priority and tags."""
    rules = ruleset(case["file"])
    alerts = [a for a in replay(HERE / f"{case['slug']}.jsonl", rules) if a.rule == case["rule"]]
    assert len(alerts) == 1, f"expected one alert of {case['rule']!r}"
    rule = rules.by_name(case["rule"])
    assert rule is not None
    assert alerts[0].output == case["output"]
    assert alerts[0].priority is rule.priority and set(alerts[0].tags) == set(rule.tags)
    assert alerts[0].hostname == "golden-host"


@pytest.mark.parametrize("case", CASES, ids=[c["slug"] for c in CASES])
def test_near_miss_does_not_fire(case: dict[str, str]) -> None:
    """The near-miss recording does not fire the rule."""
    rules = ruleset(case["file"])
    alerts = replay(HERE / f"{case['slug']}.miss.jsonl", rules)
    assert case["rule"] not in [a.rule for a in alerts]
