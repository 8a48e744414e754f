"""The auditing pipeline: source choice, event types asked of the source, counters, failing outputs."""
from __future__ import annotations

from pathlib import Path

import pytest

from syswarden.errors import InputError, OutputError
from syswarden.rules.alert import Alert
from syswarden.rules import Engine, load_rules
from syswarden.service.pipeline import Summary, choose_source, needed_event_types, open_pipeline
from syswarden.state import REQUIRED_EVENT_TYPES
from syswarden.testing import CapturingOutput

ROOT = Path(__file__).resolve().parents[2]
STOCK = ROOT / "src" / "syswarden" / "rules" / "data" / "falco_rules.yaml"
SHADOW = ROOT / "tests" / "rules" / "golden" / "read_sensitive_file_untrusted.jsonl"


@pytest.mark.parametrize("path,source,expected", [
    ("a.jsonl", None, "replay"), ("b.scap", None, "scap"), ("c.scap.gz", None, "scap"),
    (None, None, "ebpf"), (None, "ptrace", "ptrace"), ("d.jsonl", "scap", "scap"),
])
def test_choose_source(path, source, expected) -> None:
    """The source follows the recording's suffix, else eBPF live, unless --source says otherwise."""
    assert choose_source(path, source) == expected


def test_choose_source_rejects_unknown_suffix() -> None:
    """An unknown recording format is bad input."""
    with pytest.raises(InputError, match="expected a .jsonl recording"):
        choose_source("x.pcap", None)


def test_needed_event_types_cover_rules_and_state() -> None:
    """The source is asked for the stock rules' event types plus what state needs, nothing else."""
    ruleset = load_rules([STOCK]).ruleset
    assert ruleset is not None
    types = needed_event_types(ruleset)
    assert types is not None
    assert {"execve", "openat", "connect", "ptrace", "symlinkat"} <= types
    assert REQUIRED_EVENT_TYPES <= types
    assert "read" not in types and "write" not in types


class Broken:
    """An output that always fails."""

    def emit(self, alert: Alert) -> None:
        raise OutputError("disk full")

    def reopen(self) -> None: ...

    def close(self) -> None: ...


def test_failing_output_is_counted_and_others_still_receive() -> None:
    """A broken output does not stop the run or the other outputs; the summary counts the failures."""
    ruleset = load_rules([STOCK]).ruleset
    assert ruleset is not None
    good = CapturingOutput()
    pipe = open_pipeline(ruleset, Engine(ruleset), [Broken(), good], path=str(SHADOW))
    summary = pipe.run()
    assert summary.events == 1 and summary.alerts == 1 and summary.output_errors == 1
    assert good.rules() == ["Read sensitive file untrusted"] and good.closed == 1
    pipe.reopen_outputs()
    assert good.reopened == 1


def test_summary_escapes_rule_names() -> None:
    """Rule names from rules files are escaped in the summary."""
    s = Summary(events=1, alerts=1)
    s.by_rule["bad\nname"] += 1
    assert "bad\\nname" in s.render() and "bad\nname" not in s.render()
