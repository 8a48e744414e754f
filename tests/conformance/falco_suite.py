"""Falco's legacy regression suite (falco_tests*.yaml) as data: the detection cases and how to run one.

The harness semantics are Falco's ``test/falco_test.py`` as summarised in ``shared/anchors/falco/tests/SOURCE.md``:
rules files are loaded in order (the stock rules when a case names none), ``-D``/``-T``/``-t`` and ``priority``
select rules, the capture is replayed through state, the first matching rule alerts, and the expectations are
``detect`` (any alert or none), ``detect_level`` (each listed priority alerted) and ``detect_counts`` (exact).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

TESTS = Path(__file__).resolve().parents[2] / ".." / "shared" / "anchors" / "falco" / "tests"
CAPTURES = TESTS.parent / "captures"
SUITES = ("falco_tests.yaml", "falco_tests_exceptions.yaml")


class _MuxLoader(yaml.SafeLoader):
    """avocado's ``!mux`` tag marks a plain mapping."""


_MuxLoader.add_constructor("!mux", lambda loader, node: loader.construct_mapping(node, deep=True))


@dataclass(frozen=True)
class Case:
    suite: str
    name: str
    spec: dict[str, Any] = field(hash=False)

    @property
    def id(self) -> str:
        return f"{self.suite.split('.')[0]}::{self.name}"

    def capture(self) -> Path:
        trace = str(self.spec["trace_file"])
        return CAPTURES / ("falco_" + Path(trace).name)

    def rules_files(self) -> tuple[Path, ...]:
        files = self.spec.get("rules_file", "default_rules/falco_rules.yaml")
        items = files if isinstance(files, list) else [files]
        out: list[Path] = []
        for f in items:
            path = TESTS / str(f)
            # Falco loads a rules directory's files in name order
            out.extend(sorted(path.glob("*.yaml")) if path.is_dir() else [path])
        return tuple(out)


# Checks the harness makes that are not about detections, and why this suite does not make them.
NOT_DETECTION = {
    "validate_rules_file": "validation-only case (loader engineer's tests/rules/loader/test_falco_conformance.py)",
    "conf_file": "needs a falco.yaml variant (outputs, drop alerts, program/file/grpc outputs)",
    "stderr_contains": "checks Falco's own messages on stderr (usage errors, drop statistics)",
    "stderr_not_contains": "checks Falco's own messages on stderr (usage errors, drop statistics)",
    "time_iso_8601": "checks ISO-8601 console timestamps (outputs engineer's alert tests)",
    "output_strictly_contains": "checks the exact output file, not detections",
    "json_include_output_property": "Falco's json_include_output_property option is not implemented",
    "json_include_tags_property": "Falco's json_include_tags_property option is not implemented",
    "grpc": "gRPC output was removed from Falco (0.44) and is not implemented",
}


@cache
def cases() -> tuple[Case, ...]:
    out = []
    for suite in SUITES:
        path = TESTS / suite
        if not path.is_file():
            continue
        data = yaml.load(path.read_text(), Loader=_MuxLoader)
        for name, spec in data["trace_files"].items():
            out.append(Case(suite, name, spec))
    return tuple(out)


def skip_reason(case: Case) -> str | None:
    """Why a case cannot run here, or None."""
    for key, reason in NOT_DETECTION.items():
        if key in case.spec:
            return reason
    if not case.capture().is_file():
        return f"capture {case.spec['trace_file']} is not in shared/anchors (downloaded by Falco's CI)"
    if int(case.spec.get("exit_status", 0)) != 0:
        return None      # an expected load failure is checked as such
    return None


# Cases that fail because of a gap owned by another part of syswarden; each reason names the gap. They run
# (xfail, not skip), so they turn into failures to remove from here as soon as the gap is closed.
KNOWN_GAPS: dict[str, str] = {}


def expected_counts(case: Case) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in case.spec.get("detect_counts", []) or []:
        counts.update({str(k): int(v) for k, v in item.items()})
    return counts


def run_case(case: Case) -> tuple[Any, Counter[str], Counter[str], list[str]]:
    """Load the case's rules and replay its capture.

    Returns:
        (load result, alerts per rule, alerts per priority, the alerts as Falco's stdout lines: text or JSON).
    """
    from syswarden.rules.alert import Priority
    from syswarden.rules import Engine, load_rules
    from syswarden.rules.ruleset import Selection
    from syswarden.sources.base import SourceConfig
    from syswarden.sources.scap.reader import ScapSource
    from syswarden.service.pipeline import use_state_accounts
    from syswarden.state import State

    result = load_rules([str(p) for p in case.rules_files()])
    if result.errors or result.ruleset is None:
        return result, Counter(), Counter(), []
    prio = Priority.parse(str(case.spec.get("priority", "debug"))) or Priority.DEBUG
    selection = Selection(prio, tuple(_as_list(case.spec.get("disabled_rules"))),
                          tuple(_as_list(case.spec.get("disable_tags"))), tuple(_as_list(case.spec.get("run_tags"))))
    engine = Engine(result.ruleset, selection=selection, hostname="test-falco-hostname")
    src = ScapSource(SourceConfig(path=str(case.capture())))
    state = State()
    use_state_accounts(state)
    state.seed(src.initial_threads())
    by_rule: Counter[str] = Counter()
    by_prio: Counter[str] = Counter()
    lines: list[str] = []
    as_json = bool(case.spec.get("json_output", False))
    for event in src.events():
        for alert in engine.process(state.apply(event)):
            by_rule[alert.rule] += 1
            by_prio[alert.priority.name.lower()] += 1
            lines.append(alert.to_json() if as_json else alert.text_line())
    return result, by_rule, by_prio, lines


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]
