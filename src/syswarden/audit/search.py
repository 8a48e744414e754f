"""``audit search``: which events match (ausearch's criteria) and how a matching event prints.

Criteria, all of which must hold (a list criterion holds when any of its values does): rule key (``-k``:
any key of the event equals it), syscall (name for the event's arch, or number), pid, uid (the real uid, as
``ausearch -ui``), auid, session, success, record type, exe, comm, node, and a time window. Times: ``now``, ``recent`` (10 minutes ago), ``this-hour``,
``today``, ``yesterday``, ``this-week``, ``week-ago``, ``this-month``, ``this-year``, ``boot``; a date and time as
``YYYY-MM-DD[ HH:MM[:SS]]``, ausearch's ``MM/DD/YYYY [HH:MM:SS]``, or ``@EPOCH`` seconds (local time zone).
"""
from __future__ import annotations

import datetime
import time
from dataclasses import dataclass, field

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


@dataclass(slots=True)
class Facts:
    """What the criteria look at, read once from an event's records (the first record that has each field)."""

    keys: tuple[str, ...] = ()
    syscall: str = ""
    syscall_nr: int | None = None
    fields: dict[str, str] = field(default_factory=dict)
    types: tuple[str, ...] = ()

    def number(self, key: str) -> int | None:
        value = self.fields.get(key)
        try:
            return int(value) if value is not None else None
        except ValueError:
            return None


def facts(event: AuditEvent) -> Facts:
    out = Facts(types=tuple(record_type_name(r.type) for r in event.records))
    keys: list[str] = []
    for record in event.records:
        for key in keys_of(record):
            if key not in keys:
                keys.append(key)
        for name, value in record.fields().items():
            out.fields.setdefault(name, value)
    out.keys = tuple(keys)
    syscall = event.first(SYSCALL)
    if syscall is not None:
        nr, arch = syscall.number("syscall"), syscall.number("arch", 16)
        out.syscall_nr = nr
        if nr is not None and arch is not None:
            out.syscall = syscall_names.record_syscall_name(arch, nr) or ""
    return out


def _success(f: Facts) -> bool | None:
    value = f.fields.get("success") or f.fields.get("res")
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
    f = f or facts(event)
    checks = (
        (q.keys, lambda: any(k in f.keys for k in q.keys)),
        (q.syscalls, lambda: any(s == f.syscall or (s.isdigit() and int(s) == f.syscall_nr) for s in q.syscalls)),
        (q.pids, lambda: f.number("pid") in q.pids),
        (q.uids, lambda: f.number("uid") in q.uids),
        (q.auids, lambda: _unset(f.number("auid")) in q.auids),
        (q.sessions, lambda: _unset(f.number("ses")) in q.sessions),
        (q.types, lambda: any(t in f.types for t in q.types)),
        (q.exes, lambda: untrusted(f.fields.get("exe", "")) in q.exes),
        (q.comms, lambda: untrusted(f.fields.get("comm", "")) in q.comms),
    )
    if not all(check() for values, check in checks if values):
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
