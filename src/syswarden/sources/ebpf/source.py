"""``EbpfSource``: live events of the whole system, a cgroup, or process trees, from the CO-RE probe.

With ``config.pids`` the stream follows those processes and their descendants and ends when all have exited.

Filters run in the kernel: the syscall set, the target processes, never syswarden itself, and, with
``config.prefilter``, the rules-derived prefilter plus state's needs (``kernel_tables``). Records are read from
the ring buffer in batches and decoded in Python. The probe's per-CPU, per-type counters (offered, filtered,
sent, dropped) are polled every second into ``stats``; new drops are reported on stderr, and once more at close.
With ``config.command`` the command is started only after the probe is attached and the stream ends when its
process tree has exited.

I/O buffers (``data``) are read in the kernel for ``config.buffer_types`` only, ``config.snaplen`` bytes at most.

Options (``SourceConfig.options``): ``ringbuf_bytes`` (default 8 MiB), ``cgroup`` (a cgroup v2 directory to
watch instead of the whole system), ``drop_report`` (``stderr`` or ``none``).
"""
from __future__ import annotations

import os
import struct
import sys
import time
from collections.abc import Iterator

from syswarden.errors import SourceError
from syswarden.events.event import Event, ThreadInfo
from syswarden.events.prefilter import Prefilter
from syswarden.sources.base import SourceConfig, SourceStats
from syswarden.sources.compat import Abi, numbers_for
from syswarden.sources.ebpf.decode import Decoder
from syswarden.sources.ebpf.kernel_tables import (KernelTables, compile_filter, counter_types, delivered_types,
                                                  effective_prefilter, needs_entry, type_indices, type_info)
from syswarden.sources.ebpf.loader import MODE_ALL, MODE_CGROUP, MODE_TREE, SPEC_ENTRY, Probe, syscall_key
from syswarden.sources.ebpf.ringbuf import RingBuffer
from syswarden.sources.syscall_decode import SPECS, syscall_names_for
from syswarden.sources.targets import GatedCommand, descendants, seed_threads

_COUNTER_PERIOD_S = 1.0
_TID_TGID, _NR = struct.Struct("<II"), struct.Struct("<i")     # struct ev_hdr: tid at 72, nr at 104


