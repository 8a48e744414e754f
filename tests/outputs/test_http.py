"""HTTP output against a real local server: down for a while then up, every alert arrives in order; the bound
and the overflow are counted; 4xx refuses one alert; /healthz is asked before resuming; the body is the JSON
Falcosidekick decodes (its FalcoPayload) and attacker strings stay valid JSON."""
from __future__ import annotations

import datetime
import time

from syswarden.outputs.http import HttpOutput
from syswarden.outputs.queue import Backoff, QueuedOutput
from syswarden.rules.alert import Priority

from tests.outputs.helpers import HOSTILE_CMD, hostile, numbered
from tests.servers import RecordingHTTP, free_port, wait_until

FAST = Backoff(0.02, 0.2)


def test_down_then_up_every_alert_in_order() -> None:
    server = RecordingHTTP(free_port())
    sink = HttpOutput(server.url, headers={"X-Token": "s3cret"})
    out = QueuedOutput("http", sink, capacity=500, backoff=FAST, log=lambda m: None)
    for i in range(300):
        out.emit(numbered(i))
    time.sleep(0.5)                    # the server is down: the worker retries with backoff
    assert out.stats.delivered == 0 and out.stats.failures >= 2
    server.start()
    try:
        wait_until(lambda: out.stats.delivered == 300, what="300 deliveries")
        out.close(time.monotonic() + 5)
    finally:
        server.stop()
    assert [b["output_fields"]["n"] for b in server.bodies] == list(range(300))
    assert out.stats.lost == 0 and server.health_hits >= 1 and sink.health_checks >= 1
    assert server.headers[0]["X-Token"] == "s3cret" and server.headers[0]["Content-Type"] == "application/json"


def test_bound_respected_and_overflow_counted() -> None:
    server = RecordingHTTP(free_port())
    out = QueuedOutput("http", HttpOutput(server.url), capacity=50, backoff=FAST, log=lambda m: None)
    for i in range(200):
        out.emit(numbered(i))
        assert out.stats.depth <= 50
    server.start()
    try:
        out.close(time.monotonic() + 10)
    finally:
        server.stop()
    got = [b["output_fields"]["n"] for b in server.bodies]
    assert got == sorted(got) and len(got) == out.stats.delivered
    assert out.stats.delivered + out.stats.dropped == 200 and out.stats.dropped >= 149


def test_client_error_rejects_one_alert() -> None:
    server = RecordingHTTP(status=400).start()
    try:
        out = QueuedOutput("http", HttpOutput(server.url), backoff=FAST, log=lambda m: None)
        out.emit(numbered(0))
        out.close(time.monotonic() + 5)
    finally:
        server.stop()
    assert out.stats.rejected == 1 and out.stats.failures == 0 and "400" in out.stats.last_error


def test_unhealthy_server_gets_no_posts() -> None:
    """After a 503, the sink asks /healthz and posts nothing while it says unhealthy."""
    server = RecordingHTTP(status=503, healthy=False).start()
    try:
        out = QueuedOutput("http", HttpOutput(server.url), backoff=FAST, log=lambda m: None)
        out.emit(numbered(0))
        wait_until(lambda: server.health_hits >= 3, what="health checks")
        server.status, server.healthy = 200, True
        out.close(time.monotonic() + 5)
    finally:
        server.stop()
    assert [b["output_fields"]["n"] for b in server.bodies] == [0]


def _sidekick_decode(doc: dict) -> None:
    """What Falcosidekick's FalcoPayload decoding needs (types.go): typed fields, RFC 3339 time, a priority."""
    assert isinstance(doc["output"], str) and isinstance(doc["rule"], str) and isinstance(doc["hostname"], str)
    assert isinstance(doc["output_fields"], dict) and isinstance(doc["tags"], list) and doc["source"] == "syscall"
    assert Priority.parse(doc["priority"]) is not None
    stamp = doc["time"]
    assert datetime.datetime.fromisoformat(stamp[:26] + "+00:00").year == 2023 and stamp.endswith("Z")


def test_body_is_falcosidekick_payload_and_escaped() -> None:
    server = RecordingHTTP().start()
    try:
        out = QueuedOutput("http", HttpOutput(server.url), log=lambda m: None)
        out.emit(hostile())
        out.close(time.monotonic() + 5)
    finally:
        server.stop()
    (doc,) = server.bodies
    _sidekick_decode(doc)
    assert doc["output_fields"]["fd.name"] == "/tmp/x\nFAKE: Critical forged\x1b[31m\ufffd"
    assert doc["output_fields"]["proc.cmdline"] == HOSTILE_CMD
