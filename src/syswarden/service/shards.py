"""``monitor --workers N``: decode, state and rules of the live eBPF source sharded by thread group (issue 14).

One core of Python cannot follow a host whose filtered event rate still exceeds what decode + state + rules
do per second. ``ShardedPipeline`` keeps the probe and its ring buffer in the monitor process, which reads
only each record's fixed header and hands the record to the worker owning its thread group (``tgid % N``).
Each worker (``shard_worker.py``, a fresh interpreter) decodes, applies state and runs the rules, and returns
its alerts, which a collector thread here emits to the outputs as they come.

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
* **The service around it** is the single-process one (``runner``/``lifecycle``): the same outputs, SIGTERM
  drain (the workers finish what they were sent), SIGUSR1 stats (counters arrive every 0.2 s), metrics. A
  SIGHUP reload sends every worker the rules the monitor loaded (``RulesSpec``: the same texts, rebuilt there)
  between two batches, and changes the kernel's syscall set and prefilter as before.
* The workers' own syscalls are never judged: their records are skipped here (as the probe skips the
  monitor's own thread group).
"""
from __future__ import annotations

import pickle
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any

from syswarden.errors import SourceError
from syswarden.escaping import escape_text
from syswarden.outputs.base import Output
from syswarden.rules.engine import Engine, RuleMatching
from syswarden.rules.ruleset import Ruleset
from syswarden.service.metrics import SampledTimer
from syswarden.service.pipeline import Pipeline, Summary
from syswarden.service.rules_spec import RulesSpec
from syswarden.service.selection import select_events
from syswarden.service.shard_worker import END, FRAME, RECORDS, SWAP, Setup
from syswarden.sources.base import SourceConfig, open_source

# struct ev_hdr (probe.h): tgid at 76, nr (i32) at 104; the ring buffer's own 8-byte header precedes each record
_TGID_NR = struct.Struct("<I24xi")
_TGID_AT = 76
_RING_LEN = struct.Struct("<I")
_RING_HDR, _LEN_MASK = 8, 0x3FFFFFFF
EV_FORK, EV_EXEC, EV_EXIT = -1, -2, -3
START_TIMEOUT_S = 120.0       # a worker imports syswarden and compiles the rules (a shared machine may be slow)
SWAP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0


def shard_of(tgid: int, workers: int) -> int:
    return tgid % workers


def split_batch(chunk: bytes, starts: Iterable[int], workers: int, skip: frozenset[int] = frozenset()
                ) -> list[bytearray]:
    """The records of one ring-buffer batch framed per worker: each record to its thread group's worker; fork,
    exec and exit to every worker, state-only for all but the owner; records of the thread groups in ``skip``
    (the workers themselves) to none."""
    out = [bytearray() for _ in range(workers)]
    unpack, frame = _TGID_NR.unpack_from, FRAME.pack
    for start in starts:
        length = _RING_LEN.unpack_from(chunk, start - _RING_HDR)[0] & _LEN_MASK
        tgid, nr = unpack(chunk, start + _TGID_AT)
        if tgid in skip:
            continue
        record = chunk[start:start + length]
        owner = tgid % workers
        if nr in (EV_FORK, EV_EXEC, EV_EXIT):
            for w in range(workers):
                out[w] += frame(length, w != owner)
                out[w] += record
        else:
            out[owner] += frame(length, 0)
            out[owner] += record
    return out


class ShardedEngine(Engine):
    """The engine as the service sees it: the ruleset in force (banner, metrics, drop report) and ``swap``,
    which the workers follow. It judges nothing itself; ``timer`` sums the workers' sampled rule timings."""

    def __init__(self, ruleset: Ruleset, spec_of: Callable[[Ruleset], RulesSpec], *,
                 rule_matching: RuleMatching = "first", hostname: str | None = None) -> None:
        super().__init__(ruleset, rule_matching=rule_matching, hostname=hostname, exit_only=True)
        self.spec_of = spec_of
        self.rule_matching: RuleMatching = rule_matching
        self.timer = SampledTimer(lambda _event: [])
        self.on_swap: Callable[[RulesSpec, str], None] | None = None

    def swap(self, ruleset: Ruleset, *, rule_matching: RuleMatching | None = None) -> None:
        super().swap(ruleset, rule_matching=rule_matching)
        self.rule_matching = rule_matching or self.rule_matching
        if self.on_swap is not None:
            self.on_swap(self.spec_of(ruleset), self.rule_matching)


