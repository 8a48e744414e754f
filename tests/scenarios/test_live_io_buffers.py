"""I/O buffers live (issue 19 item 1, acceptance): a java-named program that receives a Java class file's header
over a local TCP socket fires the sandbox rule 'Java Process Class File Download', and a rule of our own on
``evt.buffer contains`` fires on a write to a local TCP socket; a harmless twin (other bytes) does not, and with
``--snaplen 0`` neither does (no buffer is captured). Also over the sharded eBPF pipeline (``--workers 2``)."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.scenarios.conftest import _ebpf_reason, fired, monitor, named

pytestmark = [pytest.mark.kernel, pytest.mark.slow]
JAVA_RULE = "Java Process Class File Download"
OWN_RULE = "Secret token written to a TCP socket"
OWN_RULES = f"""
- rule: {OWN_RULE}
  desc: a rule of the test's own on the bytes a process writes
  condition: evt.type=write and fd.type=ipv4 and evt.buffer contains "TOKEN-0xf00d"
  output: token written by %proc.name to %fd.name (%evt.buffer)
  priority: WARNING
"""
# A local TCP server sends PAYLOAD to a client that reads it with recv (recvfrom); the client then write()s
# WRITTEN back on the same connection. Class files start with the magic 0xCAFEBABE then the version.
PROGRAM = """
import os, socket, sys, threading
payload, written = bytes.fromhex(sys.argv[1]), sys.argv[2].encode()
srv = socket.create_server(("127.0.0.1", 0))
def serve():
    conn, _ = srv.accept()
    conn.sendall(payload)
    conn.recv(100)
    conn.close()
t = threading.Thread(target=serve)
t.start()
cli = socket.create_connection(srv.getsockname())
data = cli.recv(100)
assert data == payload, data
os.write(cli.fileno(), written)
t.join()
"""
CLASS_HEADER = "cafebabe00000034"  # magic + version 52 (Java 8)
HARMLESS = "48454c4c4f0a"  # "HELLO\n"


def _run(source: str, tmp_path: Path, payload: str, written: str, *options: str) -> list[dict[str, str]]:
    java = named(tmp_path, "java")["java"]
    (tmp_path / "prog.py").write_text(PROGRAM)
    alerts = monitor(source, f"{java} {tmp_path / 'prog.py'} {payload} {written}", enable=(JAVA_RULE,),
                     rules=OWN_RULES, options=options)
    return [a for a in alerts if a["rule"] in (JAVA_RULE, OWN_RULE)]


@pytest.mark.covers(JAVA_RULE)
def test_class_file_download_and_buffer_rule_fire(source: str, tmp_path: Path) -> None:
    alerts = _run(source, tmp_path, CLASS_HEADER, "TOKEN-0xf00d", "--snaplen", "80")
    java = fired(alerts, JAVA_RULE)
    assert len(java) == 1, alerts
    assert java[0]["evt.type"] == "recvfrom" and java[0]["fd.type"] == "ipv4"
    assert java[0]["fd.sip"] == "127.0.0.1" and java[0]["proc.name"] == "java"
    own = fired(alerts, OWN_RULE)
    assert len(own) == 1, alerts
    assert own[0]["evt.buffer"] == "TOKEN-0xf00d" and own[0]["fd.name"].startswith("127.0.0.1:")


def test_harmless_twin_does_not_fire(source: str, tmp_path: Path) -> None:
    """The same program, the same calls, other bytes: neither rule."""
    assert _run(source, tmp_path, HARMLESS, "token-0xf00d", "--snaplen", "80") == []


def test_snaplen_0_captures_no_buffer(source: str, tmp_path: Path) -> None:
    """The attack bytes with ``--snaplen 0``: nothing captured, neither rule (the documented cost switch)."""
    assert _run(source, tmp_path, CLASS_HEADER, "TOKEN-0xf00d", "--snaplen", "0") == []


def test_sharded_pipeline_captures_buffers(tmp_path: Path) -> None:
    """``--workers 2`` (decode, state and rules in worker processes; eBPF only) still sees the buffers."""
    if reason := _ebpf_reason():
        pytest.skip(reason)
    alerts = _run("ebpf", tmp_path, CLASS_HEADER, "TOKEN-0xf00d", "--workers", "2", "--snaplen", "80")
    assert [a["rule"] for a in alerts].count(JAVA_RULE) == 1, alerts
    assert [a["output_fields"]["evt.buffer"] for a in alerts if a["rule"] == OWN_RULE] == ["TOKEN-0xf00d"]
