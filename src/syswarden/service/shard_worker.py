"""One worker process of ``monitor --workers N``: decode, state and rules for the thread groups it owns.

Started by ``service/shards.py`` as ``python -m syswarden.service.shard_worker FD`` (a fresh interpreter: it
inherits no BPF map or link, no output thread, no signal handler of the monitor), it talks to the monitor over
the socket ``FD`` with ``multiprocessing.connection`` messages:

* monitor -> worker: first a pickled ``Setup`` (the rules as a ``RulesSpec``, matching mode, hostname, the /proc
  seed), then ``R`` + records (each framed ``<u32 length, u8 state-only>``), ``S`` + a pickled
  ``(RulesSpec, rule_matching)`` (SIGHUP: judge with these rules from the next record on), ``E`` (end);
* worker -> monitor: pickled tuples ``("ready",)`` or ``("error", text)`` once, then
  ``("counts", alerts, events, state_only, timed, seconds)`` (alerts in the order their events arrived, counter
  deltas), ``("swapped", error or None)`` and at the end ``("done",)``.

SIGINT, SIGTERM, SIGHUP and SIGUSR1 are ignored: the monitor decides when to stop (it sends ``E`` after the
last record, and a worker whose monitor died sees the socket close). Errors are one line on stderr, never a
traceback.
"""
from __future__ import annotations

import signal
import sys

if __name__ == "__main__":
    # The worker process only, before the slow imports. Not on import: shards.py imports this module for its
    # constants, and an ignored signal is inherited by every child (a monitor's command, a test's subprocess).
    for _sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1):
        signal.signal(_sig, signal.SIG_IGN)

import pickle
import struct
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from syswarden.errors import SyswardenError

if TYPE_CHECKING:
    from syswarden.events.event import ThreadInfo
    from syswarden.service.rules_spec import RulesSpec

FRAME = struct.Struct("<IB")          # record length, 1 = state only (a broadcast record another shard owns)
RECORDS, SWAP, END = b"R", b"S", b"E"
REPORT_EVERY_S = 0.2                  # counters reach the monitor at least this often while events flow


@dataclass(frozen=True, slots=True)
class Setup:
    spec: RulesSpec
    rule_matching: str
    hostname: str
    threads: list[ThreadInfo]


class Shard:
    """The decode -> state -> rules loop of one worker."""

    def __init__(self, setup: Setup) -> None:
        from syswarden.rules.engine import Engine
        from syswarden.service.metrics import SampledTimer
        from syswarden.sources.ebpf.decode import Decoder
        from syswarden.state import State

        self.decoder = Decoder()
        self.state = State(procfs=True)
        self.state.seed(setup.threads)
        self.engine = Engine(setup.spec.build(), rule_matching=setup.rule_matching,  # type: ignore[arg-type]
                             hostname=setup.hostname, exit_only=True)
        self.timer = SampledTimer(self.engine.process)
        self.events = self.state_only = 0
        self._timed = (0, 0.0)

    def swap(self, spec: RulesSpec, rule_matching: str) -> None:
        self.engine.swap(spec.build(), rule_matching=rule_matching)  # type: ignore[arg-type]

    def records(self, data: bytes) -> list[Any]:
        """Judge the framed records of one message; the alerts in order."""
        alerts: list[Any] = []
        apply, process, decode, unpack = self.state.apply, self.timer, self.decoder.decode, FRAME.unpack_from
        pos, end = 0, len(data)
        while pos < end:
            length, state_only = unpack(data, pos)
            pos += FRAME.size
            event = decode(data, pos)
            pos += length
            if event is None:
                continue
            if state_only:
                event.state_only = True
            event = apply(event)
            if event.state_only:
                self.state_only += 1
                continue
            self.events += 1
            found = process(event)
            if found:
                alerts += found
        self.decoder.started.clear()      # only the monitor's source follows process lifetimes
        self.decoder.ended.clear()
        return alerts

    def counts(self, alerts: list[Any]) -> tuple[Any, ...]:
        """A ``counts`` message with the deltas since the last one."""
        timed = (self.timer.count, self.timer.seconds)
        message = ("counts", alerts, self.events, self.state_only, timed[0] - self._timed[0],
                   timed[1] - self._timed[1])
        self.events = self.state_only = 0
        self._timed = timed
        return message


def serve(conn: Connection, shard: Shard) -> None:
    send = conn.send_bytes
    last = time.monotonic()
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):        # the monitor went away: nobody to report to
            return
        kind, body = data[:1], data[1:]
        if kind == RECORDS:
            alerts = shard.records(body)
            now = time.monotonic()
            if alerts or now - last >= REPORT_EVERY_S:
                send(pickle.dumps(shard.counts(alerts)))
                last = now
        elif kind == SWAP:
            try:
                shard.swap(*pickle.loads(body))  # noqa: S301 - from the monitor that started us, over our own pipe
                send(pickle.dumps(("swapped", None)))
            except SyswardenError as err:
                send(pickle.dumps(("swapped", str(err))))
        else:
            send(pickle.dumps(shard.counts([])))
            send(pickle.dumps(("done",)))
            return


def main(argv: list[str]) -> int:
    conn = Connection(int(argv[0]))
    try:
        setup = pickle.loads(conn.recv_bytes())  # noqa: S301 - the monitor's pipe
        shard = Shard(setup)
    except (EOFError, OSError):
        return 1
    except Exception as exc:  # noqa: BLE001 - any failure to start is reported to the monitor, which says it once
        conn.send_bytes(pickle.dumps(("error", f"{type(exc).__name__}: {exc}")))
        return 1
    conn.send_bytes(pickle.dumps(("ready",)))
    try:
        serve(conn, shard)
    except (BrokenPipeError, ConnectionResetError):
        return 1
    except Exception as exc:  # noqa: BLE001 - a bug must not print a traceback; the monitor reports the worker's end
        from syswarden.escaping import escape_text

        print(escape_text(f"syswarden: shard worker: {type(exc).__name__}: {exc}"), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
