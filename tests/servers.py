"""Real servers the output tests start on 127.0.0.1 (free ports, temp dirs) and always stop.

* ``Rsyslog``: Debian's rsyslogd with its own config (UDP, TCP and a unix socket; no imklog, no imjournal, no
  system socket), pid file and work directory, writing every message raw and as rsyslog parsed it.
* ``RecordingHTTP``: a threaded HTTP server that records POSTs and serves ``/healthz``.
* ``NatsServer``: ``nats-server -js`` with a temp store dir; ``kill``/``start`` keep the port and the store.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(cond: Any, timeout: float = 15.0, what: str = "condition") -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def stop_process(proc: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM, then SIGKILL after 10 s: a server the test started never outlives it."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def need(binary: str) -> str:
    path = shutil.which(binary) or (f"/usr/sbin/{binary}" if os.path.exists(f"/usr/sbin/{binary}") else None)
    if path is None:
        pytest.skip(f"{binary} is not installed (make setup installs it)")
    return path


# -- rsyslog -------------------------------------------------------------------------------------------------

RSYSLOG_CONF = """\
global(workDirectory="{dir}" parser.escapeControlCharactersOnReceive="off" maxMessageSize="64k")
module(load="imudp")
module(load="imtcp")
module(load="imuxsock" SysSock.Use="off")
input(type="imudp" address="127.0.0.1" port="{udp}")
input(type="imtcp" address="127.0.0.1" port="{tcp}")
input(type="imuxsock" Socket="{dir}/log")
template(name="raw" type="string" string="%rawmsg%\\n")
template(name="parsed" type="string"
         string="%protocol-version%|%syslogfacility-text%|%syslogseverity-text%|%hostname%|%app-name%|%procid%|%msgid%|%structured-data%|%msg%\\n")
*.* action(type="omfile" file="{dir}/raw.log" template="raw")
*.* action(type="omfile" file="{dir}/parsed.log" template="parsed")
"""


class Rsyslog:
    def __init__(self, tmp: Path) -> None:
        self.dir = tmp
        self.udp, self.tcp = free_port(socket.SOCK_DGRAM), free_port()
        self.socket = str(tmp / "log")
        self.conf = tmp / "rsyslog.conf"
        self.conf.write_text(RSYSLOG_CONF.format(dir=tmp, udp=self.udp, tcp=self.tcp))
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Rsyslog:
        binary = need("rsyslogd")
        self.proc = subprocess.Popen([binary, "-n", "-f", str(self.conf), "-i", str(self.dir / "rsyslogd.pid")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_until(lambda: _port_open(self.tcp) and os.path.exists(self.socket), what="rsyslogd")
        except AssertionError:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        stop_process(self.proc)

    def lines(self, name: str = "parsed.log") -> list[str]:
        path = self.dir / name
        return path.read_text(encoding="utf-8", errors="surrogateescape").splitlines() if path.exists() else []


# -- HTTP ----------------------------------------------------------------------------------------------------

class RecordingHTTP:
    """Serves on ``port`` once ``start()`` is called; ``bodies`` holds each POST's JSON in arrival order."""

    def __init__(self, port: int | None = None, *, status: int = 200, healthy: bool = True) -> None:
        self.port = port or free_port()
        self.status = status
        self.healthy = healthy
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.health_hits = 0
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> RecordingHTTP:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path == "/healthz":
                    owner.health_hits += 1
                    self._answer(200 if owner.healthy else 503, b'{"status": "ok"}')
                else:
                    self._answer(400, b"Please send with post http method")

            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if owner.status == 200:
                    owner.bodies.append(json.loads(data))
                    owner.headers.append(dict(self.headers))
                self._answer(owner.status, b"")

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


# -- NATS ----------------------------------------------------------------------------------------------------

class NatsServer:
    """``nats-server -js`` on a free port with its store under ``tmp``; ``kill()``/``start()`` to bounce it."""

    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.store = tmp / "jetstream"
        self.store.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> NatsServer:
        binary = need("nats-server")
        self.proc = subprocess.Popen([binary, "-js", "-a", "127.0.0.1", "-p", str(self.port),
                                      "-sd", str(self.store)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_until(lambda: _port_open(self.port), what="nats-server")
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None
