"""Syslog alerts: the local socket (``/dev/log``, as Falco's ``syslog(3)`` call) and remote UDP or TCP.

Formats (``format``):

* ``rfc3164`` (the local default): what glibc's ``syslog(3)`` writes, ``<PRI>Mmm dd HH:MM:SS ident[pid]: MSG``,
  local time, no hostname; journald and rsyslog both read it from ``/dev/log``.
* ``rfc5424`` (the remote default): ``<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG`` with the event's
  UTC time (microseconds), the alert's hostname, and two structured-data elements:
  ``[alert@32473 rule=".." priority=".." source=".." tags="a,b"]`` and ``[fields@32473 proc.name="cat" ...]``
  (the output fields; a null is left out). 32473 is the private enterprise number RFC 5612 reserves for
  examples: syswarden has none of its own. Names are cut to 32 printable ASCII characters (``= ] "`` and
  space become ``_``); values escape ``\\ " ]`` as RFC 5424 section 6.3.3 says.

MSG is the alert as the other outputs render it (Falco's text line or JSON, already escaped: one line, no
control characters). PRI is ``facility * 8 + severity``; Falco's priorities are syslog's severities.
TCP frames each message with octet counting (RFC 6587 ``LEN SP MSG``), which rsyslog and syslog-ng accept.
A local socket path that does not exist (no syslog daemon) refuses the alert at once (counted ``rejected``,
as ``syslog(3)`` discards it); a refused connection is retried. UDP and TCP have no acknowledgement: a message the
kernel accepted is counted delivered, and an ICMP "port unreachable" surfaces on the next send, which is retried
(docs/outputs.md).
"""
from __future__ import annotations

import errno
import os
import re
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from syswarden.errors import InputError, OutputError
from syswarden.escaping import escape_text
from syswarden.outputs.queue import AlertRejectedError
from syswarden.rules.alert import Alert, AlertFormat

