"""The Alert model: one rule match, rendered as Falco's text line or Falco's JSON document.

The rules engine builds an ``Alert`` per match; every output (stdout, file, ...) receives the same object and
renders it with ``text_line()`` or ``to_json()``. Both renderings follow Falco (libs ``eventformatter.cpp``,
falco ``formats.cpp``) so Falcosidekick and other consumers read syswarden alerts unchanged:

* text: ``HH:MM:SS.nnnnnnnnn: Priority output`` with the event's local time;
* JSON: keys sorted ``hostname, output, output_fields, priority, rule, source, tags, time``; ``time`` is UTC
  ISO-8601 with nanoseconds and ``Z``; ``output_fields`` keeps numbers as numbers and missing values as null.
"""
from __future__ import annotations

import enum
import json
import time as _time
from dataclasses import dataclass, field
from typing import Any

from syswarden.escaping import escape_text


class Priority(enum.IntEnum):
    """Falco's rule priorities; a lower value is more severe (``-p`` keeps rules at or above a level)."""

    EMERGENCY = 0
    ALERT = 1
    CRITICAL = 2
    ERROR = 3
    WARNING = 4
    NOTICE = 5
    INFORMATIONAL = 6
    DEBUG = 7

    @property
    def label(self) -> str:
        """The spelling Falco prints: ``Warning``, ``Informational`` ..."""
        return self.name.capitalize()

    @classmethod
    def parse(cls, text: str) -> Priority | None:
        """Case-insensitive, accepting ``info`` as Falco does; None when the name is unknown."""
        key = text.strip().upper()
        if key == "INFO":
            return cls.INFORMATIONAL
        return cls.__members__.get(key)


@dataclass(frozen=True, slots=True)
class Alert:
    """One match of one rule on one event, with the values its output string referenced."""

    rule: str
    priority: Priority
    output: str                                  # the rule's output with every %field substituted
    time_ns: int                                 # the event's timestamp, ns since the epoch
    source: str = "syscall"
    tags: tuple[str, ...] = ()
    hostname: str = ""
    output_fields: dict[str, Any] = field(default_factory=dict)   # field name -> typed JSON value

    def text_line(self) -> str:
        """Falco's text line, control characters escaped."""
        return escape_text(f"{format_local_time(self.time_ns)}: {self.priority.label} {self.output}")

    def to_dict(self) -> dict[str, Any]:
        """Falco's JSON document as a dict (``evt.time`` joins the output fields as an int, like Falco)."""
        fields = {"evt.time": self.time_ns, **self.output_fields}
        return {
            "hostname": self.hostname,
            "output": f"{format_local_time(self.time_ns)}: {self.priority.label} {self.output}",
            "output_fields": fields,
            "priority": self.priority.label,
            "rule": self.rule,
            "source": self.source,
            "tags": sorted(self.tags),
            "time": format_iso_utc(self.time_ns),
        }

    def to_json(self) -> str:
        """One line of JSON; the encoder escapes control characters, keys sorted as nlohmann::json does."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def format_local_time(ts_ns: int) -> str:
    """``HH:MM:SS.nnnnnnnnn`` in local time (Falco's ``%evt.time``)."""
    secs, nanos = divmod(ts_ns, 1_000_000_000)
    return _time.strftime("%H:%M:%S", _time.localtime(secs)) + f".{nanos:09d}"


def format_iso_utc(ts_ns: int) -> str:
    """``YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`` in UTC (Falco's JSON ``time``)."""
    secs, nanos = divmod(ts_ns, 1_000_000_000)
    return _time.strftime("%Y-%m-%dT%H:%M:%S", _time.gmtime(secs)) + f".{nanos:09d}Z"
