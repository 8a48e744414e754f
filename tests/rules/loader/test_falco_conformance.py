"""Falco's own loader regression cases (falco_tests.yaml and falco_tests_exceptions.yaml): the same files give
the same codes, items (the chain: rule, then exception), messages.

The expectations come from Falco's test suite (copied under shared/anchors/falco/tests). A few messages were
reworded by Falco after that suite was written; RENAMED maps the old wording to the current Falco source's
(rule_loading_messages.h at engine 0.63.0), which is what syswarden prints.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from syswarden.rules.loader import load_rules
from syswarden.rules.loader.result import Issue

TESTS = Path(__file__).resolve().parents[4] / ".." / "shared" / "anchors" / "falco" / "tests"
if not TESTS.is_dir():
    TESTS = Path("/work/shared/anchors/falco/tests")

RENAMED = {
    "Macro has 'append' key but no macro by that name already exists":
        "Macro uses 'append' or 'override.condition: append' but no macro by that name already exists",
    "List has 'append' key but no list by that name already exists":
        "List uses 'append' or 'override.items: append' but no list by that name already exists",
    "Rule has 'append' key but no rule by that name already exists":
        "Rule uses 'append' or 'override.<key>: append' but no rule by that name already exists",
    # Falco now reads an integer engine version N as the semver 0.N.0, and a non-number as a bad semver.
    "Can't decode YAML scalar value": "Unable to parse engine version 'not-a-number' as a semver string.",
    "Rules require engine version 9999999, but engine version is":
        "Rules require engine version 0.9999999.0, but engine version is",
}


class _MuxLoader(yaml.SafeLoader):
    """falco_tests.yaml is an avocado file: '!mux' tags plain mappings."""


_MuxLoader.add_constructor("!mux", lambda loader, node: loader.construct_mapping(node, deep=True))


def _cases() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for suite in ("falco_tests.yaml", "falco_tests_exceptions.yaml"):
        path = TESTS / suite
        if not path.exists():
            continue
        doc = yaml.load(path.read_text(), Loader=_MuxLoader)
        out += [(name, case) for name, case in doc["trace_files"].items()
                if isinstance(case, dict) and "validate_rules_file" in case
                and ("validate_errors" in case or "validate_warnings" in case)]
    return out


CASES = _cases()


def _items(issue: Issue) -> list[tuple[str, str]]:
    """The items Falco's context names: the chain (rule 'My Rule', then exception 'ex1'), else the last place."""
    chain = issue.items or ((issue.item,) if issue.item else issue.locations[-1:])
    return [(loc.item_type, loc.item_name) for loc in chain]


CODE_RENAMED = {"LOAD_UNKNOWN_FIELD": "LOAD_UNKNOWN_FILTER"}


def _matches(issue: Issue, want: dict[str, Any]) -> bool:
    if issue.code.name != CODE_RENAMED.get(want["code"], want["code"]) \
            or (want["item_type"], str(want["item_name"])) not in _items(issue):
        return False
    if want["code"] == "LOAD_ERR_YAML_PARSE":
        return True                       # the text is the YAML library's own (yaml-cpp there, libyaml here)
    if "message_contains" in want:
        return RENAMED.get(want["message_contains"], want["message_contains"]) in issue.message
    expected = RENAMED.get(want["message"], want["message"])
    return issue.message == expected or expected in issue.message


@pytest.mark.skipif(not CASES, reason="Falco's regression suite is not available next to the repo")
@pytest.mark.parametrize("name,case", CASES, ids=[c[0] for c in CASES])
def test_falco_validate_case(name: str, case: dict[str, Any]) -> None:
    """Each expected error and warning of the Falco case is reported, with Falco's code, item and message."""
    names = case["validate_rules_file"]
    files = [TESTS / f for f in ([names] if isinstance(names, str) else names)]
    result = load_rules(files)
    for want in case.get("validate_errors", []):
        assert any(_matches(e, want) for e in result.errors), (
            want, [(e.code.name, _items(e), e.message) for e in result.errors])
    for want in case.get("validate_warnings", []):
        assert any(_matches(w, want) for w in result.warnings), (
            want, [(w.code.name, _items(w), w.message) for w in result.warnings])
    if "validate_errors" in case:
        assert result.ruleset is None
    for ok in case.get("validate_ok", []):
        assert not result.issues_for(str(TESTS / "rules" / ok))[0]