class EbpfSource:
    """The eBPF source. Construct, iterate ``events()``, and always ``close()`` (or use ``with``)."""

    def __init__(self, config: SourceConfig) -> None:
        self.config = config
        self.stats = SourceStats()
        self._child: GatedCommand | None = None
        self._ring: RingBuffer | None = None
        self._decoder = Decoder()
        self._live: set[int] = set()
        self._seed: list[ThreadInfo] = []
        self._reported_drops = 0
        self._wanted: frozenset[str] | None = config.event_types
        self._prefilter = effective_prefilter(config.prefilter)
        self.tables: KernelTables | None = None
        if not can_load_bpf():
            raise SourceError("the eBPF source needs root (CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN); "
                              "run as root, or trace one command without it: --source ptrace -- CMD")
        opts = config.options
        self._probe = Probe(ringbuf_bytes=int(opts.get("ringbuf_bytes", 8 * 1024 * 1024)))
        try:
            self._start(opts)
        except BaseException:
            self.close()
            raise

    def _start(self, opts: dict[str, str]) -> None:
        cfg, probe = self.config, self._probe
        cgroup = opts.get("cgroup")
        mode = MODE_CGROUP if cgroup else MODE_TREE if (cfg.command or cfg.pids) else MODE_ALL
        filtering = self._prefilter is not None
        # until the files open now are marked known, every close/dup is sent (start-up)
        probe.configure(mode=mode, self_tgid=os.getpid() if cfg.exclude_self else 0,
                        cgroup_id=os.stat(cgroup).st_ino if cgroup else 0, filter_on=filtering, startup=filtering)
        self.set_buffer_types(cfg.buffer_types)
        self.set_event_types(cfg.event_types)
        if cfg.pids:
            probe.trace_tgids(descendants(cfg.pids))
            self._live.update(descendants(cfg.pids))
        gate = None
        if cfg.command:
            gate = GatedCommand(cfg.command)
            self._child = gate
            probe.trace_tgids([gate.pid])
            self._live.add(gate.pid)
        try:
            probe.attach()
            self._ring = RingBuffer(probe.ringbuf_fd, probe.ringbuf_bytes)
        except BaseException:
            if gate is not None:
                gate.abandon()
            raise
        # the snapshot is taken after the probe is attached (nothing falls between the two) and before the
        # command is released: read later, /proc would show it already exec'd, or gone, and its parent, cwd
        # and the files it inherited would be missing from the recording's thread table
        self._seed = list(seed_threads())
        if filtering:
            # the filter compares the comm state holds (the exec-time one): the seeded threads' is /proc's
            probe.seed_comms((t.tid, t.comm) for t in self._seed if t.comm)
            probe.mark_open_files()
            probe.configure(startup=False)
        if gate is not None:
            gate.release()

    def set_event_types(self, event_types: frozenset[str] | None) -> None:
        """Change the captured syscall set in the kernel to ``event_types`` (None: all), as given. No reload."""
        self._wanted = event_types
        delivered = delivered_types(event_types)
        index = type_indices()
        names = syscall_names_for(delivered)
        # every ABI a task can call through gets its own keys, so an i386 `open` is as wanted as an x86_64 one
        specs = {syscall_key(abi, nr): (SPECS[call.name].word | (SPEC_ENTRY if needs_entry(call.name) else 0),
                                        index[call.name])
                 for abi in Abi for nr, call in numbers_for(abi, names).items()}
        self._probe.set_syscalls(specs)
        self._install_filter(delivered)

    def set_buffer_types(self, buffer_types: frozenset[str]) -> None:
        """Capture the I/O buffer (``config.snaplen`` bytes) of these event types only (a map update)."""
        snaplen = self.config.snaplen
        self._probe.set_types({index: type_info(name, snaplen if name in buffer_types else 0)
                               for name, index in type_indices().items()})

    def set_prefilter(self, prefilter: Prefilter | None) -> None:
        """Replace the prefilter (rules reloaded): the other generation is written, then made current."""
        self._prefilter = prefilter = effective_prefilter(prefilter)
        if prefilter is not None and not self._probe.settings.filter_on:
            # switching on: the known-file set starts now, so mark what is open first
            self._probe.configure(startup=True, filter_on=True)
            self._install_filter(delivered_types(self._wanted))
            self._probe.mark_open_files()
            self._probe.configure(startup=False)
            return
        self._install_filter(delivered_types(self._wanted))
        if prefilter is None:
            self._probe.configure(filter_on=False)

    def _install_filter(self, delivered: frozenset[str]) -> None:
        generation = 1 - self._probe.settings.generation if self.tables is not None else 0
        self.tables = compile_filter(self._prefilter, delivered, generation)
        self._probe.set_filter(self.tables, generation)

    @property
    def prefilter(self) -> Prefilter | None:
        """The prefilter the probe implements (``Prefilter.passes`` is its reference)."""
        return self._prefilter

    def initial_threads(self) -> Iterator[ThreadInfo]:
        """Every process alive when the probe was attached, from /proc (the command still before its exec)."""
        return iter(self._seed)

    def events(self) -> Iterator[Event]:
        """Decoded events until the command's tree exits (or forever when watching the system)."""
        assert self._ring is not None
        next_counters = time.monotonic() + _COUNTER_PERIOD_S
        ring, decode, stats = self._ring, self._decoder.decode, self.stats
        try:
            while True:
                ring.wait(100)
                # one copy per batch; records are decoded in place from it
                chunk, starts = ring.read_chunk()
                for start in starts:
                    event = decode(chunk, start)
                    if event is not None:
                        stats.events += 1
                        yield event
                self._track()
                if time.monotonic() >= next_counters:
                    next_counters = time.monotonic() + _COUNTER_PERIOD_S
                    self.poll_counters()
                if self._finished():
                    break
            yield from self._drain_after_exit()
        except BaseException:
            self.close()
            raise

    def raw_batches(self) -> Iterator[tuple[bytes, list[int]]]:
        """The ring buffer's batches undecoded, ``(chunk, record starts)``, for callers that decode elsewhere
        (``service/shards``), with the same end and counters as ``events``. An idle wait (100 ms) yields an
        empty batch, so the caller can act between batches (a stop request, a rules swap) on an idle host."""
        assert self._ring is not None
        next_counters = time.monotonic() + _COUNTER_PERIOD_S
        ring, follow = self._ring, bool(self.config.command or self.config.pids)
        try:
            while True:
                ring.wait(100)
                chunk, starts = ring.read_chunk()
                if starts:
                    self.stats.events += len(starts)
                    if follow:
                        self._track_raw(chunk, starts)
                yield chunk, starts
                if time.monotonic() >= next_counters:
                    next_counters = time.monotonic() + _COUNTER_PERIOD_S
                    self.poll_counters()
                if self._finished():
                    break
            while True:
                chunk, starts = ring.read_chunk()
                if not starts:
                    break
                self.stats.events += len(starts)
                yield chunk, starts
            self.poll_counters()
        except BaseException:
            self.close()
            raise

    def _track_raw(self, chunk: bytes, starts: list[int]) -> None:
        """``_track`` from the records' headers: a process started (its first task forked) or ended."""
        for start in starts:
            tid, tgid = _TID_TGID.unpack_from(chunk, start + 72)
            nr = _NR.unpack_from(chunk, start + 104)[0]
            if nr == -1 and tid == tgid:
                self._live.add(tgid)
            elif nr == -3 and _NR.unpack_from(chunk, start + 16)[0]:
                self._live.discard(tgid)

    def _drain_after_exit(self) -> Iterator[Event]:
        """Events written before the last exit may still sit in the buffer: read them until it is empty."""
        assert self._ring is not None
        while True:
            chunk, starts = self._ring.read_chunk()
            if not starts:
                break
            for start in starts:
                event = self._decoder.decode(chunk, start)
                if event is not None:
                    self.stats.events += 1
                    yield event
        self.poll_counters()

    def _track(self) -> None:
        """Follow the set of live processes of the watched trees (new ones first, then the exits)."""
        dec = self._decoder
        if self.config.command or self.config.pids:
            self._live.update(dec.started)
            self._live.difference_update(dec.ended)
        dec.started.clear()
        dec.ended.clear()

    def _finished(self) -> bool:
        """The command (or the followed pids) and every descendant have exited; never when watching all."""
        if self._child is not None and self._child.poll() is None:
            return False
        if self._child is None and not self.config.pids:
            return False
        # A process whose exit record was dropped must not keep the stream open forever.
        self._live = {p for p in self._live if os.path.exists(f"/proc/{p}")}
        return not self._live

    @property
    def exit_code(self) -> int | None:
        """The started command's exit status (None while it runs or without a command)."""
        return None if self._child is None else self._child.returncode

    def kernel_counters(self) -> dict[str, tuple[int, int, int, int]]:
        """Event type -> (offered, filtered, sent, dropped), summed over CPUs, from the probe."""
        names = counter_types()
        totals: dict[str, list[int]] = {}
        for per_type in self._probe.type_counters().values():
            for index, c in per_type.items():
                row = totals.setdefault(names.get(index, f"type{index}"), [0, 0, 0, 0])
                for i, v in enumerate((c.offered, c.filtered, c.sent, c.dropped)):
                    row[i] += v
        return {name: (r[0], r[1], r[2], r[3]) for name, r in totals.items()}

    def fail_open_counts(self) -> dict[int, int]:
        """Reason index (``kernel_tables.REASONS``) -> events sent because the probe could not decide."""
        return self._probe.reasons()

    def poll_counters(self) -> None:
        """Refresh the counters from the probe; new drops are reported on stderr (never silent)."""
        names = counter_types()
        per_cpu = self._probe.type_counters()
        stats = self.stats
        stats.drops_per_cpu, stats.drops_per_type = {}, {}
        stats.offered = stats.filtered = 0
        for cpu, per_type in per_cpu.items():
            for index, c in per_type.items():
                stats.offered += c.offered
                stats.filtered += c.filtered
                if c.dropped:
                    stats.drops_per_cpu[cpu] = stats.drops_per_cpu.get(cpu, 0) + c.dropped
                    name = names.get(index, f"type{index}")
                    stats.drops_per_type[name] = stats.drops_per_type.get(name, 0) + c.dropped
        stats.drops = sum(stats.drops_per_cpu.values())
        if stats.drops > self._reported_drops:
            if self.config.options.get("drop_report", "stderr") == "stderr":
                per_cpu_text = " ".join(f"cpu{c}={n}" for c, n in sorted(stats.drops_per_cpu.items()))
                per_type_text = " ".join(f"{t}={n}" for t, n in sorted(stats.drops_per_type.items(),
                                                                         key=lambda kv: -kv[1]))
                print(f"syswarden: ebpf: {stats.drops - self._reported_drops} events dropped "
                      f"(ring buffer full; total {stats.drops}: {per_cpu_text}; {per_type_text})", file=sys.stderr)
            self._reported_drops = stats.drops

    def close(self) -> None:
        """Detach every link, unmap the ring buffer, free the probe, stop a still-running command."""
        if self._child is not None and self._child.poll() is None:
            self._child.kill()
            self._child.wait()
        try:
            if self._ring is not None and self._probe.obj._ptr:
                self.poll_counters()
        finally:
            if self._ring is not None:
                self._ring.close()
                self._ring = None
            self._probe.close()

    def __enter__(self) -> "EbpfSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_CAP_SYS_ADMIN, _CAP_PERFMON, _CAP_BPF = 21, 38, 39


def can_load_bpf() -> bool:
    """Whether this process's effective capabilities allow loading and attaching tracing programs."""
    try:
        with open("/proc/self/status") as f:
            eff = next((int(line.split()[1], 16) for line in f if line.startswith("CapEff:")), 0)
    except OSError:
        return os.geteuid() == 0
    return bool(eff >> _CAP_SYS_ADMIN & 1) or bool(eff >> _CAP_BPF & 1 and eff >> _CAP_PERFMON & 1)
