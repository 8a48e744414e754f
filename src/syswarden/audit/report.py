"""``audit report``: aureport's summary tables over a stream of events.

Counted per event, as aureport counts (``aureport -k/-s/-x/-u --summary``): by rule key (an event with two keys
counts for both), by syscall, by executable, by login user (auid), by result of syscall events (yes/no), and
events per hour. Plus the totals aureport's default summary opens with: time range, events, failed syscalls.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from syswarden.audit.reassembly import AuditEvent
from syswarden.audit.record_fields import untrusted
from syswarden.audit.search import Facts, facts


@dataclass(slots=True)
class Report:
    events: int = 0
    first_ns: int | None = None
    last_ns: int | None = None
    keys: Counter[str] = field(default_factory=Counter)
    syscalls: Counter[str] = field(default_factory=Counter)
    executables: Counter[str] = field(default_factory=Counter)
    users: Counter[str] = field(default_factory=Counter)
    success: Counter[str] = field(default_factory=Counter)
    types: Counter[str] = field(default_factory=Counter)
    hours: Counter[int] = field(default_factory=Counter)        # hour start (s since the epoch) -> events

    def add(self, event: AuditEvent, f: Facts | None = None) -> None:
        f = f or facts(event)
        self.events += 1
        ts = event.ts_ns
        self.first_ns = ts if self.first_ns is None else min(self.first_ns, ts)
        self.last_ns = ts if self.last_ns is None else max(self.last_ns, ts)
        self.hours[event.sec - event.sec % 3600] += 1
        self.types[f.types[0] if f.types else "?"] += 1
        for key in f.keys:
            self.keys[key] += 1
        if f.syscall or f.syscall_nr is not None:
            self.syscalls[f.syscall or str(f.syscall_nr)] += 1
            success = f.get("success")
            if success in ("yes", "no"):
                self.success[success] += 1
        exe = f.get("exe")
        if exe is not None and exe not in ("?", "(null)"):
            self.executables[untrusted(exe)] += 1
        auid = f.get("auid")
        if auid is not None:
            self.users["unset" if auid in ("4294967295", "-1") else auid] += 1
