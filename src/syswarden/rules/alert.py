"""The Alert model: one rule match, rendered as Falco's text line or Falco's JSON document.

The rules engine builds an ``Alert`` per match; every output (stdout, file, ...) receives the same object and
renders it with ``text_line()`` or ``to_json()``. Both renderings follow Falco (libs ``eventformatter.cpp``,
falco ``formats.cpp``) so Falcosidekick and other consumers read syswarden alerts unchanged:

* text: ``HH:MM:SS.nnnnnnnnn: Priority output`` with the event's local time;
* JSON: keys sorted ``hostname, output, output_fields, priority, rule, source, tags, time``; ``time`` is UTC
  ISO-8601 with nanoseconds and ``Z``; ``output_fields`` keeps numbers as numbers and missing values as null.

``AlertFormat`` carries falco.yaml's rendering options (``json_output``, ``json_include_*_property``,
``time_format_iso_8601``); the default is Falco's default, so ``text_line()``/``to_json()`` without one render
as Falco does out of the box.
"""
from __future__ import annotations

import enum
import time as _time
from dataclasses import dataclass, field
from typing import Any

from syswarden.escaping import escape_text, json_line


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
class AlertFormat:
    """How an output renders alerts: falco.yaml's ``json_output``, ``json_include_*_property`` and
    ``time_format_iso_8601``, with Falco's defaults."""

    json_output: bool = False
    include_output: bool = True          # json_include_output_property
    include_tags: bool = True            # json_include_tags_property
    include_message: bool = False        # json_include_message_property (Falco 0.38+)
    include_output_fields: bool = True   # json_include_output_fields_property (Falco 0.38+)
    time_iso_8601: bool = False          # time_format_iso_8601: the prefix is %evt.time.iso8601, not %evt.time


DEFAULT_FORMAT = AlertFormat()
JSON_FORMAT = AlertFormat(json_output=True)


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

    def prefix(self, fmt: AlertFormat = DEFAULT_FORMAT) -> str:
        """Falco's ``%evt.time: Priority`` (``%evt.time.iso8601`` with ``time_format_iso_8601``)."""
        stamp = format_iso_offset(self.time_ns) if fmt.time_iso_8601 else format_local_time(self.time_ns)
        return f"{stamp}: {self.priority.label}"

    def text_line(self, fmt: AlertFormat = DEFAULT_FORMAT) -> str:
        """Falco's text line, control characters escaped."""
        return escape_text(f"{self.prefix(fmt)} {self.output}")

    def to_dict(self, fmt: AlertFormat = JSON_FORMAT) -> dict[str, Any]:
        """Falco's JSON document as a dict; the ``json_include_*`` options drop or add keys as Falco does.

        ``output_fields`` holds the output's fields, then the prefix's time field as an integer (``evt.time``,
        or ``evt.time.iso8601`` with ISO time: Falco keys it by the prefix's field name), which wins over a
        same-named output field as in Falco's formats.cpp.
        """
        doc: dict[str, Any] = {"hostname": self.hostname, "priority": self.priority.label, "rule": self.rule,
                               "source": self.source, "time": format_iso_utc(self.time_ns)}
        if fmt.include_output:
            doc["output"] = f"{self.prefix(fmt)} {self.output}"
        if fmt.include_tags:
            doc["tags"] = sorted(self.tags)
        if fmt.include_message:
            doc["message"] = self.output
        if fmt.include_output_fields:
            time_key = "evt.time.iso8601" if fmt.time_iso_8601 else "evt.time"
            doc["output_fields"] = {**self.output_fields, time_key: self.time_ns}
        return doc

    def to_json(self, fmt: AlertFormat = JSON_FORMAT) -> str:
        """One line of ASCII-only JSON, keys sorted as nlohmann::json does; undecodable bytes in attacker-chosen
        strings become U+FFFD as in Falco (``escaping.json_line``), so any strict parser reads every alert."""
        return json_line(self.to_dict(fmt))

    def render(self, fmt: AlertFormat = DEFAULT_FORMAT) -> str:
        """The line an output writes: JSON when ``fmt.json_output``, else the text line."""
        return self.to_json(fmt) if fmt.json_output else self.text_line(fmt)


def format_local_time(ts_ns: int) -> str:
    """``HH:MM:SS.nnnnnnnnn`` in local time (Falco's ``%evt.time``)."""
    secs, nanos = divmod(ts_ns, 1_000_000_000)
    return _time.strftime("%H:%M:%S", _time.localtime(secs)) + f".{nanos:09d}"


def format_iso_utc(ts_ns: int) -> str:
    """``YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`` in UTC (Falco's JSON ``time``)."""
    secs, nanos = divmod(ts_ns, 1_000_000_000)
    return _time.strftime("%Y-%m-%dT%H:%M:%S", _time.gmtime(secs)) + f".{nanos:09d}Z"


def format_iso_offset(ts_ns: int) -> str:
    """``YYYY-MM-DDTHH:MM:SS.nnnnnnnnn+0000`` in UTC (libsinsp's ``%evt.time.iso8601``, Falco's ISO text prefix)."""
    secs, nanos = divmod(ts_ns, 1_000_000_000)
    return _time.strftime("%Y-%m-%dT%H:%M:%S", _time.gmtime(secs)) + f".{nanos:09d}+0000"
