"""Builder behaviour: warnings that do not stop loading, skip-if-unknown-filter, exceptions at run time."""
from __future__ import annotations

import textwrap

from syswarden.rules.loader import load_texts
from syswarden.rules.loader.result import WarningCode
from syswarden.spans import SourceText
from syswarden.testing import event, file_fd, run_rules, thread


def load(text: str):
    return load_texts([SourceText("b.yaml", textwrap.dedent(text))])


def codes(result) -> list[str]:
    return [w.code.name for w in result.warnings]


def test_unused_macro_and_list_warn() -> None:
    """Macros and lists nobody references are reported, and the ruleset still loads."""
    res = load("""
    - list: lonely
      items: [x]
    - macro: unused
      condition: proc.name = x
    - rule: R
      desc: d
      condition: evt.type = open
      output: o
      priority: INFO
    """)
    assert res.ruleset is not None
    assert codes(res) == ["LOAD_UNUSED_MACRO", "LOAD_UNUSED_LIST"]
    assert res.warnings[0].one_line() == "b.yaml:4:3: macro 'unused': Macro not referred to by any other rule/macro"


def test_rule_without_event_type_warns_unless_told_not_to() -> None:
    """A condition matching every event type warns LOAD_NO_EVTTYPE; warn_evttypes: false silences it."""
    rule = "- rule: {n}\n  desc: d\n  condition: proc.name = cat\n  output: o\n  priority: INFO\n"
    res = load(rule.format(n="A") + rule.format(n="B") + "  warn_evttypes: false\n")
    assert [(w.code, w.item.item_name) for w in res.warnings] == [(WarningCode.LOAD_NO_EVTTYPE, "A")]


def test_container_info_and_deprecated_fields() -> None:
    """%container.info is dropped from the output with a warning; evt.dir use is flagged as deprecated."""
    res = load("""
    - rule: R
      desc: d
      condition: evt.type = open and evt.dir = <
      output: "opened %container.info by %proc.name"
      priority: INFO
    """)
    assert res.ruleset is not None
    assert res.ruleset.rules[0].output == "opened  by %proc.name"
    assert codes(res).count("LOAD_DEPRECATED_ITEM") == 2


def test_skip_if_unknown_filter() -> None:
    """An unknown field becomes LOAD_UNKNOWN_FILTER and the rule is skipped; other rules still load."""
    res = load("""
    - rule: Future
      desc: d
      condition: evt.type = open and proc.nobody = x
      output: o
      priority: INFO
      skip-if-unknown-filter: true
    - rule: Now
      desc: d
      condition: evt.type = open
      output: o
      priority: INFO
    """)
    assert res.ruleset is not None and [r.name for r in res.ruleset.rules] == ["Now"]
    assert codes(res) == ["LOAD_UNKNOWN_FILTER"] and res.skipped[0][0] == "Future"


def test_unknown_field_error_suggests_a_name() -> None:
    """An unknown field is a located error with a suggestion."""
    res = load("""
    - rule: X
      desc: d
      condition: evt.type = open and proc.nmae = cat
      output: o
      priority: INFO
    """)
    err = res.errors[0]
    assert err.code.name == "LOAD_ERR_COMPILE_CONDITION"
    assert err.one_line().startswith("b.yaml:4:34: rule 'X': unknown field 'proc.nmae'")
    assert "did you mean 'proc.name'" in err.message


RULE_WITH_EXCEPTIONS = """
- rule: Shadow read
  desc: d
  condition: evt.type = openat and fd.name startswith /etc/
  output: "%proc.name read %fd.name"
  priority: WARNING
  exceptions:
  - name: known_readers
    fields: [proc.name, fd.name]
    comps: [=, startswith]
    values:
    - [sshd, /etc/ssh]
    - [cat, /etc/host]
  - name: trusted
    fields: proc.name
    values: [unix_chkpwd, "my tool"]
"""


def _open(comm: str, path: str):
    return event("openat", thread(10, comm=comm), params={"fd": 3, "dirfd": -100, "name": path, "flags": 0}, res=3,
                 fd=file_fd(3, path))


def test_exceptions_suppress_matching_events() -> None:
    """Tuple and single-field exceptions compile to 'and not (...)' and suppress exactly their events."""
    events = [_open("sshd", "/etc/ssh/sshd_config"), _open("sshd", "/etc/shadow"), _open("cat", "/etc/hosts"),
              _open("unix_chkpwd", "/etc/shadow"), _open("my tool", "/etc/x"), _open("vim", "/etc/passwd")]
    alerts = run_rules(RULE_WITH_EXCEPTIONS, events)
    assert [a.output for a in alerts] == ["sshd read /etc/shadow", "vim read /etc/passwd"]


def test_exception_condition_text_is_falcos() -> None:
    """The appended condition text is the one Falco builds."""
    res = load(RULE_WITH_EXCEPTIONS)
    assert res.ruleset is not None
    assert res.ruleset.rules[0].condition == (
        "(evt.type = openat and fd.name startswith /etc/) and not "
        "(( proc.name = sshd and  fd.name startswith /etc/ssh) or ( proc.name = cat and  fd.name startswith /etc/host))"
        ' and not (proc.name in (unix_chkpwd, "my tool"))')


def test_exception_fields_with_arguments_and_unknown_fields() -> None:
    """Exception fields may carry an argument (proc.aname[2]); an unknown one is Falco's validate error."""
    rule = ("- rule: R\n  desc: d\n  condition: evt.type = openat\n  output: o\n  priority: INFO\n  exceptions:\n"
            "  - name: e\n    fields: [\"{field}\"]\n    values: [[sshd]]\n")
    assert load(rule.format(field="proc.aname[2]")).ruleset is not None
    res = load(rule.format(field="not.exist"))
    assert res.errors[0].message == "'not.exist' is not a supported filter field"
    assert res.errors[0].code.name == "LOAD_ERR_VALIDATE"