class _Worker:
    """One worker process and the monitor's end of its socket."""

    def __init__(self, index: int) -> None:
        ours, theirs = socket.socketpair()
        try:
            self.proc = subprocess.Popen([sys.executable, "-m", "syswarden.service.shard_worker",
                                          str(theirs.fileno())], pass_fds=[theirs.fileno()], process_group=0,
                                         stdin=subprocess.DEVNULL)
        finally:
            theirs.close()
        self.index = index
        self.conn = Connection(ours.detach())
        self.swap_error: str | None = None
        self.swap_round = 0               # the last reload this worker confirmed

    def __str__(self) -> str:
        return f"shard worker {self.index} (pid {self.proc.pid})"

    def stop(self) -> None:
        self.conn.close()
        try:
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class ShardedPipeline(Pipeline):
    """``Pipeline`` for an ``EbpfSource`` with decode, state and rules in ``workers`` processes."""

    def __init__(self, source: Any, engine: ShardedEngine, outputs: Sequence[Output], *, workers: int,
                 selection: SourceConfig | None = None, kernel_filter: bool = True) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        super().__init__(source, engine, outputs, selection=selection, kernel_filter=kernel_filter)
        self.sharded_engine = engine
        self._workers: list[_Worker] = []
        self._swaps: list[tuple[RulesSpec, str]] = []
        self._swap_lock = threading.Lock()
        self._swapped = threading.Condition(self._swap_lock)
        self._swap_round = 0
        self._collector: threading.Thread | None = None
        self._failed: list[str] = []
        try:
            for index in range(workers):
                self._workers.append(_Worker(index))
            spec = engine.spec_of(engine.ruleset)
            setup = pickle.dumps(Setup(spec, engine.rule_matching, engine.hostname,
                                       list(source.initial_threads())))
            for worker in self._workers:
                worker.conn.send_bytes(setup)
        except BaseException:
            self._stop_workers()
            raise
        engine.on_swap = self._request_swap
        self._skip = frozenset(w.proc.pid for w in self._workers)

    # -- running -------------------------------------------------------------------------------------------

    def run(self, limit: int | None = None) -> Summary:
        start = time.monotonic()
        try:
            self._wait_ready()
            self._collector = threading.Thread(target=self._collect, name="syswarden-shards", daemon=True)
            self._collector.start()
            batches = self.source.raw_batches()  # type: ignore[attr-defined]  # the eBPF source's raw records
            try:
                for chunk, starts in batches:
                    self.dispatch(chunk, starts)
            finally:
                batches.close()          # a stop request cut the loop: the source's stream ends here
                self._finish()
        finally:
            self.summary.seconds = time.monotonic() - start
            self._stop_workers()
            self.source.close()
            self.snapshot()
            for out in self.outputs:
                out.close()
        if self._failed:
            raise SourceError("; ".join(self._failed))
        return self.summary

    def dispatch(self, chunk: bytes, starts: list[int]) -> None:
        """Hand one batch to the workers (pending rule swaps first). Named in ``lifecycle._EMITTING``: a stop
        never cuts a message in half."""
        if self._swaps:
            self._send_swaps()
        if self.drop_monitor is not None:
            self.drop_monitor.check(time.time_ns(), self.source.stats)    # once a second: drop actions
        if not starts:
            return
        for worker, data in zip(self._workers, split_batch(chunk, starts, len(self._workers), self._skip)):
            if data:
                self._send(worker, RECORDS + data)

    def _send(self, worker: _Worker, message: bytes) -> None:
        try:
            worker.conn.send_bytes(message)
        except OSError:
            raise SourceError(f"{worker} exited (status {worker.proc.poll()}); the monitor stops") from None

    def _wait_ready(self) -> None:
        for worker in self._workers:
            if not worker.conn.poll(START_TIMEOUT_S):
                raise SourceError(f"{worker} did not start within {START_TIMEOUT_S:.0f} s")
            try:
                reply = pickle.loads(worker.conn.recv_bytes())  # noqa: S301 - our own worker's pipe
            except (EOFError, OSError):
                raise SourceError(f"{worker} exited while starting (status {worker.proc.wait()})") from None
            if reply[0] != "ready":
                raise SourceError(f"{worker} could not start: {escape_text(str(reply[1]))}")

    def _collect(self) -> None:
        """The collector thread: alerts to the outputs as they arrive (each worker's in order), counters, swap
        acknowledgements, until every worker is done."""
        pending = {w.conn: w for w in self._workers}
        summary, timer = self.summary, self.sharded_engine.timer
        while pending:
            for conn in wait(list(pending)):
                worker = pending[conn]   # type: ignore[index]
                try:
                    message = pickle.loads(conn.recv_bytes())  # type: ignore[union-attr]  # noqa: S301 - our worker
                except (EOFError, OSError):
                    del pending[conn]    # type: ignore[arg-type]
                    self._failed.append(f"{worker} exited before the end of the stream")
                    continue
                kind = message[0]
                if kind == "counts":
                    _, alerts, events, state_only, timed, seconds = message
                    if alerts:
                        self._emit(alerts, self.outputs)
                    summary.events += events
                    summary.state_only += state_only
                    timer.count += timed
                    timer.seconds += seconds
                elif kind == "swapped":
                    with self._swap_lock:
                        worker.swap_error = message[1]
                        worker.swap_round += 1      # swaps are sent, and confirmed, in order
                        self._swapped.notify_all()
                elif kind == "done":
                    del pending[conn]    # type: ignore[arg-type]

    def _finish(self) -> None:
        """Tell every worker the stream ended and wait until all their alerts are emitted."""
        for worker in self._workers:
            try:
                worker.conn.send_bytes(END)
            except OSError:
                pass
        if self._collector is not None:
            self._collector.join(STOP_TIMEOUT_S)
            if self._collector.is_alive():
                self._failed.append(f"the shard workers did not finish within {STOP_TIMEOUT_S:.0f} s")
        with self._swap_lock:
            self._swapped.notify_all()

    def _stop_workers(self) -> None:
        for worker in self._workers:
            worker.stop()

    # -- SIGHUP ----------------------------------------------------------------------------------------------

    def _request_swap(self, spec: RulesSpec, rule_matching: str) -> None:
        """From the reload thread: queue the new rules for the main loop and wait until every worker has them
        (warning on stderr when a worker could not build them or did not answer)."""
        with self._swap_lock:
            self._swaps.append((spec, rule_matching))
            self._swap_round += 1
            wanted = self._swap_round
            deadline = time.monotonic() + SWAP_TIMEOUT_S
            while any(w.swap_round < wanted for w in self._workers):
                left = deadline - time.monotonic()
                if left <= 0 or (self._collector is not None and not self._collector.is_alive()):
                    print("syswarden: warning: reload: the shard workers did not all confirm the new rules",
                          file=sys.stderr)
                    return
                self._swapped.wait(left)
            errors = {w.swap_error for w in self._workers if w.swap_error}
        for error in errors:
            print(f"syswarden: warning: reload: a shard worker kept the previous rules: {escape_text(error)}",
                  file=sys.stderr)

    def _send_swaps(self) -> None:
        with self._swap_lock:
            swaps, self._swaps = self._swaps, []
        for spec, rule_matching in swaps:
            message = SWAP + pickle.dumps((spec, rule_matching))
            for worker in self._workers:
                self._send(worker, message)


def open_sharded_pipeline(ruleset: Ruleset, outputs: Iterable[Output], *, workers: int,
                          spec_of: Callable[[Ruleset], RulesSpec], config: SourceConfig | None = None,
                          rule_matching: RuleMatching = "first", hostname: str | None = None,
                          kernel_filter: bool = True) -> ShardedPipeline:
    """``open_pipeline`` for the live eBPF source with ``workers`` worker processes."""
    selection = select_events(config or SourceConfig(), ruleset, kernel_filter=kernel_filter)
    src = open_source("ebpf", selection)
    try:
        engine = ShardedEngine(ruleset, spec_of, rule_matching=rule_matching, hostname=hostname)
        return ShardedPipeline(src, engine, list(outputs), workers=workers, selection=selection,
                               kernel_filter=kernel_filter)
    except BaseException:
        src.close()
        raise


__all__ = ["ShardedEngine", "ShardedPipeline", "open_sharded_pipeline", "shard_of", "split_batch"]
