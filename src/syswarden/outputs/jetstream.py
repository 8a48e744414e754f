"""The fleet bus: alerts published to NATS JetStream, with an on-disk spool for what the bus could not take.

Each alert is Falco's JSON document (default options: a fixed contract for consumers, whatever the local
outputs print) published to ``<prefix>.<host>.<priority>`` (``syswarden.alerts.web-1.warning``) with a
``Nats-Msg-Id`` header that names it for good (``<host>-<instance>-<seq>``, ``instance`` random per start).
JetStream drops a message whose id it stored within the stream's duplicate window, so a resend after a lost
acknowledgement is stored once: at-least-once delivery, exactly-once in the stream.

Order: an alert is published only when the spool is empty; otherwise it goes to the spool's tail, and the
spool is drained head first whenever the bus answers. So alerts of one host enter the stream in the order the
engine raised them. When the bus does not answer (not connected, no stream responder, a timeout), the alert is
spooled and the bus is left alone for a backoff before the next try. The spool survives a restart and is
drained first after it. When it is full, ``emit`` fails and the output's queue holds (and overflows, counted).

nats-py is asyncio: the client lives on its own event loop in its own thread (``syswarden-nats``), so it can
answer the server's pings and reconnect in the background; the queue's worker hands it one publish at a time
and waits for the acknowledgement (``publish_timeout``). Publishing while disconnected fails at once
(``pending_size=0``): nothing sits in the client's reconnect buffer behind the spool's back.
"""
from __future__ import annotations

import asyncio
import re
import secrets
import socket
import threading
import time
from collections.abc import Coroutine
from typing import Any
from urllib.parse import urlsplit

from syswarden.errors import OutputError
from syswarden.outputs.queue import Backoff
from syswarden.outputs.spool import Spool, SpoolRecord
from syswarden.rules.alert import Alert, AlertFormat

BUS_FORMAT = AlertFormat(json_output=True)
_TOKEN_BAD = re.compile(r"[^A-Za-z0-9_-]")


def subject_token(text: str) -> str:
    """A NATS subject token from a host name: letters, digits, ``_`` and ``-`` (others become ``_``)."""
    return _TOKEN_BAD.sub("_", text)[:64] or "unknown"


