"""Alert rendering under falco.yaml's options: json_include_*, time_format_iso_8601, append_output."""
from __future__ import annotations

import json

from syswarden.events.event import Event
from syswarden.rules.alert import Alert, AlertFormat, Priority
from syswarden.rules.output_format import AppendOutput, OutputFormat

TS = 1470327477881781397          # 2016-08-04T16:17:57.881781397Z


def make() -> Alert:
    return Alert(rule="open_from_cat", priority=Priority.WARNING, output="An open was seen (command=cat /dev/null)",
                 time_ns=TS, tags=("testing", "filesystem"), hostname="h",
                 output_fields={"proc.cmdline": "cat /dev/null"})


def test_json_defaults_match_falco() -> None:
    """Falco's default document: output and tags in, message out, keys sorted."""
    doc = json.loads(make().to_json())
    assert list(doc) == ["hostname", "output", "output_fields", "priority", "rule", "source", "tags", "time"]
    assert doc["output_fields"] == {"evt.time": TS, "proc.cmdline": "cat /dev/null"}
    assert doc["tags"] == ["filesystem", "testing"]


def test_json_include_options() -> None:
    """Each json_include_* option removes or adds exactly its key."""
    alert = make()
    no_output = json.loads(alert.to_json(AlertFormat(json_output=True, include_output=False)))
    assert "output" not in no_output and "tags" in no_output
    no_tags = json.loads(alert.to_json(AlertFormat(json_output=True, include_tags=False)))
    assert "tags" not in no_tags and "output" in no_tags
    message = json.loads(alert.to_json(AlertFormat(json_output=True, include_message=True)))
    assert message["message"] == "An open was seen (command=cat /dev/null)"
    assert list(message) == sorted(message)
    no_fields = json.loads(alert.to_json(AlertFormat(json_output=True, include_output_fields=False)))
    assert "output_fields" not in no_fields


def test_iso_8601_time_in_text_and_json() -> None:
    """time_format_iso_8601: the prefix is evt.time.iso8601 (UTC, +0000), keyed so in output_fields."""
    fmt = AlertFormat(json_output=True, time_iso_8601=True)
    assert make().text_line(fmt) == "2016-08-04T16:17:57.881781397+0000: Warning An open was seen " \
                                    "(command=cat /dev/null)"
    doc = json.loads(make().render(fmt))
    assert doc["output"].startswith("2016-08-04T16:17:57.881781397+0000: Warning ")
    assert doc["output_fields"] == {"evt.time.iso8601": TS, "proc.cmdline": "cat /dev/null"}
    assert doc["time"] == "2016-08-04T16:17:57.881781397Z"


def test_render_picks_text_or_json() -> None:
    assert make().render(AlertFormat()).endswith(": Warning An open was seen (command=cat /dev/null)")
    assert json.loads(make().render(AlertFormat(json_output=True)))["rule"] == "open_from_cat"


EVENT = Event(num=1, ts=TS, type="openat", tid=42, params={"fd": 3, "name": "/etc/shadow"}, dir="<", cpu=3)


def test_append_output_extends_text_and_fields() -> None:
    """extra_output joins the text after a space; extra_fields only reach output_fields (raw keeps its type)."""
    entries = [AppendOutput(extra_output="on CPU %evt.cpu"),
               AppendOutput(extra_fields=(("where", "cpu %evt.cpu"), ("evt.cpu", None)))]
    fmt = OutputFormat.extended("type=%evt.type", entries)
    text, fields = fmt.render(EVENT)
    assert text == "type=openat on CPU 3"
    assert fields == {"evt.type": "openat", "evt.cpu": 3, "where": "cpu 3"}


def test_append_output_matching() -> None:
    """match: source equal, tags all present, rule name equal; an empty match takes every rule."""
    assert AppendOutput().matches("r", "syscall", ())
    entry = AppendOutput(source="syscall", tags=frozenset({"a", "b"}), rule="r")
    assert entry.matches("r", "syscall", ("a", "b", "c"))
    assert not entry.matches("r", "syscall", ("a",))
    assert not entry.matches("r", "k8s_audit", ("a", "b"))
    assert not entry.matches("other", "syscall", ("a", "b"))
