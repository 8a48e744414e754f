"""Rules written for enter events (``evt.dir=>``) keep detecting on sources that emit exit events only."""
from __future__ import annotations

import socket

from syswarden.testing import event, run_rules, thread

SEED_ERA = """
- rule: Packet socket (enter dialect)
  desc: the pre-2023 way to write it
  condition: evt.type=socket and evt.dir=> and evt.arg.domain=AF_PACKET
  output: packet socket by %proc.name dir=%evt.dir res=%evt.res
  priority: WARNING
- rule: Failed socket (exit dialect)
  desc: exit data
  condition: evt.type=socket and evt.dir=< and evt.rawres<0
  output: failed socket by %proc.name
  priority: NOTICE
"""
SH = thread(tid=100, comm="tcpdump")


def _socket(domain: int, *, res: int = 3, dir: str = "<") -> object:
    return event("socket", SH, params={"fd": res, "domain": domain, "type": 3, "proto": 0}, res=res, dir=dir)


def test_enter_dialect_rule_fires_on_the_exit_event_of_an_exit_only_source() -> None:
    """A live-style exit event stands for its enter event: the rule fires once, rendered as the enter view."""
    alerts = run_rules(SEED_ERA, [_socket(socket.AF_PACKET)], exit_only=True, rule_matching="all")
    assert [a.rule for a in alerts] == ["Packet socket (enter dialect)"]
    assert alerts[0].output == "packet socket by tcpdump dir=> res=<NA>"


def test_without_exit_only_the_rule_reads_literally_as_falco_does() -> None:
    """On a recording with enter events the condition is literal: the exit event alone does not match."""
    assert run_rules(SEED_ERA, [_socket(socket.AF_PACKET)], rule_matching="all") == []
    enter = _socket(socket.AF_PACKET, dir=">")
    assert [a.rule for a in run_rules(SEED_ERA, [enter], rule_matching="all")] == ["Packet socket (enter dialect)"]


def test_enter_view_does_not_change_other_rules_or_other_events() -> None:
    """An inet socket does not match; an exit-dialect rule still sees the exit event's result."""
    alerts = run_rules(SEED_ERA, [_socket(socket.AF_INET), _socket(socket.AF_INET, res=-97)], exit_only=True,
                       rule_matching="all")
    assert [a.rule for a in alerts] == ["Failed socket (exit dialect)"]


def test_enter_view_has_no_return_value() -> None:
    """evt.res is not known at enter: a rule asking for the enter direction and a result never fires."""
    rules = SEED_ERA.replace("evt.arg.domain=AF_PACKET", "evt.res=SUCCESS")
    alerts = run_rules(rules, [_socket(socket.AF_PACKET)], exit_only=True, rule_matching="all")
    assert [a.rule for a in alerts] == []
