"""Public test helpers: build events and threads in one line, capture alerts, run rules on a few events.

Users and our own tests drive the engine without a kernel::

    out = CapturingOutput()
    sh = thread(100, comm="bash", exepath="/bin/bash", args=["-c", "cat /etc/shadow"])
    ev = event("openat", sh, params={"fd": 3, "name": "/etc/shadow", "flags": 1}, res=3,
               fd=file_fd(3, "/etc/shadow", flags=1))
"""
from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from syswarden.events.event import Event, FdInfo, FdType, ThreadInfo
from syswarden.rules.alert import Alert
from syswarden.sources.base import SourceStats

_NUM = itertools.count(1)
BASE_TS = 1_700_000_000_000_000_000


@dataclass
class CapturingOutput:
    """An Output that keeps every alert in ``alerts`` (and counts reopen/close calls)."""

    alerts: list[Alert] = field(default_factory=list)
    reopened: int = 0
    closed: int = 0

    def emit(self, alert: Alert) -> None:
        self.alerts.append(alert)

    def reopen(self) -> None:
        self.reopened += 1

    def close(self) -> None:
        self.closed += 1

    def rules(self) -> list[str]:
        """The rule names of the captured alerts, in order."""
        return [a.rule for a in self.alerts]


class ListSource:
    """A Source over a list of events (and optional initial threads), for driving the pipeline in tests."""

    def __init__(self, events: Iterable[Event], threads: Iterable[ThreadInfo] = ()) -> None:
        self._events = list(events)
        self._threads = list(threads)
        self.stats = SourceStats()
        self.closed = False

    def initial_threads(self) -> Iterator[ThreadInfo]:
        return iter(self._threads)

    def events(self) -> Iterator[Event]:
        for ev in self._events:
            self.stats.events += 1
            yield ev

    def close(self) -> None:
        self.closed = True


def alert_matches(alert: Alert, *, rule: str | None = None, output_contains: str | None = None,
                  **fields: Any) -> bool:
    """True when ``alert`` is of ``rule``, its output contains the text and each ``field=value`` holds
    (field names with dots written as ``proc__name`` -> ``proc.name``)."""
    if rule is not None and alert.rule != rule:
        return False
    if output_contains is not None and output_contains not in alert.output:
        return False
    return all(alert.output_fields.get(key.replace("__", ".")) == value for key, value in fields.items())


def thread(tid: int = 100, *, pid: int | None = None, comm: str = "bash", parent: ThreadInfo | None = None,
           **kw: Any) -> ThreadInfo:
    """A ThreadInfo with Falco-like defaults (root user, host, exe/exepath from ``comm``)."""
    kw.setdefault("exe", comm)
    kw.setdefault("exepath", f"/usr/bin/{comm}")
    kw.setdefault("uid", 0)
    kw.setdefault("gid", 0)
    kw.setdefault("loginuid", -1)
    kw.setdefault("cwd", "/")
    info = ThreadInfo(tid=tid, pid=tid if pid is None else pid, comm=comm, parent=parent, **kw)
    if parent is not None:
        info.ptid = parent.pid
    return info


def file_fd(num: int, name: str, *, flags: int = 0, type: FdType = FdType.FILE, **kw: Any) -> FdInfo:
    """An FdInfo for a file (or another ``type``)."""
    return FdInfo(num=num, type=type, name=name, flags=flags, **kw)


def event(etype: str, thr: ThreadInfo, *, params: dict[str, Any] | None = None, res: int | None = 0,
          fd: FdInfo | None = None, ts: int | None = None, dir: str = "<", num: int | None = None,
          state_only: bool = False) -> Event:
    """An exit event of ``etype`` by ``thr`` with state already attached (no state engine needed)."""
    n = next(_NUM) if num is None else num
    return Event(num=n, ts=BASE_TS + n if ts is None else ts, type=etype, tid=thr.tid, params=dict(params or {}),
                 dir=dir, res=res, pid=thr.pid, state_only=state_only, thread=thr, fd=fd)


def run_rules(rules_text: str, events: Iterable[Event], *, name: str = "rules.yaml", **engine_kw: Any
              ) -> list[Alert]:
    """Load rules from text and return the alerts they raise on ``events``; load errors raise."""
    from syswarden.errors import RuleLoadError
    from syswarden.rules import Engine, load_texts
    from syswarden.spans import SourceText

    result = load_texts([SourceText(name, rules_text)])
    if result.ruleset is None:
        raise RuleLoadError("; ".join(e.one_line() for e in result.errors))
    engine = Engine(result.ruleset, hostname=engine_kw.pop("hostname", "test"), **engine_kw)
    return [a for ev in events for a in engine.process(ev)]
