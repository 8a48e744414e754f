"""Syslog output through a real rsyslogd: UDP and TCP in RFC 5424 with structured data, the local socket in
RFC 3164, read back from rsyslog's files; attacker strings stay escaped; a restarted rsyslog gets the rest."""
from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from syswarden.outputs.queue import Backoff, QueuedOutput
from syswarden.outputs.syslog import SyslogOutput, SyslogTarget, structured_data
from syswarden.rules.alert import AlertFormat

from tests.outputs.helpers import assert_escaped_line, hostile, numbered
from tests.servers import Rsyslog, wait_until

# RFC 5424 section 6 (ABNF), one message: HEADER SP STRUCTURED-DATA [SP MSG]
PRINTUS = r"[\x21-\x7e]"
PARAM_VALUE = r'(?:[^"\\\]]|\\["\\\]])*'
SD_NAME_RE = r'[!#-<>-\\^-~]{1,32}'                    # PRINTUSASCII except = SP ] "
SD_ELEMENT = rf'\[{SD_NAME_RE}(?: {SD_NAME_RE}="{PARAM_VALUE}")*\]'
RFC5424 = re.compile(
    rf"^<(?P<pri>\d{{1,3}})>1 (?P<ts>\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{{1,6}})?(?:Z|[+-]\d\d:\d\d)) "
    rf"(?P<host>{PRINTUS}{{1,255}}) (?P<app>{PRINTUS}{{1,48}}) (?P<procid>{PRINTUS}{{1,128}}) "
    rf"(?P<msgid>{PRINTUS}{{1,32}}) (?P<sd>-|(?:{SD_ELEMENT})+)(?: (?P<msg>.*))?$")


def test_structured_data_is_rfc5424() -> None:
    sd = structured_data(hostile())
    assert re.fullmatch(rf"(?:{SD_ELEMENT})+", sd), sd
    assert 'priority="Critical"' in sd and "fd.name=" in sd


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_remote_rfc5424_through_rsyslog(tmp_path: Path, transport: str) -> None:
    with Rsyslog(tmp_path) as server:
        port = server.udp if transport == "udp" else server.tcp
        sink = SyslogOutput(SyslogTarget.parse(f"{transport}://127.0.0.1:{port}"), facility="local3")
        out = QueuedOutput("syslog", sink, capacity=1000)
        for i in range(200):
            out.emit(numbered(i))
        out.emit(hostile(200))
        out.close(time.monotonic() + 10)
        wait_until(lambda: len(server.lines()) >= 201, what="rsyslog to write 201 lines")
        raw, parsed = server.lines("raw.log"), server.lines()
    assert len(raw) == len(parsed) == 201
    for line in raw:
        match = RFC5424.match(line)
        assert match, line
        assert int(match["pri"]) in (19 * 8 + 4, 19 * 8 + 2)         # local3.warning, local3.crit
        assert match["app"] == "syswarden" and match["procid"] == str(os.getpid()) and match["msgid"] == "alert"
        assert_escaped_line(line)
    # rsyslog parsed them as RFC 5424: protocol version 1, its fields, the structured data as sent
    version, facility, severity, host, app, _procid, msgid, sd, msg = parsed[0].split("|", 8)
    assert (version, facility, severity, host, app, msgid) == ("1", "local3", "warning", "h", "syswarden", "alert")
    assert sd == '[alert@32473 rule="Numbered" priority="Warning" source="syscall" tags="t"]' \
                 '[fields@32473 n="0" proc.name="p"]'
    assert msg.strip().endswith(": Warning n=0")
    assert [int(p.rsplit("n=", 1)[1]) for p in parsed[:200]] == list(range(200))     # in order
    hostile_line = parsed[200]
    assert "Critical" in hostile_line and "\\nFAKE" in hostile_line and "\\xff" in hostile_line
    assert_escaped_line(hostile_line)


def test_local_socket_rfc3164(tmp_path: Path) -> None:
    """The local socket gets syslog(3)'s format; with no daemon listening, alerts are counted rejected at once."""
    with Rsyslog(tmp_path) as server:
        sink = SyslogOutput(SyslogTarget.parse(f"unix://{server.socket}"), alert_format=AlertFormat(json_output=True))
        out = QueuedOutput("syslog", sink, capacity=1000, log=lambda m: None)
        for i in range(10):
            out.emit(numbered(i))
        out.close(time.monotonic() + 10)
        wait_until(lambda: len(server.lines()) >= 10, what="10 lines")
        raw = server.lines("raw.log")
    assert all(re.match(rf"^<12>\w\w\w [ \d]\d \d\d:\d\d:\d\d syswarden\[{os.getpid()}\]: \{{", x) for x in raw), raw[0]
    assert [int(x.rsplit('"n":', 1)[1].split(",")[0].rstrip("}")) for x in raw] == list(range(10))
    gone = QueuedOutput("syslog", SyslogOutput(SyslogTarget.parse(f"unix://{tmp_path}/nothing")), log=lambda m: None)
    gone.emit(numbered(0))
    start = time.monotonic()
    gone.close(time.monotonic() + 10)
    assert gone.stats.rejected == 1 and time.monotonic() - start < 2


def test_tcp_restart_delivers_what_waited(tmp_path: Path) -> None:
    """rsyslog restarts: alerts queued while it was down reach the new instance, in order."""
    server = Rsyslog(tmp_path)
    with server:
        sink = SyslogOutput(SyslogTarget.parse(f"tcp://127.0.0.1:{server.tcp}"))
        out = QueuedOutput("syslog", sink, capacity=1000, backoff=Backoff(0.02, 0.2), log=lambda m: None)
        for i in range(10):
            out.emit(numbered(i))
        wait_until(lambda: len(server.lines()) >= 10, what="10 lines")
    for i in range(10, 20):           # rsyslog is down: these wait in the queue (the first may be lost in TCP)
        out.emit(numbered(i))
    time.sleep(0.3)
    with server:
        out.close(time.monotonic() + 10)
        wait_until(lambda: len(server.lines()) >= 19, what="the rest")
        time.sleep(0.2)
        ns = [int(x.rsplit("n=", 1)[1]) for x in server.lines()]
    assert ns == sorted(ns) and set(range(11, 20)) <= set(ns) and out.stats.failures >= 1
