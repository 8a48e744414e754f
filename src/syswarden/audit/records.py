"""One audit record: its type, event id (timestamp and serial), node and fields, from any of its three forms.

* audit.log (auditd): ``[node=NAME ]type=SYSCALL msg=audit(1611091464.740:263): FIELDS[\\x1dENRICHED]``
  (``type=UNKNOWN[1335]`` for a type auditd has no name for; ENRICHED appends interpreted fields after 0x1d);
* netlink (the kernel to a daemon or the multicast group): ``audit(1611091464.740:263): FIELDS``, the type in
  the netlink header;
* kmsg (no daemon registered): ``audit: type=1326 audit(1611091464.740:263): FIELDS``.

Parsing the header is eager and cheap; fields are split on first use. A line that is not a record raises
``MalformedRecord`` with the reason (readers count those and go on).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from syswarden.audit.constants import record_type_name, record_types
from syswarden.audit.record_fields import ABSENT, ENRICHED_SEPARATOR, fields, hex_bytes, unquote, untrusted

MAX_RECORD = 1 << 16          # auditd's lines are at most ~9 KiB; longer input is not a record
_LOG = re.compile(r"(?:node=(\S+) )?type=(\S+) msg=audit\((\d+)\.(\d+):(\d+)\):? ?")
_KMSG = re.compile(r"audit: type=(\d+) audit\((\d+)\.(\d+):(\d+)\):? ?")
_NETLINK = re.compile(r"audit\((\d+)\.(\d+):(\d+)\):? ?")
_UNKNOWN = re.compile(r"UNKNOWN\[(\d+)\]")
_TYPE_NUMBERS = record_types()


class MalformedRecord(ValueError):
    """Input that is not an audit record; the message says why."""


@dataclass(slots=True)
class Record:
    """A record; ``body`` is its text after the header, ``enriched`` what auditd's ENRICHED format added."""

    type: int
    sec: int
    msec: int
    serial: int
    body: str
    node: str = ""
    enriched: str = ""
    _fields: dict[str, str] | None = field(default=None, repr=False, compare=False)

    @property
    def type_name(self) -> str:
        return record_type_name(self.type)

    @property
    def ts_ns(self) -> int:
        return self.sec * 1_000_000_000 + self.msec * 1_000_000

    @property
    def event_id(self) -> tuple[str, int, int, int]:
        """What makes records one event: node, timestamp and serial."""
        return self.node, self.sec, self.msec, self.serial

    def fields(self) -> dict[str, str]:
        """Every field as written (quotes and hex kept), first occurrence of each key."""
        if self._fields is None:
            self._fields = fields(self.body)
        return self._fields

    def get(self, key: str) -> str | None:
        """The value of ``key`` as written, or None (also for the kernel's "no value" spellings)."""
        value = self.fields().get(key)
        return None if value is None or value in ABSENT else value

    def text(self, key: str) -> str | None:
        """A string field decoded (quotes removed, hex decoded)."""
        value = self.get(key)
        return None if value is None else untrusted(value)

    def number(self, key: str, base: int = 10) -> int | None:
        """An integer field (``base`` 16 for arch, a0..a3), or None when absent or not a number."""
        value = self.get(key)
        if value is None:
            return None
        try:
            return int(value, base)
        except ValueError:
            return None

    def log_line(self) -> str:
        """The record as auditd writes it (without the ENRICHED part)."""
        node = f"node={self.node} " if self.node else ""
        name = self.type_name
        return f"{node}type={name} msg=audit({self.sec}.{self.msec:03d}:{self.serial}): {self.body}"


def _type_number(text: str) -> int:
    number = record_types().get(text)
    if number is not None:
        return number
    unknown = _UNKNOWN.fullmatch(text)
    if unknown:
        return int(unknown.group(1))
    if text.isdigit():
        return int(text)
    raise MalformedRecord(f"unknown record type {text[:40]!r}")


def _split_enriched(body: str) -> tuple[str, str]:
    at = body.find(ENRICHED_SEPARATOR)
    return (body, "") if at < 0 else (body[:at], body[at + 1:])


def parse_line(line: str) -> Record:
    """A record from an audit.log line or a kmsg line (``audit: type=N audit(...)``)."""
    if len(line) > MAX_RECORD:
        raise MalformedRecord(f"line of {len(line)} characters is longer than any audit record")
    match = _LOG.match(line)
    if match is not None:
        node, kind, sec, msec, serial = match.groups()
        body = line[match.end():]
        if body[-1:] in ("\n", "\r"):
            body = body.rstrip("\r\n")
        enriched = ""
        if ENRICHED_SEPARATOR in body:
            body, _, enriched = body.partition(ENRICHED_SEPARATOR)
        number = _TYPE_NUMBERS.get(kind)
        return Record(_type_number(kind) if number is None else number, int(sec), int(msec), int(serial), body,
                      node or "", enriched)
    line = line.rstrip("\r\n")
    at = line.find("audit: type=")
    if at >= 0:
        kmsg = _KMSG.match(line, at)
        if kmsg is not None:
            kind, sec, msec, serial = kmsg.groups()
            body, enriched = _split_enriched(line[kmsg.end():])
            return Record(int(kind), int(sec), int(msec), int(serial), body, "", enriched)
    raise MalformedRecord("expected 'type=NAME msg=audit(SECONDS.MILLIS:SERIAL): fields'")


def parse_netlink(msg_type: int, payload: str) -> Record:
    """A record as the kernel sends it over netlink (its type from the netlink header)."""
    match = _NETLINK.match(payload)
    if match is None:
        raise MalformedRecord("expected 'audit(SECONDS.MILLIS:SERIAL): fields'")
    sec, msec, serial = match.groups()
    body, enriched = _split_enriched(payload[match.end():].rstrip("\0\n"))
    return Record(msg_type, int(sec), int(msec), int(serial), body, "", enriched)



def keys_of(record: Record) -> tuple[str, ...]:
    """A record's rule keys: ``key="a"``, or hex ``key=6101…`` when several are joined by 0x01."""
    value = record.get("key")
    if value is None:
        return ()
    raw = hex_bytes(value)
    text = raw.decode("utf-8", "surrogateescape") if raw is not None else unquote(value)
    return tuple(k for k in text.split("\x01") if k)
