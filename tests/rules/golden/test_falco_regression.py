"""Falco's own detection regression cases, replayed on the real captures they were written for.

Each case of Falco's suite (falco_tests.yaml, falco_tests_exceptions.yaml) names rules files, a capture and
what Falco detected: whether any alert of the given level(s) appears, and for some cases how many alerts each
rule raised, with ``-t``/``-T``/``-D``/``-p`` options. We run the same files through the scap source, state and
engine, with Falco's first-match semantics of that time, and compare. Cases needing a falco.yaml, gRPC or the
missing traces-positive captures are left out.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from syswarden.rules.alert import Priority
from syswarden.rules import Selection, load_rules
from syswarden.service.pipeline import open_pipeline
from syswarden.testing import CapturingOutput

ANCHORS = Path(__file__).resolve().parents[3] / ".." / "shared" / "anchors" / "falco"
if not ANCHORS.is_dir():
    ANCHORS = Path("/work/shared/anchors/falco")
TESTS = ANCHORS / "tests"
UNSUPPORTED = ("conf_file", "grpc", "addl_cmdline_opts", "rules_events", "validate_rules_file")


class _MuxLoader(yaml.SafeLoader):
    """avocado '!mux' tags are plain mappings."""


_MuxLoader.add_constructor("!mux", lambda loader, node: loader.construct_mapping(node, deep=True))


def _cases() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for name in ("falco_tests.yaml", "falco_tests_exceptions.yaml"):
        path = TESTS / name
        if not path.exists():
            continue
        for case_name, case in yaml.load(path.read_text(), Loader=_MuxLoader)["trace_files"].items():
            if not isinstance(case, dict) or "detect" not in case or "rules_file" not in case:
                continue
            if any(k in case for k in UNSUPPORTED) or str(case["trace_file"]).startswith("traces"):
                continue
            out.append((case_name, case))
    return out


CASES = _cases()
# syswarden expands lists on the AST, only where a list can stand (see rules/passes/expand_lists.py); Falco's
# textual substitution also rewrites a list name used as a single value (``proc.name=cat_binaries``).
def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _capture(trace: str) -> Path:
    return ANCHORS / "captures" / ("falco_" + Path(trace).name)


@pytest.mark.skipif(not CASES, reason="Falco's regression suite is not available next to the repo")
@pytest.mark.parametrize("name,case", CASES, ids=[c[0] for c in CASES])
def test_falco_detection_case(name: str, case: dict[str, Any]) -> None:
    """Same detection verdict (and per-rule counts) as Falco on the case's capture."""
    result = load_rules([TESTS / f for f in _as_list(case["rules_file"])])
    assert result.ruleset is not None, result.as_verbose()
    selection = Selection(
        min_priority=Priority.parse(case.get("priority", "debug")) or Priority.DEBUG,
        disable_names=tuple(_as_list(case.get("disabled_rules", []))),
        disable_tags=tuple(_as_list(case.get("disable_tags", []))),
        only_tags=tuple(_as_list(case.get("run_tags", []))),
    )
    ruleset = result.ruleset.select(selection)
    out = CapturingOutput()
    open_pipeline(ruleset, [out], path=str(_capture(case["trace_file"]))).run()
    levels = {Priority.parse(str(level)) for level in _as_list(case.get("detect_level", []))}
    at_level = [a for a in out.alerts if a.priority in levels] if levels else out.alerts
    assert bool(at_level) == bool(case["detect"]), Counter(a.rule for a in out.alerts)
    counts = Counter(a.rule for a in out.alerts)
    for entry in case.get("detect_counts", []):
        for rule, expected in entry.items():
            assert counts[rule] == expected, (rule, counts)
