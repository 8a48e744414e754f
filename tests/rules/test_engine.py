"""The engine: event-type index, definition order, first/all matching, selection, state-only and enter events."""
from __future__ import annotations

import textwrap

import pytest

from syswarden.rules.alert import Priority
from syswarden.rules import Engine, Selection, load_texts
from syswarden.spans import SourceText
from syswarden.testing import event, file_fd, thread

RULES = textwrap.dedent("""
    - macro: opened
      condition: evt.type in (open, openat)
    - rule: Open etc
      desc: any open below /etc
      condition: opened and fd.name startswith /etc/
      output: "etc open %fd.name by %proc.name"
      priority: NOTICE
      tags: [fs, etc]
    - rule: Open shadow
      desc: /etc/shadow
      condition: opened and fd.name = /etc/shadow
      output: "shadow open by %proc.name"
      priority: CRITICAL
      tags: [fs, creds]
    - rule: Any cat
      desc: every event of a cat process
      condition: proc.name = cat
      output: "cat did %evt.type"
      priority: DEBUG
      tags: [proc]
      warn_evttypes: false
    - rule: Exec
      desc: execve
      condition: evt.type = execve and proc.name != sh
      output: "exec %proc.cmdline"
      priority: WARNING
      tags: [proc]
    - rule: Disabled exec
      desc: never runs unless enabled
      condition: evt.type = execve
      output: "disabled"
      priority: EMERGENCY
      enabled: false
""")


@pytest.fixture(scope="module")
def ruleset():
    result = load_texts([SourceText("engine.yaml", RULES)])
    assert result.ruleset is not None, result.as_verbose()
    return result.ruleset


CAT = thread(30, comm="cat", exepath="/usr/bin/cat", args=["/etc/shadow"])


def open_shadow(**kw):
    return event("openat", CAT, params={"fd": 3, "dirfd": -100, "name": "/etc/shadow", "flags": 0}, res=3,
                 fd=file_fd(3, "/etc/shadow"), **kw)


def test_buckets_follow_condition_event_types(ruleset) -> None:
    """openat holds the two open rules and the catch-all, in definition order; execve holds its own."""
    assert [r.name for r in ruleset.rules_for("openat")] == ["Open etc", "Open shadow", "Any cat"]
    assert [r.name for r in ruleset.rules_for("execve")] == ["Any cat", "Exec"]
    assert [r.name for r in ruleset.rules_for("connect")] == ["Any cat"]
    assert ruleset.event_types() is None                  # a catch-all rule needs every event type


def test_first_match_stops_at_earliest_rule(ruleset) -> None:
    """rule_matching=first reports only the earliest matching rule."""
    alerts = Engine(ruleset, hostname="h").process(open_shadow())
    assert [a.rule for a in alerts] == ["Open etc"]
    assert alerts[0].output == "etc open /etc/shadow by cat"


def test_all_matches_in_definition_order(ruleset) -> None:
    """rule_matching=all reports every matching rule, in definition order, and counts them."""
    engine = Engine(ruleset, rule_matching="all", hostname="h")
    alerts = engine.process(open_shadow())
    assert [a.rule for a in alerts] == ["Open etc", "Open shadow", "Any cat"]
    assert engine.counts == {"Open etc": 1, "Open shadow": 1, "Any cat": 1} and engine.events == 1


def test_min_priority(ruleset) -> None:
    """-p keeps rules at or above the priority."""
    engine = Engine(ruleset, rule_matching="all", min_priority=Priority.WARNING, hostname="h")
    assert [a.rule for a in engine.process(open_shadow())] == ["Open shadow"]


@pytest.mark.parametrize("selection,expected", [
    (Selection(disable_names=("etc",)), ["Open shadow", "Any cat"]),          # substring
    (Selection(disable_names=("Open *",)), ["Any cat"]),                        # glob
    (Selection(disable_tags=("creds",)), ["Open etc", "Any cat"]),              # -T
    (Selection(only_tags=("fs",)), ["Open etc", "Open shadow"]),                # -t
])
def test_selection(ruleset, selection, expected) -> None:
    """-D NAME (substring or glob), -T TAG and -t TAG choose the rules that run."""
    engine = Engine(ruleset, rule_matching="all", selection=selection, hostname="h")
    assert [a.rule for a in engine.process(open_shadow())] == expected


def test_disabled_rule_does_not_run_unless_enabled(ruleset) -> None:
    """enabled: false keeps a rule loaded but silent; enable_all turns it on."""
    bash = thread(40, comm="bash", exepath="/usr/bin/bash")
    ev = event("execve", bash, params={"exe": "/usr/bin/bash", "args": []})
    assert [a.rule for a in Engine(ruleset, rule_matching="all", hostname="h").process(ev)] == ["Exec"]
    engine = Engine(ruleset, rule_matching="all", selection=Selection(enable_all=True), hostname="h")
    assert [a.rule for a in engine.process(ev)] == ["Exec", "Disabled exec"]


def test_state_only_events_never_reach_rules(ruleset) -> None:
    """An event marked state_only feeds state but raises no alert and is not counted."""
    engine = Engine(ruleset, rule_matching="all", hostname="h")
    assert engine.process(open_shadow(state_only=True)) == [] and engine.events == 0


def test_enter_events_are_evaluated(ruleset) -> None:
    """An enter event is judged like sysdig/Falco <= 0.35 did (fd.name comes from the open's name parameter)."""
    ev = event("openat", CAT, params={"dirfd": -100, "name": "/etc/shadow", "flags": 0}, res=None, dir=">")
    alerts = Engine(ruleset, rule_matching="all", hostname="h").process(ev)
    assert [a.rule for a in alerts] == ["Open etc", "Open shadow", "Any cat"]


def test_index_and_flat_scan_agree() -> None:
    """With and without the event-type index the stock rules raise the same alerts on a mixed stream."""
    import importlib.util
    from pathlib import Path

    bench = Path(__file__).resolve().parents[2] / "bench" / "engine.py"
    spec = importlib.util.spec_from_file_location("bench_engine", bench)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    stock = load_texts([SourceText("falco_rules.yaml", mod.STOCK.read_text())]).ruleset
    assert stock is not None
    pool = mod.make_pool(3000, seed=3)
    indexed = Engine(stock, rule_matching="all", hostname="h")
    flat = Engine(stock, rule_matching="all", hostname="h", indexed=False)
    a = [(x.rule, x.output) for ev in pool for x in indexed.process(ev)]
    b = [(x.rule, x.output) for ev in pool for x in flat.process(ev)]
    assert a == b and len(a) > 0
