"""Decode, state and rules of a live eBPF source sharded by thread group over worker processes (issue 14).

One core of Python cannot follow a host whose filtered event rate still exceeds what decode + state + rules
do per second. ``ShardedRun`` keeps the probe and its ring buffer in the calling process, which only reads each
record's fixed header and hands the record to the worker owning its thread group (``tgid % workers``). Each
worker decodes, applies state and runs the rules, and returns its alerts; the caller emits them to the outputs.

* **Order.** Every record of a process goes to one worker, in ring-buffer order, and that worker's alerts
  come back in order: the alerts of one process keep their order (across processes they may interleave
  differently than one process would emit them).
* **Process lifecycle is broadcast.** Fork, exec and exit records go to every worker, so each one knows the
  whole process tree (``proc.pname``, ``proc.aname``, a child's inherited identity); only the owner judges them
  (elsewhere they are state-only), so no alert is raised twice. A fork record reaches every worker before the
  child's first syscall (same ring, same order).
* **Not shared.** fd tables are per process, hence per shard; two processes sharing one (``clone`` with
  ``CLONE_FILES`` but not ``CLONE_THREAD``) may land in different shards, which then do not see each other's
  fd changes. ``evt.num`` counts per worker.

Workers are forked after the rules are compiled (they inherit them); they get the /proc seed at start.
"""
from __future__ import annotations

import multiprocessing
import os
import pickle
import struct
from collections.abc import Callable, Iterable, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any

from syswarden.errors import OutputError
from syswarden.events.event import ThreadInfo
from syswarden.outputs.base import Output
from syswarden.rules.alert import Alert
from syswarden.rules.engine import Engine
from syswarden.service.pipeline import Summary

# struct ev_hdr (probe.h): tgid at 76, nr (i32) at 104; the ring buffer's own 8-byte header precedes each record
_TGID_NR = struct.Struct("<I24xi")
_TGID_AT = 76
_RING_LEN = struct.Struct("<I")
_RING_HDR, _LEN_MASK = 8, 0x3FFFFFFF
_FRAME = struct.Struct("<IB")        # record length, 1 = state only (a broadcast record another shard owns)
EV_FORK, EV_EXEC, EV_EXIT = -1, -2, -3


def _add(total: Summary, part: Summary) -> None:
    total.events += part.events
    total.state_only += part.state_only
    total.alerts += part.alerts
    total.by_rule.update(part.by_rule)


def shard_of(tgid: int, workers: int) -> int:
    return tgid % workers


def split_batch(chunk: bytes, starts: Iterable[int], workers: int) -> list[bytearray]:
    """The records of one ring-buffer batch framed per worker: each record to its thread group's worker; fork,
    exec and exit to every worker, state-only for all but the owner."""
    out = [bytearray() for _ in range(workers)]
    unpack, frame = _TGID_NR.unpack_from, _FRAME.pack
    for start in starts:
        length = _RING_LEN.unpack_from(chunk, start - _RING_HDR)[0] & _LEN_MASK
        record = chunk[start:start + length]
        tgid, nr = unpack(chunk, start + _TGID_AT)
        owner = tgid % workers
        if nr in (EV_FORK, EV_EXEC, EV_EXIT):
            for w in range(workers):
                out[w] += frame(length, w != owner)
                out[w] += record
        else:
            out[owner] += frame(length, 0)
            out[owner] += record
    return out


def _worker(conn: Connection, make_engine: Callable[[], Engine], threads: list[ThreadInfo]) -> None:
    """A shard: decode, state and rules over the records it is sent; alerts go back as pickled lists."""
    from syswarden.sources.ebpf.decode import Decoder
    from syswarden.state import State

    decoder, state, engine = Decoder(), State(procfs=True), make_engine()
    state.seed(threads)
    counts = Summary()
    apply, process, decode, unpack = state.apply, engine.process, decoder.decode, _FRAME.unpack_from
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):    # the parent went away: nothing to report to
            return
        if not data:
            break
        alerts: list[Alert] = []
        pos = 0
        while pos < len(data):
            length, state_only = unpack(data, pos)
            pos += _FRAME.size
            event = decode(data, pos)
            pos += length
            if event is None:
                continue
            if state_only:
                event.state_only = True
            event = apply(event)
            if event.state_only:
                counts.state_only += 1
                continue
            counts.events += 1
            found = process(event)
            if found:
                alerts += found
        if alerts:
            counts.alerts += len(alerts)
            counts.by_rule.update(a.rule for a in alerts)
            conn.send_bytes(pickle.dumps(alerts))
    conn.send_bytes(pickle.dumps(counts))
    conn.close()


class ShardedRun:
    """Runs ``source`` (an ``EbpfSource``) through ``workers`` processes; ``run()`` returns the totals (a
    ``Summary`` without the source's counters)."""

    def __init__(self, source: Any, make_engine: Callable[[], Engine], outputs: Sequence[Output], *,
                 workers: int) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.source = source
        self.make_engine = make_engine
        self.outputs = list(outputs)
        self.workers = workers
        self.counts = Summary()
        self.output_errors = 0
        self._conns: list[Connection] = []
        self._procs: list[Any] = []

    def _start(self, threads: list[ThreadInfo]) -> None:
        ctx = multiprocessing.get_context("fork")
        for _ in range(self.workers):
            parent, child = ctx.Pipe(duplex=True)
            proc = ctx.Process(target=_worker, args=(child, self.make_engine, threads), daemon=True)
            proc.start()
            child.close()
            self._conns.append(parent)
            self._procs.append(proc)

    def _emit(self, alerts: list[Alert]) -> None:
        for alert in alerts:
            for out in self.outputs:
                try:
                    out.emit(alert)
                except OutputError:
                    self.output_errors += 1

    def _collect(self, timeout: float = 0.0) -> None:
        """Alerts the workers have ready (without blocking unless ``timeout``)."""
        for conn in _ready(self._conns, timeout):
            result = pickle.loads(conn.recv_bytes())  # noqa: S301 - our own worker's pipe
            if isinstance(result, list):
                self._emit(result)

    def run(self) -> Summary:
        threads = list(self.source.initial_threads())
        self._start(threads)
        try:
            for chunk, starts in self.source.raw_batches():
                for conn, data in zip(self._conns, split_batch(chunk, starts, self.workers)):
                    if data:
                        conn.send_bytes(bytes(data))
                self._collect()
            self._finish()
        finally:
            self.close()
        return self.counts

    def _finish(self) -> None:
        for conn in self._conns:
            conn.send_bytes(b"")
        pending = list(self._conns)
        while pending:
            for conn in _ready(pending):
                try:
                    result = pickle.loads(conn.recv_bytes())  # noqa: S301 - our own worker's pipe
                except EOFError:
                    pending.remove(conn)
                    continue
                if isinstance(result, Summary):
                    _add(self.counts, result)
                    pending.remove(conn)
                else:
                    self._emit(result)

    def close(self) -> None:
        """Stop every worker and close the source (idempotent)."""
        for conn in self._conns:
            conn.close()
        for proc in self._procs:
            proc.join(timeout=5)
            if proc.is_alive():
                os.kill(proc.pid, 9)
                proc.join()
        self._conns, self._procs = [], []
        self.source.close()


def _ready(conns: list[Connection], timeout: float | None = None) -> list[Connection]:
    """The connections with data waiting (``wait`` answers with any kind of waitable; these are ours)."""
    ready = wait(conns, timeout)
    return [conn for conn in conns if conn in ready]


__all__ = ["ShardedRun", "split_batch", "shard_of"]
