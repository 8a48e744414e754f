"""Alert delivery: alerts per second through each output to a local sink, and the engine's rate with every
output on versus none, in one run.

Sinks: stdout (to /dev/null), file, file with fsync, syslog over UDP and TCP (local sockets drained by a
thread), program (`cat > /dev/null`), HTTP (a local threaded server), NATS JetStream (a `nats-server -js` on a
free port with a temp store, when installed). Each is timed from the first emit until the queue reports every
alert delivered. The engine part replays a generated recording through the real pipeline with no output and with
all of them, alternating, and prints events/s (wall and CPU) and the ratio; the machine is shared, so repeat.

    .venv/bin/python bench/outputs.py [--alerts 5000] [--events 60000] [--rounds 3]
"""
from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from syswarden.outputs.fanout import Fanout
from syswarden.outputs.file import FileOutput
from syswarden.outputs.http import HttpOutput
from syswarden.outputs.jetstream import JetStreamOutput
from syswarden.outputs.program import ProgramOutput
from syswarden.outputs.queue import QueuedOutput, Sink
from syswarden.outputs.stdout import StreamOutput
from syswarden.outputs.syslog import SyslogOutput, SyslogTarget
from syswarden.rules import Engine, load_rules
from syswarden.rules.alert import Alert, Priority
from syswarden.service.pipeline import open_pipeline


def _alert(i: int) -> Alert:
    return Alert(rule="Bench", priority=Priority.WARNING, output=f"opened /tmp/hit/{i} by cat", hostname="bench",
                 time_ns=1_700_000_000_000_000_000 + i, tags=("t",), output_fields={"fd.name": f"/tmp/hit/{i}"})


def _free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _drain_udp() -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    threading.Thread(target=lambda: [sock.recv(65536) for _ in iter(int, 1)], daemon=True).start()
    return int(sock.getsockname()[1])


def _drain_tcp() -> int:
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = server.accept()
        while conn.recv(1 << 16):
            pass
    threading.Thread(target=serve, daemon=True).start()
    return int(server.getsockname()[1])


def _http_server() -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            self.do_POST()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/"


