"""LoadResult renderings: summary, verbose with caret snippet and location chain, Falco JSON."""
from __future__ import annotations

import json

from syswarden.rules.loader import load_texts
from syswarden.spans import SourceText

TEXT = ("- macro: m\n  condition: evt.type = open and\n"
        "- rule: R\n  desc: d\n  condition: m\n  output: o\n  priority: INFO\n")


def result():
    return load_texts([SourceText("r.yaml", TEXT)])


def test_summary() -> None:
    """One verdict line per file and the error codes."""
    assert result().as_summary() == ("r.yaml: Invalid\n"
                                     " 1 errors: [LOAD_ERR_COMPILE_CONDITION (Error compiling condition)]")


def test_verbose_has_chain_and_caret() -> None:
    """Verbose text shows the chain of locations, the source line and a caret under the column."""
    text = result().as_verbose()
    assert "macro 'm' (r.yaml:1:3)" in text
    assert "  condition: evt.type = open and\n" in text
    lines = text.splitlines()
    caret = lines[lines.index("  condition: evt.type = open and") + 1]
    assert caret.endswith("^") and len(caret) == len("  condition: evt.type = open and") + 1


def test_json_layout() -> None:
    """JSON follows Falco's as_json: name, successful, errors with code/codedesc/message/context."""
    doc = json.loads(result().as_json())["falco_load_results"][0]
    assert doc["name"] == "r.yaml" and doc["successful"] is False and doc["warnings"] == []
    err = doc["errors"][0]
    assert set(err) == {"code", "codedesc", "message", "context"}
    assert err["context"]["locations"][1] == {"item_type": "macro", "item_name": "m",
                                              "position": {"name": "r.yaml", "line": 1, "column": 3}}
    assert err["context"]["snippet"].startswith("  condition: evt.type = open and")


def test_ok_file() -> None:
    """A clean file renders Ok and publishes a ruleset."""
    res = load_texts([SourceText("ok.yaml",
                                 "- rule: R\n  desc: d\n  condition: evt.type=open\n  output: o\n  priority: INFO\n")])
    assert res.successful and res.ruleset is not None and res.as_summary() == "ok.yaml: Ok"
