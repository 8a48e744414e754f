"""NATS JetStream output against a real nats-server -js: killed during a burst and restarted, every alert is in
the stream exactly once and in order; the on-disk spool survives a restart of syswarden and drains in order."""
from __future__ import annotations

import threading
import time
from pathlib import Path

from syswarden.outputs.jetstream import JetStreamOutput, subject_token
from syswarden.outputs.queue import Backoff, QueuedOutput
from syswarden.outputs.spool import Spool, SpoolRecord

from tests.outputs.helpers import HOSTILE_NAME, hostile, numbered
from tests.outputs.natsread import read_stream
from tests.servers import NatsServer, wait_until

FAST = Backoff(0.05, 0.3)


def _sink(server: NatsServer, tmp: Path, **kw: object) -> JetStreamOutput:
    return JetStreamOutput(server.url, spool_dir=str(tmp / "spool"), backoff=FAST, **kw)  # type: ignore[arg-type]


def test_kill_during_burst_every_alert_once_in_order(tmp_path: Path) -> None:
    server = NatsServer(tmp_path).start()
    try:
        sink = _sink(server, tmp_path)
        out = QueuedOutput("nats", sink, capacity=20_000, backoff=FAST, log=lambda m: None)
        total = 3000

        def burst() -> None:
            for i in range(total):
                out.emit(numbered(i))
                if i % 100 == 0:
                    time.sleep(0.01)
        producer = threading.Thread(target=burst)
        producer.start()
        wait_until(lambda: sink.published >= 300, what="300 published")
        server.kill()                                     # SIGKILL mid-burst
        time.sleep(0.5)
        server.start()                                    # same port, same store
        producer.join()
        wait_until(lambda: out.stats.delivered == total and sink.spool.pending == 0, timeout=60,
                   what="every alert published")
        out.close(time.monotonic() + 10)
        msgs = read_stream(server.url)
    finally:
        server.stop()
    ns = [doc["output_fields"]["n"] for _, doc, _ in msgs]
    assert ns == list(range(total)), "every alert exactly once, in order"
    assert sink.resent > 0, "the kill should have sent some alerts to the spool"
    assert all(subject == "syswarden.alerts.h.warning" for subject, _, _ in msgs)
    ids = [msg_id for _, _, msg_id in msgs]
    assert len(set(ids)) == total and all(i.startswith("h-") for i in ids)


def test_spool_survives_restart_and_drains_first(tmp_path: Path) -> None:
    """The bus is down while syswarden runs and exits; the next syswarden publishes the spool first, in order."""
    server = NatsServer(tmp_path)
    first = _sink(server, tmp_path)
    out = QueuedOutput("nats", first, backoff=FAST, log=lambda m: None)
    for i in range(100):
        out.emit(numbered(i))
    out.close(time.monotonic() + 3)
    assert out.stats.delivered == 100 and first.spool.pending == 100       # handed over to the spool
    assert Spool(tmp_path / "spool", "SYSWARDEN_ALERTS", 1 << 20).pending == 100
    server.start()
    try:
        second = _sink(server, tmp_path)
        out2 = QueuedOutput("nats", second, backoff=FAST, log=lambda m: None)
        for i in range(100, 120):
            out2.emit(numbered(i))
        wait_until(lambda: second.spool.pending == 0 and out2.stats.delivered == 20, what="spool drained")
        out2.close(time.monotonic() + 5)
        msgs = read_stream(server.url)
    finally:
        server.stop()
    assert [doc["output_fields"]["n"] for _, doc, _ in msgs] == list(range(120))


def test_resend_of_a_stored_message_is_dropped_by_the_stream(tmp_path: Path) -> None:
    """The same message id twice (an ack lost, the record resent): the stream keeps one."""
    server = NatsServer(tmp_path).start()
    try:
        sink = _sink(server, tmp_path)
        record = sink.record(numbered(7))
        assert sink._send(record) and sink._send(record)
        sink.close()
        msgs = read_stream(server.url)
    finally:
        server.stop()
    assert len(msgs) == 1


def test_torn_spool_tail_is_cut(tmp_path: Path) -> None:
    spool = Spool(tmp_path, "s", 1 << 20)
    for i in range(3):
        assert spool.append(SpoolRecord(f"id{i}", "a.b", b'{"n":%d}' % i))
    spool.close()
    with open(tmp_path / "s.spool", "ab") as fh:
        fh.write(b"id3 a.b {\"n\":")                       # killed mid-write
    again = Spool(tmp_path, "s", 1 << 20)
    assert again.pending == 3 and again.corrupt == 1
    assert [r.id for r, _ in again.head(10) if r] == ["id0", "id1", "id2"]
    assert not again.append(SpoolRecord("big", "a.b", b"x" * (1 << 20)))    # over the bound


def test_hostile_host_and_strings(tmp_path: Path) -> None:
    """A hostile hostname cannot add subject tokens; the payload stays valid JSON."""
    assert subject_token("a.b *>\n") == "a_b____"
    server = NatsServer(tmp_path).start()
    try:
        sink = _sink(server, tmp_path)
        sink.emit(hostile())
        sink.close()
        ((subject, doc, _),) = read_stream(server.url)
    finally:
        server.stop()
    assert subject == "syswarden.alerts.h.critical"
    assert doc["output_fields"]["fd.name"] == HOSTILE_NAME.replace("\udcff", "\ufffd")