FACILITIES = {name: code for code, name in enumerate((
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp"))}
FACILITIES.update({f"local{i}": 16 + i for i in range(8)})
SD_ID = "32473"
UDP_MAX = 65_000
_SD_NAME_BAD = re.compile(r'[^\x21-\x7e]|[=\]"]')
_SD_VALUE_BAD = re.compile(r'[\\"\]]')
_ASCII_BAD = re.compile(r"[^\x21-\x7e]")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True, slots=True)
class SyslogTarget:
    """Where messages go: ``unix`` (a local socket path), ``udp`` or ``tcp`` (host, port)."""

    transport: str
    path: str = "/dev/log"
    host: str = ""
    port: int = 0

    @classmethod
    def parse(cls, address: str) -> SyslogTarget:
        """``""`` or ``unix:///dev/log`` (local), ``udp://host:514``, ``tcp://host:601``."""
        if not address:
            return cls("unix")
        parts = urlsplit(address)
        if parts.scheme == "unix":
            return cls("unix", path=parts.path or "/dev/log")
        if parts.scheme in ("udp", "tcp"):
            try:
                port = parts.port or (514 if parts.scheme == "udp" else 601)
            except ValueError as exc:
                raise InputError(f"syslog address {address!r}: bad port") from exc
            if not parts.hostname:
                raise InputError(f"syslog address {address!r}: expected {parts.scheme}://HOST:PORT")
            return cls(parts.scheme, host=parts.hostname, port=port)
        raise InputError(f"syslog address {address!r}: expected unix:///PATH, udp://HOST:PORT or tcp://HOST:PORT")

    def __str__(self) -> str:
        return f"unix://{self.path}" if self.transport == "unix" else f"{self.transport}://{self.host}:{self.port}"


def facility_code(name: str) -> int | None:
    return FACILITIES.get(name.lower())


class SyslogOutput:
    """Sends each alert as one syslog message to ``target`` in ``fmt`` (rfc3164 or rfc5424)."""

    def __init__(self, target: SyslogTarget, *, fmt: str | None = None, facility: str = "user",
                 ident: str = "syswarden", alert_format: AlertFormat | None = None, timeout: float = 5.0) -> None:
        self.target = target
        self.format = fmt or ("rfc3164" if target.transport == "unix" else "rfc5424")
        code = facility_code(facility)
        if code is None:
            raise InputError(f"unknown syslog facility {facility!r}; expected one of {', '.join(FACILITIES)}")
        self.facility = code
        self.ident = _ASCII_BAD.sub("_", ident)[:48] or "syswarden"
        self.alert_format = alert_format or AlertFormat()
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._stream = target.transport == "tcp"

    # -- rendering -----------------------------------------------------------------------------------------

    def message(self, alert: Alert) -> bytes:
        """The message as sent (without TCP framing)."""
        pri = self.facility * 8 + int(alert.priority)
        msg = alert.render(self.alert_format)
        if self.format == "rfc3164":
            stamp = time.localtime()
            head = f"<{pri}>{_MONTHS[stamp.tm_mon - 1]} {stamp.tm_mday:2d} {time.strftime('%H:%M:%S', stamp)} "
            return f"{head}{self.ident}[{os.getpid()}]: {msg}".encode("utf-8", "backslashreplace")
        host = _ASCII_BAD.sub("_", alert.hostname)[:255] or "-"
        return (f"<{pri}>1 {_rfc5424_time(alert.time_ns)} {host} {self.ident} {os.getpid()} alert "
                f"{structured_data(alert)} {msg}").encode("utf-8", "backslashreplace")

    # -- delivery ------------------------------------------------------------------------------------------

    def _connect(self) -> socket.socket:
        if self._sock is not None:
            return self._sock
        target = self.target
        try:
            if target.transport == "unix":
                sock = _unix_socket(target.path)
                self._stream = sock.type == socket.SOCK_STREAM
            elif target.transport == "udp":
                sock = socket.socket(socket.AF_INET6 if ":" in target.host else socket.AF_INET, socket.SOCK_DGRAM)
                sock.connect((target.host, target.port))
            else:
                sock = socket.create_connection((target.host, target.port), timeout=self.timeout)
        except FileNotFoundError as exc:
            # syslog(3) discards a message when no daemon listens; we count it (rejected) and do not wait
            raise AlertRejectedError(f"syslog {target}: no syslog daemon listening (no such socket)") from exc
        except OSError as exc:
            raise OutputError(f"syslog {target}: cannot connect: {exc.strerror or exc}") from exc
        sock.settimeout(self.timeout)
        self._sock = sock
        return sock

    def emit(self, alert: Alert) -> None:
        data = self.message(alert)
        sock = self._connect()
        try:
            if self.target.transport == "tcp":
                sock.sendall(b"%d " % len(data) + data)
            elif self._stream:
                sock.sendall(data + b"\0")           # glibc's framing on a stream /dev/log
            else:
                sock.send(data[:UDP_MAX])
        except OSError as exc:
            self.close()
            raise OutputError(f"syslog {self.target}: {exc.strerror or exc}") from exc

    def reopen(self) -> None:
        self.close()

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()


def _unix_socket(path: str) -> socket.socket:
    """A datagram socket connected to ``path``, or a stream one when the server listens on a stream."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.connect(path)
        return sock
    except OSError as exc:
        sock.close()
        if exc.errno != errno.EPROTOTYPE:      # the server's socket is a stream
            raise
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        raise
    return sock


def _rfc5424_time(ts_ns: int) -> str:
    secs, nanos = divmod(ts_ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{nanos // 1000:06d}Z"


def _sd_value(value: object) -> str:
    text = escape_text(value if isinstance(value, str) else str(value).lower() if isinstance(value, bool)
                       else str(value))
    return _SD_VALUE_BAD.sub(lambda m: "\\" + m.group(0), text)


def _sd_name(name: str) -> str:
    return _SD_NAME_BAD.sub("_", name)[:32] or "_"


def structured_data(alert: Alert) -> str:
    """The two SD-ELEMENTs: the alert's identity and its output fields."""
    head = (f'[alert@{SD_ID} rule="{_sd_value(alert.rule)}" priority="{alert.priority.label}" '
            f'source="{_sd_value(alert.source)}" tags="{_sd_value(",".join(alert.tags))}"]')
    params: dict[str, str] = {}
    for name, value in alert.output_fields.items():
        key = _sd_name(name)
        if value is not None and key not in params:
            params[key] = _sd_value(value)
    if not params:
        return head
    return head + f"[fields@{SD_ID} " + " ".join(f'{k}="{v}"' for k, v in params.items()) + "]"
