"""``audit search``: which events match (ausearch's criteria) and how a matching event prints.

Criteria, all of which must hold (a list criterion holds when any of its values does): rule key (``-k``:
any key of the event equals it), syscall (name for the event's arch, or number), pid, uid (the real uid, as
``ausearch -ui``), auid, session, success, record type, exe, comm, node, and a time window. Times: ``now``,
``recent`` (10 minutes ago), ``this-hour``, ``today``, ``yesterday``, ``this-week``, ``week-ago``, ``this-month``,
``this-year``, ``boot``; a date and time as ``YYYY-MM-DD[ HH:MM[:SS]]``, ausearch's ``MM/DD/YYYY [HH:MM:SS]``, or
``@EPOCH`` seconds (local time zone).
"""
from __future__ import annotations

import datetime
import time
from dataclasses import dataclass

from syswarden.audit import syscall_names
from syswarden.audit.constants import SYSCALL, record_type_name
from syswarden.audit.reassembly import AuditEvent
from syswarden.audit.record_fields import untrusted
from syswarden.audit.records import keys_of
from syswarden.errors import InputError


@dataclass(frozen=True, slots=True)
class Query:
    keys: tuple[str, ...] = ()
    syscalls: tuple[str, ...] = ()
    pids: tuple[int, ...] = ()
    uids: tuple[int, ...] = ()
    auids: tuple[int, ...] = ()
    sessions: tuple[int, ...] = ()
    success: bool | None = None
    types: tuple[str, ...] = ()
    exes: tuple[str, ...] = ()
    comms: tuple[str, ...] = ()
    nodes: tuple[str, ...] = ()
    since_ns: int | None = None
    until_ns: int | None = None


class Facts:
    """What the criteria look at, read from an event's records on first use (the first record that has a field
    gives its value): a search for a key only looks into the records that carry one."""

    __slots__ = ("event", "_keys", "_syscall", "_types", "_values")

    def __init__(self, event: AuditEvent) -> None:
        self.event = event
        self._keys: tuple[str, ...] | None = None
        self._syscall: tuple[str, int | None] | None = None
        self._types: tuple[str, ...] | None = None
        self._values: dict[str, str | None] = {}

    @property
    def keys(self) -> tuple[str, ...]:
        if self._keys is None:
            keys: list[str] = []
            for record in self.event.records:
                if "key=" in record.body:
                    keys.extend(k for k in keys_of(record) if k not in keys)
            self._keys = tuple(keys)
        return self._keys

    @property
    def types(self) -> tuple[str, ...]:
        if self._types is None:
            self._types = tuple(record_type_name(r.type) for r in self.event.records)
        return self._types

    def _syscall_pair(self) -> tuple[str, int | None]:
        if self._syscall is None:
            name, nr = "", None
            syscall = self.event.first(SYSCALL)
            if syscall is not None:
                nr, arch = syscall.number("syscall"), syscall.number("arch", 16)
                if nr is not None and arch is not None:
                    name = syscall_names.record_syscall_name(arch, nr) or ""
            self._syscall = (name, nr)
        return self._syscall

    @property
    def syscall(self) -> str:
        return self._syscall_pair()[0]

    @property
    def syscall_nr(self) -> int | None:
        return self._syscall_pair()[1]

    def get(self, key: str) -> str | None:
        """The value of field ``key`` as written, from the first record that has it."""
        if key not in self._values:
            self._values[key] = next((v for r in self.event.records if (v := r.fields().get(key)) is not None),
                                     None)
        return self._values[key]

    def number(self, key: str) -> int | None:
        value = self.get(key)
        try:
            return int(value) if value is not None else None
        except ValueError:
            return None


def facts(event: AuditEvent) -> Facts:
    return Facts(event)


def _success(f: Facts) -> bool | None:
    value = f.get("success") or f.get("res")
    if value is None:
        return None
    value = value.strip("'\"").lower()
    return value in ("yes", "1") or value.startswith("suc")


def matches(event: AuditEvent, q: Query, f: Facts | None = None) -> bool:
    """Whether ``event`` meets every criterion of ``q``."""
    if q.since_ns is not None and event.ts_ns < q.since_ns:
        return False
    if q.until_ns is not None and event.ts_ns > q.until_ns:
        return False
    if q.nodes and event.node not in q.nodes:
        return False
    f = f or Facts(event)
    if q.keys and not any(k in f.keys for k in q.keys):
        return False
    if q.syscalls and not any(s == f.syscall or (s.isdigit() and int(s) == f.syscall_nr) for s in q.syscalls):
        return False
    if q.pids and f.number("pid") not in q.pids:
        return False
    if q.uids and f.number("uid") not in q.uids:
        return False
    if q.auids and _unset(f.number("auid")) not in q.auids:
        return False
    if q.sessions and _unset(f.number("ses")) not in q.sessions:
        return False
    if q.types and not any(t in f.types for t in q.types):
        return False
    if q.exes and untrusted(f.get("exe") or "") not in q.exes:
        return False
    if q.comms and untrusted(f.get("comm") or "") not in q.comms:
        return False
    return q.success is None or _success(f) == q.success


def _unset(value: int | None) -> int | None:
    return -1 if value == 4294967295 else value


_DAY = datetime.timedelta(days=1)


def parse_time(text: str, now: float | None = None) -> int:
    """A time criterion as ns since the epoch (see the module doc for the forms)."""
    now = time.time() if now is None else now
    local = datetime.datetime.fromtimestamp(now).astimezone()
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    words = {
        "now": local, "recent": local - datetime.timedelta(minutes=10),
        "this-hour": local.replace(minute=0, second=0, microsecond=0), "today": midnight,
        "yesterday": midnight - _DAY, "this-week": midnight - datetime.timedelta(days=(local.weekday() + 1) % 7),
        "week-ago": midnight - 7 * _DAY, "this-month": midnight.replace(day=1),
        "this-year": midnight.replace(month=1, day=1),
    }
    key = text.strip().lower()
    if key in words:
        return int(words[key].timestamp() * 1e9)
    if key == "boot":
        with open("/proc/uptime") as fh:
            return int((now - float(fh.read().split()[0])) * 1e9)
    if key.startswith("@"):
        try:
            return int(float(key[1:]) * 1e9)
        except ValueError:
            pass
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%m/%d/%Y %H:%M:%S",
                "%m/%d/%Y"):
        try:
            when = datetime.datetime.strptime(text.strip(), fmt).astimezone()
            return int(when.timestamp() * 1e9)
        except ValueError:
            continue
    raise InputError(f"cannot read the time {text!r}; expected now, recent, today, yesterday, this-week, "
                     "week-ago, this-month, this-year, boot, YYYY-MM-DD [HH:MM[:SS]], MM/DD/YYYY [HH:MM:SS] or "
                     "@EPOCH")


def raw_text(event: AuditEvent) -> str:
    """ausearch's default form: a separator, the time, the records as auditd writes them."""
    when = time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(event.sec))
    return "\n".join(["----", f"time->{when}", *(r.log_line() for r in event.records)])
