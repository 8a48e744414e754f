"""Collector semantics: define in place, append, override, enable, exceptions, as Falco defines them."""
from __future__ import annotations

import pytest

from syswarden.rules.alert import Priority
from syswarden.rules.loader.result import LoadIssue, WarningCode

BASE = """
- list: shells
  items: [bash, sh]
- macro: spawned
  condition: evt.type = execve
- rule: A
  desc: first
  condition: spawned
  output: "a %proc.name"
  priority: WARNING
  tags: [t1]
- rule: B
  desc: second
  condition: spawned and proc.name in (shells)
  output: b
  priority: INFO
"""


def test_redefinition_keeps_position(collect) -> None:
    """Redefining rule A later replaces it in place: it still evaluates before B."""
    col, _ = collect(BASE, """
    - rule: A
      desc: new
      condition: evt.type = open
      output: new
      priority: ERROR
    """)
    assert list(col.rules) == ["A", "B"]
    assert col.rules["A"].condition == "evt.type = open" and col.rules["A"].priority is Priority.ERROR
    assert col.rules["A"].index < col.rules["A"].visibility


def test_deprecated_append_concatenates_with_space(collect) -> None:
    """append: true adds ' ' + text to the condition and warns LOAD_DEPRECATED_ITEM."""
    col, warns = collect(BASE, """
    - rule: A
      condition: and proc.name = cat
      append: true
    - list: shells
      items: [zsh]
      append: true
    - macro: spawned
      condition: or evt.type = execveat
      append: true
    """)
    assert col.rules["A"].condition == "spawned and proc.name = cat"
    assert col.lists["shells"].items == ["bash", "sh", "zsh"]
    assert col.macros["spawned"].condition == "evt.type = execve or evt.type = execveat"
    assert [w.code for w in warns].count(WarningCode.LOAD_DEPRECATED_ITEM) == 3


def test_override_append_and_replace_per_key(collect) -> None:
    """override: appends output/tags and replaces priority/enabled in one item."""
    col, warns = collect(BASE, """
    - rule: A
      output: "extra=%fd.name"
      tags: [t2]
      priority: CRITICAL
      enabled: false
      override:
        output: append
        tags: append
        priority: replace
        enabled: replace
    """)
    a = col.rules["A"]
    assert a.output == "a %proc.name extra=%fd.name"
    assert a.tags == {"t1", "t2"}
    assert a.priority is Priority.CRITICAL and a.enabled is False
    assert not warns


def test_override_replace_tags_and_condition(collect) -> None:
    """override replace swaps the whole value."""
    col, _ = collect(BASE, """
    - rule: B
      condition: evt.type = connect
      tags: [net]
      override:
        condition: replace
        tags: replace
    """)
    assert col.rules["B"].condition == "evt.type = connect" and col.rules["B"].tags == {"net"}


def test_standalone_enabled_is_deprecated_but_works(collect) -> None:
    """'- rule: X / enabled: false' disables X and warns."""
    col, warns = collect(BASE, "- rule: B\n  enabled: false\n")
    assert col.rules["B"].enabled is False
    assert any(w.code is WarningCode.LOAD_DEPRECATED_ITEM for w in warns)


def test_unknown_source_is_skipped_with_warning(collect) -> None:
    """A rule for a source we do not have is kept aside with LOAD_UNKNOWN_SOURCE."""
    col, warns = collect("""
    - rule: K
      desc: d
      condition: ka.verb = get
      output: o
      priority: INFO
      source: k8s_audit
    """)
    assert col.rules["K"].unknown_source
    assert [w.message for w in warns] == ["Unknown source k8s_audit, skipping"]


def test_unknown_key_and_item_warn(collect) -> None:
    """Unknown keys and unknown top-level items are warnings, not errors."""
    _, warns = collect(BASE + "  severity: high\n- something: else\n")
    codes = {w.code for w in warns}
    assert codes == {WarningCode.LOAD_UNKNOWN_KEY, WarningCode.LOAD_UNKNOWN_ITEM}


def test_exception_values_append(collect) -> None:
    """Appending an existing exception by name adds only values; a new name adds an exception."""
    col, _ = collect("""
    - rule: E
      desc: d
      condition: evt.type = open
      output: o
      priority: INFO
      exceptions:
      - name: procs
        fields: [proc.name, fd.name]
        values: [[cat, /etc/hosts]]
    - rule: E
      exceptions:
      - name: procs
        values: [[ls, /tmp]]
      - name: dirs
        fields: fd.directory
        values: [/var]
      override:
        exceptions: append
    """)
    exs = col.rules["E"].exceptions
    assert [e.name for e in exs] == ["procs", "dirs"]
    assert len(exs[0].values) == 2
    assert exs[1].comps is not None and exs[1].comps.item == "in"       # single field default comparison
    assert [c.item for c in exs[0].comps.items] == ["=", "="]            # tuple default comparisons


def test_engine_version_semver(collect) -> None:
    """0.57.0 (stock) and an integer are accepted; a newer minor is refused."""
    collect("- required_engine_version: 0.57.0\n- required_engine_version: 12\n")
    with pytest.raises(LoadIssue, match=r"Rules require engine version 0\.64\.0"):
        collect("- required_engine_version: 0.64.0\n")


def test_container_plugin_requirement_accepted(collect) -> None:
    """The stock files' container plugin requirement loads (we provide container fields ourselves)."""
    col, warns = collect("- required_plugin_versions:\n  - name: container\n    version: 0.4.0\n")
    assert col.required_plugins == [(("container", "0.4.0"),)] and not warns
