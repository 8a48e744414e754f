"""Reading the fleet's alerts back from the NATS JetStream stream (``alerts tail`` and ``alerts report``).

Every message on the bus is hostile input (any host may publish): a payload that is not a JSON object with
the alert keys is reported (its stream sequence and why) and skipped; strings are escaped before they are
printed. Priority filtering uses the subject's priority token, so it needs no parsing; ``--host`` narrows the
subject (``syswarden.alerts.<host>.*``). ``tail`` reads with an ordered push consumer (ephemeral, flow
controlled, resumes by sequence after a reconnect); ``report`` reads the stream up to its last sequence at
the start and counts by host, rule and priority.
"""
from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from syswarden.errors import InputError, OutputError
from syswarden.escaping import escape_text
from syswarden.outputs.jetstream import subject_token
from syswarden.rules.alert import Priority


@dataclass(frozen=True, slots=True)
class BusAlert:
    """One message of the stream: its sequence, subject tokens and decoded document (None when invalid)."""

    seq: int
    host: str
    priority: Priority | None
    doc: dict[str, Any] | None
    problem: str = ""

    def text(self) -> str:
        """``host: <Falco text line>`` escaped; the document's output, else rule and priority."""
        doc = self.doc or {}
        output = doc.get("output")
        if not isinstance(output, str):
            output = f"{doc.get('time', '')}: {doc.get('priority', '')} {doc.get('rule', '')}"
        return escape_text(f"{doc.get('hostname') or self.host}: {output}")


def decode(seq: int, subject: str, data: bytes, prefix: str) -> BusAlert:
    tail = subject[len(prefix) + 1:].split(".") if subject.startswith(prefix + ".") else []
    host = tail[0] if len(tail) == 2 else ""
    priority = Priority.parse(tail[1]) if len(tail) == 2 else None
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        return BusAlert(seq, host, priority, None, f"not JSON: {exc}")
    if not isinstance(doc, dict) or not isinstance(doc.get("rule"), str) or not isinstance(doc.get("priority"), str):
        return BusAlert(seq, host, priority, None, "not a Falco alert document (rule, priority)")
    return BusAlert(seq, host, priority, doc)


@dataclass(slots=True)
class Query:
    url: str
    stream: str = "SYSWARDEN_ALERTS"
    prefix: str = "syswarden.alerts"
    host: str | None = None
    min_priority: Priority = Priority.DEBUG
    since_start: bool = False          # tail: from the stream's first message instead of new ones
    count: int = 0                     # tail: stop after N alerts (0: no limit)
    follow: bool = True                # tail: wait for new alerts (else stop at the stream's end)
    timeout: float = 5.0

    @property
    def subject(self) -> str:
        host = subject_token(self.host) if self.host else "*"
        return f"{self.prefix}.{host}.*"

    def keeps(self, alert: BusAlert) -> bool:
        return alert.priority is not None and alert.priority <= self.min_priority


async def _connect(query: Query) -> Any:
    import nats

    async def quiet(*_args: object) -> None:
        """nats-py would print reconnect errors with tracebacks; a failed connect is reported once below."""

    try:
        return await asyncio.wait_for(nats.connect(query.url, connect_timeout=query.timeout,
                                                   max_reconnect_attempts=-1, error_cb=quiet), query.timeout)
    except (OSError, asyncio.TimeoutError, Exception) as exc:     # nats-py's own errors have no common base
        raise OutputError(f"cannot reach the bus at {query.url}: {str(exc) or type(exc).__name__}") from exc


async def _last_seq(js: Any, query: Query, *, wait: bool = False) -> tuple[int, int]:
    """The stream's first and last sequence; with ``wait`` (tail's follow mode), wait for the stream to exist."""
    from nats.js.errors import NotFoundError

    while True:
        try:
            info = await js.stream_info(query.stream)
            return info.state.first_seq, info.state.last_seq
        except NotFoundError as exc:
            if not wait:
                raise InputError(f"no stream {query.stream!r} on {query.url} (nothing published yet?)") from exc
        await asyncio.sleep(0.5)


async def _tail(query: Query, emit: Callable[[BusAlert], None]) -> int:
    from nats.js.api import DeliverPolicy

    nc = await _connect(query)
    try:
        js = nc.jetstream(timeout=query.timeout)
        _, last = await _last_seq(js, query, wait=query.follow)
        if not query.follow and (not query.since_start or last == 0):
            return 0
        policy = DeliverPolicy.ALL if query.since_start else DeliverPolicy.NEW
        sub = await js.subscribe(query.subject, stream=query.stream, ordered_consumer=True, deliver_policy=policy)
        shown = 0
        while not query.count or shown < query.count:
            try:
                msg = await sub.next_msg(timeout=1.0)
            except asyncio.TimeoutError:
                if query.follow:
                    continue
                break
            alert = decode(msg.metadata.sequence.stream, msg.subject, msg.data, query.prefix)
            if alert.doc is None or query.keeps(alert):
                emit(alert)
                shown += alert.doc is not None
            if not query.follow and (alert.seq >= last or msg.metadata.num_pending == 0):
                break
        return shown
    finally:
        await nc.close()


def tail(query: Query, emit: Callable[[BusAlert], None]) -> int:
    """Print alerts as they arrive (until ``count``, or interrupted); returns how many were shown."""
    return asyncio.run(_tail(query, emit))


@dataclass(slots=True)
class Report:
    total: int = 0
    invalid: int = 0
    by_host: Counter[str] = field(default_factory=Counter)
    by_rule: Counter[str] = field(default_factory=Counter)
    by_priority: Counter[str] = field(default_factory=Counter)
    by_host_rule: Counter[tuple[str, str]] = field(default_factory=Counter)


async def _report(query: Query) -> Report:
    nc = await _connect(query)
    report = Report()
    try:
        js = nc.jetstream(timeout=query.timeout)
        _, last = await _last_seq(js, query)
        if last == 0:
            return report
        from nats.js.api import DeliverPolicy

        sub = await js.subscribe(query.subject, stream=query.stream, ordered_consumer=True,
                                 deliver_policy=DeliverPolicy.ALL)
        while True:
            try:
                msg = await sub.next_msg(timeout=query.timeout)
            except asyncio.TimeoutError:
                break
            alert = decode(msg.metadata.sequence.stream, msg.subject, msg.data, query.prefix)
            if alert.doc is None:
                report.invalid += 1
            elif query.keeps(alert):
                host = str(alert.doc.get("hostname") or alert.host)
                rule = str(alert.doc["rule"])
                report.total += 1
                report.by_host[host] += 1
                report.by_rule[rule] += 1
                report.by_priority[str(alert.doc["priority"])] += 1
                report.by_host_rule[(host, rule)] += 1
            if alert.seq >= last or msg.metadata.num_pending == 0:
                break
        return report
    finally:
        await nc.close()


def report(query: Query) -> Report:
    """Counts of the stream's alerts (matching ``query``) by host, rule and priority."""
    return asyncio.run(_report(query))