def _nats(tmp: Path) -> tuple[subprocess.Popen[bytes] | None, str]:
    binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
    if not Path(binary).exists():
        return None, ""
    port = _free_port()
    proc = subprocess.Popen([binary, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(tmp / "js")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    return proc, f"nats://127.0.0.1:{port}"


def sinks(tmp: Path, http_url: str, nats_url: str) -> dict[str, Sink]:
    out: dict[str, Sink] = {
        "stdout": StreamOutput(open("/dev/null", "w")),
        "file": FileOutput(tmp / "alerts.txt"),
        "file+fsync": FileOutput(tmp / "alerts-fsync.txt", fsync=True),
        "syslog udp": SyslogOutput(SyslogTarget.parse(f"udp://127.0.0.1:{_drain_udp()}")),
        "syslog tcp": SyslogOutput(SyslogTarget.parse(f"tcp://127.0.0.1:{_drain_tcp()}")),
        "program": ProgramOutput("cat > /dev/null"),
        "http": HttpOutput(http_url, keep_alive=True),
    }
    if nats_url:
        out["nats"] = JetStreamOutput(nats_url, spool_dir=str(tmp / "spool"))
    return out


def peer_udp(count: int) -> float:
    """The peer: bare ``socket.send`` of a 300-byte datagram to another process (what the machine allows now)."""
    code = ("import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('127.0.0.1',0))\n"
            "print(s.getsockname()[1],flush=True)\nwhile True: s.recv(65536)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.connect(("127.0.0.1", int(proc.stdout.readline())))
        start = time.perf_counter()
        for _ in range(count):
            sock.send(b"x" * 300)
        return count / (time.perf_counter() - start)
    finally:
        proc.kill()
        proc.wait()


def per_sink(tmp: Path, count: int, http_url: str, nats_url: str) -> None:
    print(f"peer: bare UDP send to another process: {peer_udp(count):.0f} datagrams/s")
    print(f"{'output':<12} {'alerts':>7} {'seconds':>8} {'alerts/s':>10}")
    for name, sink in sinks(tmp, http_url, nats_url).items():
        n = count // 10 if name == "file+fsync" else count
        out = QueuedOutput(name, sink, capacity=n + 1)
        start = time.perf_counter()
        for i in range(n):
            out.emit(_alert(i))
        while out.stats.delivered + out.stats.lost < n:
            time.sleep(0.001)
        elapsed = time.perf_counter() - start
        out.close(time.monotonic() + 10)
        print(f"{name:<12} {out.stats.delivered:>7} {elapsed:>8.3f} {out.stats.delivered / elapsed:>10.0f}")


def _recording(path: Path, events: int, every: int) -> Path:
    lines = [json.dumps({"syswarden_replay": 1, "hostname": "bench"}),
             json.dumps({"kind": "thread", "tid": 700, "pid": 700, "ptid": 1, "comm": "cat",
                         "exepath": "/usr/bin/cat"})]
    for i in range(events):
        name = f"/tmp/hit/{i}" if i % every == 0 else f"/usr/lib/miss/{i}"
        lines.append(json.dumps({"kind": "event", "num": i + 1, "ts": 1_700_000_000_000_000_000 + i * 1000,
                                 "tid": 700, "type": "openat", "res": 3,
                                 "params": {"fd": 3, "dirfd": -100, "name": name, "flags": 0, "mode": 0}}))
    path.write_text("\n".join(lines) + "\n")
    return path


def engine_rates(tmp: Path, events: int, rounds: int, http_url: str, nats_url: str) -> None:
    rules = tmp / "rules.yaml"
    rules.write_text('- rule: Bench\n  desc: b\n  condition: evt.type = openat and fd.name startswith "/tmp/hit/"\n'
                     '  output: opened %fd.name by %proc.name\n  priority: WARNING\n')
    ruleset = load_rules([rules]).ruleset
    assert ruleset is not None
    rec = _recording(tmp / "rec.jsonl", events, every=20)

    def run(all_outputs: bool) -> tuple[float, float]:
        outs = [QueuedOutput(name, sink) for name, sink in sinks(tmp, http_url, nats_url).items()] \
            if all_outputs else []
        fanout = Fanout(outs, drain_timeout=30)
        pipeline = open_pipeline(ruleset, Engine(ruleset), [fanout], path=str(rec))
        cpu = time.process_time()
        summary = pipeline.run()          # summary.seconds: the event loop, not the drain at close
        return summary.events / summary.seconds, summary.events / (time.process_time() - cpu)

    pairs = []
    for i in range(rounds):
        if i % 2:
            on, off = run(True), run(False)
        else:
            off, on = run(False), run(True)
        pairs.append((off, on))
        print(f"round {i + 1}: none {off[0]:>9.0f} ev/s wall {off[1]:>9.0f} ev/s cpu | all outputs "
              f"{on[0]:>9.0f} ev/s wall {on[1]:>9.0f} ev/s cpu | ratio wall {on[0] / off[0]:.2f}")
    print(f"median ratio (all outputs / none, engine loop wall time; cpu includes the output threads): "
          f"{statistics.median(on[0] / off[0] for off, on in pairs):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=5000)
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="syswarden-bench-") as name:
        tmp = Path(name)
        http, http_url = _http_server()
        nats, nats_url = _nats(tmp)
        try:
            per_sink(tmp, args.alerts, http_url, nats_url)
            print()
            print(f"engine: {args.events} events, 1 alert per 20 events, through every output above")
            engine_rates(tmp, args.events, args.rounds, http_url, nats_url)
        finally:
            http.shutdown()
            if nats is not None:
                nats.terminate()
                nats.wait()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
