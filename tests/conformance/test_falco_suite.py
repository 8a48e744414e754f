"""Falco's own regression suite: every runnable detection case gives the detections Falco expects."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from falco_suite import (KNOWN_GAPS, TESTS, _as_list, cases, expected_counts, expected_exit, needs_cli, run_case,
                         run_case_cli, skip_reason, stderr_problems, strictly_contains)

LEVELS = {"emergency", "alert", "critical", "error", "warning", "notice", "informational", "info", "debug"}


def _params() -> list[object]:
    out = []
    for case in cases():
        reason = skip_reason(case)
        marks = [pytest.mark.skip(reason=reason)] if reason else []
        if case.name in KNOWN_GAPS:
            marks.append(pytest.mark.xfail(reason=KNOWN_GAPS[case.name], strict=True))
        out.append(pytest.param(case, id=case.id, marks=marks))
    return out


@pytest.mark.parametrize("case", _params())
def test_falco_case(case, tmp_path: Path) -> None:
    """The case's rules on its capture alert as Falco's expectations say (detect, levels, exact counts)."""
    if needs_cli(case):
        _check_cli_case(case, tmp_path)
        return
    result, by_rule, by_prio, lines = run_case(case)
    if int(case.spec.get("exit_status", 0)) != 0:
        assert result.errors, "Falco refuses these rules; they must not load"
        return
    assert not result.errors, [str(e) for e in result.errors]
    _check_detections(case, by_rule, by_prio, lines)


def _check_cli_case(case, tmp_path: Path) -> None:
    """A case with a falco.yaml or output options, run as ``syswarden monitor -c CONF --option ...``."""
    run = run_case_cli(case, tmp_path)
    assert run.returncode == expected_exit(case), run.stderr
    assert not stderr_problems(case, run.stderr), (stderr_problems(case, run.stderr), run.stderr)
    assert "Traceback" not in run.stderr
    lines = run.stdout.splitlines()
    _check_detections(case, run.by_rule, run.by_prio, lines)
    if case.spec.get("json_output", False):
        # Falco's check_json_output: every document has these properties (output only when included).
        needed = ["time", "rule", "priority"] + (["output"] if case.spec.get("json_include_output_property", True)
                                                 else [])
        for line in lines:
            doc = json.loads(line)
            assert all(key in doc for key in needed), (needed, line)
    for item in case.spec.get("output_strictly_contains", []) or []:
        for target, expected in item.items():
            actual = run.stdout if target == "stdout" else run.files[target].read_text()
            assert strictly_contains(actual, (TESTS / expected).read_text(), bool(case.spec.get("json_output"))), \
                f"{target} does not hold {expected}: {actual[:300]!r}"


def _check_detections(case, by_rule, by_prio, lines: list[str]) -> None:
    if case.spec.get("detect", False):
        assert sum(by_rule.values()) > 0, "Falco detects something on this capture"
        for level in case.spec.get("detect_level", []) if isinstance(case.spec.get("detect_level"), list) \
                else [case.spec.get("detect_level")] if case.spec.get("detect_level") else []:
            name = "informational" if level.lower() == "info" else level.lower()
            assert name in LEVELS and by_prio[name] > 0, f"expected at least one {level} alert, got {dict(by_prio)}"
    else:
        assert sum(by_rule.values()) == 0, f"expected no detections, got {dict(by_rule)}"
    for pattern in _as_list(case.spec.get("stdout_contains")):
        assert any(re.search(pattern, line) for line in lines), f"no alert line matches {pattern!r}: {lines[:3]}"
    for pattern in _as_list(case.spec.get("stdout_not_contains")):
        assert not any(re.search(pattern, line) for line in lines), f"an alert line matches {pattern!r}"
    for rule, count in expected_counts(case).items():
        assert by_rule[rule] == count, f"rule {rule!r}: Falco counts {count}, syswarden {by_rule[rule]}"
