"""What a run asks its source for (service/selection.py): I/O buffers only for the types something judged reads."""
from __future__ import annotations

import pytest

from syswarden.errors import InputError
from syswarden.rules import load_texts
from syswarden.rules.compiler import compile_condition
from syswarden.rules.filter.parser import parse
from syswarden.rules.ruleset import Ruleset
from syswarden.service.selection import BUFFER_TYPES, buffer_event_types, select_events
from syswarden.sources.base import SourceConfig
from syswarden.spans import SourceText


def _rules(*rules: tuple[str, str]) -> Ruleset:
    text = "".join(f"- rule: r{i}\n  desc: d\n  condition: {cond}\n  output: \"x {out}\"\n  priority: WARNING\n"
                   for i, (cond, out) in enumerate(rules))
    result = load_texts([SourceText("t.yaml", text)])
    assert result.ruleset is not None, result.as_verbose()
    return result.ruleset


def test_buffers_only_where_a_rule_reads_them() -> None:
    """The buffer fields in a condition or an output select the buffer of the rule's own types, no other."""
    assert BUFFER_TYPES == {"read", "write", "pread", "pwrite", "readv", "writev", "preadv", "pwritev", "sendto",
                            "recvfrom", "sendmsg", "recvmsg"}
    assert buffer_event_types(_rules(("evt.type=write and evt.buffer contains x", "%proc.name"))) == {"write"}
    assert buffer_event_types(_rules(("evt.type in (recvfrom, recvmsg)", "%evt.arg.data"))) == {"recvfrom",
                                                                                              "recvmsg"}
    assert buffer_event_types(_rules(("evt.type=read", "%evt.args"), ("evt.type=sendto", "%fd.name"))) == {"read"}
    # the data parameter by position: evt.arg[1] is read's data, readv's size
    assert buffer_event_types(_rules(("evt.type in (read, readv) and evt.arg[1] contains x", "%fd.name"))) == {
        "read"}
    assert buffer_event_types(_rules(("evt.type in (write, openat) and fd.name=/x", "%evt.rawarg.fd"))) == set()
    # a condition on any type reads every buffer
    assert buffer_event_types(_rules(("evt.buffer contains x", "%proc.name"))) == BUFFER_TYPES


def test_filters_recordings_and_snaplen() -> None:
    flt = compile_condition(parse("evt.type in (write, openat) and evt.arg.data contains x"))
    assert buffer_event_types(flt) == {"write"}
    assert buffer_event_types(None) == BUFFER_TYPES          # recording everything keeps every buffer
    rules = _rules(("evt.type=write and evt.buffer contains x", "%proc.name"))
    assert select_events(SourceConfig(), rules).buffer_types == {"write"}
    assert select_events(SourceConfig(snaplen=0), rules).buffer_types == set()
    assert select_events(SourceConfig(path="x.scap"), rules).buffer_types == set()
    with pytest.raises(InputError, match="snaplen 16385 is out of range"):
        select_events(SourceConfig(snaplen=16385), rules)