class JetStreamOutput:
    """Publishes alerts to a JetStream stream; spools to ``spool_dir`` while the bus is away."""

    def __init__(self, url: str, *, spool_dir: str, spool_max_bytes: int = 64 << 20,
                 subject_prefix: str = "syswarden.alerts", stream: str = "SYSWARDEN_ALERTS",
                 create_stream: bool = True, host: str = "", publish_timeout: float = 2.0,
                 connect_timeout: float = 2.0, max_age: float = 0.0, duplicate_window: float = 120.0,
                 backoff: Backoff = Backoff(0.2, 5.0)) -> None:
        self.url = url
        self.subject_prefix = subject_prefix
        self.stream = stream
        self.create_stream = create_stream
        self.host = host
        self.publish_timeout = publish_timeout
        self.connect_timeout = connect_timeout
        self.max_age = max_age
        self.duplicate_window = duplicate_window
        self._backoff = backoff
        self._next_delay = backoff.delays()
        self._retry_at = 0.0
        self._instance = secrets.token_hex(6)
        self._seq = 0
        self.published = 0
        self.resent = 0
        self.last_error = ""
        self.spool = Spool(spool_dir, subject_token(stream), spool_max_bytes)
        self._nc: Any = None
        self._js: Any = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="syswarden-nats", daemon=True)
        self._thread.start()

    # -- the event loop's side -----------------------------------------------------------------------------

    def _call(self, coro: Coroutine[Any, Any, Any], timeout: float) -> Any:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout + 1.0)
        except TimeoutError:
            future.cancel()
            raise

    async def _connect(self) -> None:
        import nats
        from nats.js.errors import NotFoundError

        async def quiet(*_args: object) -> None:
            """nats-py reports reconnects here; the output's failures already say the bus is away."""

        # The first connection is bounded here (nats-py would retry it forever with unlimited reconnects);
        # once connected, the client reconnects by itself in the background.
        nc = await asyncio.wait_for(nats.connect(
            self.url, connect_timeout=self.connect_timeout, allow_reconnect=True, max_reconnect_attempts=-1,
            reconnect_time_wait=0.5, pending_size=0, name=f"syswarden {self.host}".strip(), error_cb=quiet,
            disconnected_cb=quiet, reconnected_cb=quiet, closed_cb=quiet), self.connect_timeout)
        js = nc.jetstream(timeout=self.publish_timeout)
        try:
            await js.stream_info(self.stream)
        except NotFoundError:
            if not self.create_stream:
                await nc.close()
                raise OutputError(
                    f"nats {self.url}: no stream {self.stream!r} and create_stream is false") from None
            await js.add_stream(name=self.stream, subjects=[f"{self.subject_prefix}.>"], storage="file",
                                duplicate_window=self.duplicate_window, max_age=self.max_age or None)
        self._nc, self._js = nc, js

    async def _publish(self, record: SpoolRecord) -> None:
        await self._js.publish(record.subject, record.payload, timeout=self.publish_timeout,
                               headers={"Nats-Msg-Id": record.id})

    async def _close(self) -> None:
        if self._nc is not None:
            await self._nc.close()

    # -- the worker's side ---------------------------------------------------------------------------------

    def record(self, alert: Alert) -> SpoolRecord:
        self._seq += 1
        host = subject_token(self.host or alert.hostname)
        return SpoolRecord(f"{host}-{self._instance}-{self._seq}",
                           f"{self.subject_prefix}.{host}.{alert.priority.name.lower()}",
                           alert.to_json(BUS_FORMAT).encode("ascii"))

    def _send(self, record: SpoolRecord) -> bool:
        """Publish and wait for the acknowledgement; False (and a backoff) when the bus did not take it."""
        if time.monotonic() < self._retry_at:
            return False
        try:
            if self._nc is None:
                self._reachable()
                self._call(self._connect(), self.connect_timeout + self.publish_timeout)
            if not self._nc.is_connected:
                raise OutputError("not connected")
            self._call(self._publish(record), self.publish_timeout)
        except Exception as exc:  # noqa: BLE001 - nats-py raises its own tree, asyncio timeouts, OSError: all "not now"
            self._retry_at = time.monotonic() + self._next_delay()
            self.last_error = f"nats {self.url}: {str(exc) or type(exc).__name__}"
            return False
        self._next_delay = self._backoff.delays()
        return True

    def _reachable(self) -> None:
        """Fail at once when nothing listens (nats-py would retry a refused first connection until its timeout)."""
        parts = urlsplit(self.url)
        try:
            socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 4222),
                                     timeout=self.connect_timeout).close()
        except OSError as exc:
            raise OutputError(f"cannot connect: {exc.strerror or exc}") from exc

    def emit(self, alert: Alert) -> None:
        record = self.record(alert)
        if self.spool.pending:
            self.drain(time.monotonic() + 1.0)
        if not self.spool.pending and self._send(record):
            self.published += 1
            return
        if not self.spool.append(record):
            self._seq -= 1          # the queue retries this alert: it keeps its place and its id's number
            raise OutputError(f"nats {self.url}: spool full ({self.spool.max_bytes} bytes waiting)")

    def drain(self, deadline: float) -> None:
        """Publish spooled records head first until the spool is empty, the bus fails, or ``deadline``."""
        while self.spool.pending and time.monotonic() < deadline:
            batch = self.spool.head(32)
            if not batch:
                break
            for done, (record, _offset) in enumerate(batch, 1):
                if record is not None and not self._send(record):
                    if done > 1:
                        self.spool.advance(batch[done - 2][1], done - 1)
                    return
                if record is not None:
                    self.resent += 1
                    self.published += 1
            self.spool.advance(batch[-1][1], len(batch))

    def poll(self, deadline: float | None = None) -> None:
        """Called when idle (and once at shutdown with the drain deadline): drain the spool if the bus is back."""
        if self.spool.pending:
            self.drain(deadline if deadline is not None else time.monotonic() + 1.0)

    def counters(self) -> dict[str, int]:
        return {"spooled": self.spool.pending, "resent": self.resent, "published": self.published}

    def reopen(self) -> None:
        """Nothing to reopen: the client reconnects by itself."""

    def close(self) -> None:
        try:
            self._call(self._close(), 2.0)
        except Exception:  # noqa: BLE001 - closing a dead connection: nothing left to save
            pass
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(2.0)
            self.spool.close()
