"""HTTP alerts: a POST of Falco's JSON document per alert, as Falco's ``http_output`` sends to Falcosidekick.

The body is always Falco's JSON (the ``json_include_*`` options apply) with ``Content-Type: application/json``:
Falcosidekick decodes nothing else. (Falco posts its text line as ``text/plain`` when ``json_output`` is false,
which Falcosidekick refuses; syswarden posts JSON either way: docs/outputs.md.)

Answers: 2xx is delivered; 408, 425, 429 and 5xx, a refused connection or a timeout are worth retrying (the
queue's worker backs off and posts the same alert again, so order is kept; a retried POST may arrive twice if
the first answer was lost: at-least-once); any other status (400, 401, 404, 413 ...) refuses that alert for
good (``AlertRejectedError``, counted, never retried). Redirects are not followed.

``/healthz``-aware: after a failure the sink asks ``GET <health_path>`` on the same server (Falcosidekick serves
``/healthz``) before posting again, so a server that is starting or unhealthy gets a cheap GET per retry
rather than the alert. A server without that path (404/405) is posted to directly from then on.

TLS: ``insecure`` turns verification off; ``ca_cert``/``ca_bundle`` (files) and ``ca_path`` (a directory)
name what to trust, else the system's store; ``mtls`` sends ``client_cert``/``client_key``.
"""
from __future__ import annotations

import gzip
import http.client
import os
import ssl
from collections.abc import Callable, Mapping
from dataclasses import replace
from urllib.parse import urlsplit

from syswarden import __version__
from syswarden.errors import InputError, OutputError
from syswarden.escaping import escape_text
from syswarden.outputs.queue import AlertRejectedError
from syswarden.rules.alert import Alert, AlertFormat

RETRY_STATUS = frozenset({408, 425, 429}) | frozenset(range(500, 600))
DEFAULT_USER_AGENT = f"syswarden/{__version__}"


def tls_context(*, insecure: bool = False, ca_cert: str = "", ca_bundle: str = "", ca_path: str = "",
                client_cert: str = "", client_key: str = "") -> ssl.SSLContext:
    """The client TLS context the options describe; a missing file is an ``InputError`` up front."""
    try:
        ctx = ssl.create_default_context(cafile=(ca_cert or ca_bundle) or None,
                                         capath=ca_path if ca_path and os.path.isdir(ca_path) else None)
        if ca_cert and ca_bundle:
            ctx.load_verify_locations(cafile=ca_bundle)
        if client_cert:
            ctx.load_cert_chain(client_cert, client_key or None)
    except (OSError, ssl.SSLError) as exc:
        raise InputError(f"http_output TLS settings: {exc}") from exc
    if insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


class HttpOutput:
    """POSTs each alert's JSON to ``url``."""

    def __init__(self, url: str, *, alert_format: AlertFormat | None = None, headers: Mapping[str, str] | None = None,
                 user_agent: str = DEFAULT_USER_AGENT, tls: ssl.SSLContext | None = None, compress: bool = False,
                 keep_alive: bool = True, timeout: float = 5.0, health_path: str = "/healthz",
                 echo: Callable[[str], None] | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InputError(f"http_output.url {url!r}: expected http://HOST[:PORT]/PATH or https://...")
        self.url = url
        self._scheme, self._host = parts.scheme, parts.hostname
        try:
            self._port = parts.port
        except ValueError as exc:
            raise InputError(f"http_output.url {url!r}: bad port") from exc
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.alert_format = replace(alert_format or AlertFormat(), json_output=True)
        self.headers = {"Content-Type": "application/json", "User-Agent": user_agent, **(headers or {})}
        if compress:
            self.headers["Content-Encoding"] = "gzip"
        self.compress = compress
        self.tls = tls if tls is not None else (tls_context() if parts.scheme == "https" else None)
        self.keep_alive = keep_alive
        self.timeout = timeout
        self.health_path = health_path
        self.echo = echo
        self.health_checks = 0
        self._suspect = False            # a failure happened: ask /healthz before posting again
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            if self._scheme == "https":
                self._conn = http.client.HTTPSConnection(self._host, self._port, timeout=self.timeout,
                                                         context=self.tls)
            else:
                self._conn = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
        return self._conn

    def _request(self, method: str, path: str, body: bytes | None, headers: Mapping[str, str]) -> tuple[int, bytes]:
        conn = self._connection()
        try:
            conn.request(method, path, body=body, headers=dict(headers))
            response = conn.getresponse()
            payload = response.read(1 << 20)
            status = response.status
            if response.will_close or not self.keep_alive:
                self.close()
            return status, payload
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            self._suspect = True
            raise OutputError(f"http {self.url}: {getattr(exc, 'strerror', None) or exc or type(exc).__name__}") \
                from exc

    def _healthy(self) -> None:
        """Raise ``OutputError`` unless ``GET health_path`` says the server is up (or has no such path)."""
        self.health_checks += 1
        status, _ = self._request("GET", self.health_path, None, {"User-Agent": self.headers["User-Agent"]})
        if status in (404, 405, 501):
            self.health_path = ""          # the server has no health endpoint: post directly from now on
        elif not 200 <= status < 300:
            raise OutputError(f"http {self.url}: {self.health_path} answered {status}")
        self._suspect = False

    def emit(self, alert: Alert) -> None:
        if self._suspect and self.health_path:
            self._healthy()
        body = alert.to_json(self.alert_format).encode("ascii")
        if self.compress:
            body = gzip.compress(body)
        status, payload = self._request("POST", self._path, body, self.headers)
        if 200 <= status < 300:
            self._suspect = False
            if self.echo is not None and payload:
                self.echo(escape_text(payload.decode("utf-8", "surrogateescape")))
            return
        detail = escape_text(payload[:200].decode("utf-8", "surrogateescape")).strip()
        if status in RETRY_STATUS:
            self._suspect = True
            raise OutputError(f"http {self.url}: answered {status} {detail}".rstrip())
        raise AlertRejectedError(f"http {self.url}: refused the alert with {status} {detail}".rstrip())

    def counters(self) -> dict[str, int]:
        return {"health_checks": self.health_checks}

    def reopen(self) -> None:
        self.close()

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
