"""The probe's life cycle: build (if needed), load, configure the in-kernel filters, attach, read counters, close.

``Probe`` owns one loaded ``probe.bpf.o``. The in-kernel filters are plain maps, so the syscall set, the
traced process set and the prefilter change at run time without reloading (``set_syscalls``, ``trace_tgids``,
``set_filter``). A new prefilter is written as the other generation, then made current by one settings
update, then the old generation is deleted: an event is always decided by one complete table set.
"""
from __future__ import annotations

import struct
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from syswarden.errors import KernelError, SourceError
from syswarden.kernel import libbpf
from syswarden.sources.ebpf.decode import SYSCALL_SLOTS
from syswarden.sources.ebpf.kernel_tables import MAX_TYPES, KernelTables, id_value

PROBE_DIR = Path(__file__).resolve().parent
PROBE_OBJECT = PROBE_DIR / "probe.bpf.o"
PROBE_SOURCES = ("probe.bpf.c", "probe.h", "probe_common.h", "probe_paths.h", "probe_prefilter.h",
                 "probe_exec.h")
PROGRAMS = ("sys_enter", "sys_exit", "sched_fork", "sched_exec", "sched_exit")
NR_ABIS = 4              # x86_64, i386, x32, i386 socketcall sub-calls (sources.compat.Abi)
MODE_ALL, MODE_TREE, MODE_CGROUP = 0, 1, 2
DEFAULT_RINGBUF_BYTES = 8 * 1024 * 1024
SPEC_ENTRY = 1 << 29
NR_REASONS = 9           # probe.h R_* (kernel_tables.REASONS)
GRACE_S = 0.05           # before deleting a replaced generation: programs that read the old index finish
_SETTINGS = struct.Struct("<IIQIII4x")
_COUNTERS = struct.Struct("<QQQQ")
_MAPS = ("rb", "syscalls", "types", "settings", "traced", "counters", "reasons", "pf_types", "pf_paths", "pf_ids",
         "comms")


def _is_current() -> bool:
    """The object exists and is newer than its sources (a stale object would disagree with decode.py)."""
    try:
        built = PROBE_OBJECT.stat().st_mtime
        return all((PROBE_DIR / src).stat().st_mtime <= built for src in PROBE_SOURCES)
    except FileNotFoundError:
        return PROBE_OBJECT.exists()


def build_probe() -> Path:
    """Compile the probe against the running kernel's BTF when the object is missing or older than its
    sources (``make`` in its dir)."""
    if _is_current():
        return PROBE_OBJECT
    try:
        subprocess.run(["make", "-s", "-C", str(PROBE_DIR)], check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        raise SourceError(
            f"cannot build the eBPF probe (expected clang and bpftool; try `make setup`): {detail}") from exc
    return PROBE_OBJECT


def syscall_key(abi: int, nr: int) -> int:
    """The `syscalls` map key of number ``nr`` of ABI ``abi`` (x32 numbers without X32_SYSCALL_BIT)."""
    return abi * SYSCALL_SLOTS + nr


def ringbuf_size(requested: int) -> int:
    """The ring buffer size the kernel accepts: a power of two, at least one page."""
    size = 4096
    while size < requested:
        size *= 2
    return size


@dataclass(frozen=True, slots=True)
class Settings:
    """The probe's `settings` (struct probe_config)."""

    mode: int = MODE_ALL
    self_tgid: int = 0
    cgroup_id: int = 0
    filter_on: bool = False      # apply the prefilter and the known-file test
    generation: int = 0          # which prefilter tables are in force
    startup: bool = False        # every close/dup counts as known (before the open files are marked)


@dataclass(frozen=True, slots=True)
class TypeCounts:
    """One event type's counters on one CPU."""

    offered: int
    filtered: int
    sent: int
    dropped: int


class Probe:
    """One loaded, configured probe. Use as a context manager; ``close()`` detaches every link and frees it."""

    def __init__(self, *, ringbuf_bytes: int = DEFAULT_RINGBUF_BYTES) -> None:
        self.obj = libbpf.BpfObject(str(build_probe()))
        try:
            self.ncpus = libbpf.possible_cpus()
            self.ringbuf_bytes = ringbuf_size(ringbuf_bytes)
            self.obj.set_max_entries("rb", self.ringbuf_bytes)
            self.obj.set_max_entries("scratch", self.ncpus)
            self.obj.set_max_entries("work", self.ncpus)
            self.obj.load()
        except BaseException:
            self.obj.close()
            raise
        self._fds = {name: self.obj.map_fd(name) for name in _MAPS}
        self._specs: dict[int, tuple[int, int]] = {}
        self.settings = Settings()
        self._tables: KernelTables | None = None

    def __enter__(self) -> "Probe":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def ringbuf_fd(self) -> int:
        return self._fds["rb"]

    def configure(self, **changes: object) -> None:
        """Update the settings (``Settings`` fields): the target filter (everything, the traced process
        trees, or one cgroup; never ``self_tgid``), the filter switch, its generation, start-up."""
        s = self.settings = replace(self.settings, **changes)   # type: ignore[arg-type]
        value = _SETTINGS.pack(s.mode, s.self_tgid, s.cgroup_id, int(s.filter_on), s.generation, int(s.startup))
        libbpf.map_update(self._fds["settings"], struct.pack("<I", 0), value)

    def set_syscalls(self, specs: Mapping[int, tuple[int, int]]) -> None:
        """Replace the interesting-syscall table: key -> (spec word, event type index), where the key is
        ``syscall_key(abi, nr)``. Live, no reload."""
        fd = self._fds["syscalls"]
        for key in set(self._specs) - set(specs):
            libbpf.map_update(fd, struct.pack("<I", key), struct.pack("<II", 0, 0))
        for key, (word, type_index) in specs.items():
            if 0 <= key < NR_ABIS * SYSCALL_SLOTS:
                libbpf.map_update(fd, struct.pack("<I", key), struct.pack("<II", word, type_index))
        self._specs = dict(specs)

    def set_types(self, infos: Mapping[int, bytes]) -> None:
        """What the probe knows of each event type (``kernel_tables.type_info``)."""
        for index, info in infos.items():
            libbpf.map_update(self._fds["types"], struct.pack("<I", index), info)

    def set_filter(self, tables: KernelTables, generation: int) -> None:
        """Install ``tables`` (compiled for ``generation``), make them current, then remove the previous
        generation's keys once no program can still be using them."""
        for key, mask in tables.paths.items():
            libbpf.map_update(self._fds["pf_paths"], key, struct.pack("<Q", mask))
        for key, pair in tables.ids.items():
            libbpf.map_update(self._fds["pf_ids"], key, id_value(pair))
        empty = bytes(len(next(iter(tables.types.values()), b"")))
        for index in range(MAX_TYPES):
            value = tables.types.get(index, empty)
            if value:
                libbpf.map_update(self._fds["pf_types"], struct.pack("<I", generation * MAX_TYPES + index), value)
        old = self._tables
        self.configure(generation=generation)
        self._tables = tables
        if old is not None and old is not tables:
            time.sleep(GRACE_S)
            for key in set(old.paths) - set(tables.paths):
                libbpf.map_delete(self._fds["pf_paths"], key)
            for key in set(old.ids) - set(tables.ids):
                libbpf.map_delete(self._fds["pf_ids"], key)

    def trace_tgids(self, tgids: Iterable[int]) -> None:
        """Mark processes as targets in tree mode (their children are marked by the probe on fork)."""
        for tgid in tgids:
            libbpf.map_update(self._fds["traced"], struct.pack("<I", tgid), struct.pack("<I", 1))

    def seed_comms(self, comms: Iterable[tuple[int, str]]) -> None:
        """The comm state holds for threads that predate the probe (kept if the probe already set one)."""
        fd = self._fds["comms"]
        for tid, comm in comms:
            raw = comm.encode("utf-8", "surrogateescape")[:15]
            libbpf.map_update(fd, struct.pack("<I", tid), raw.ljust(16, b"\0"), libbpf.BPF_NOEXIST)

    def mark_open_files(self) -> None:
        """Record every file open in any process now as known (user space may have it from /proc)."""
        self.obj.run_iterator("mark_files")

    def attach(self) -> None:
        """Attach every program; on failure the ones already attached are detached again (no program is
        optional: a probe missing one would silently miss events)."""
        try:
            for name in PROGRAMS:
                self.obj.attach(name)
        except BaseException:
            self.obj.detach_all()
            raise

    def type_counters(self) -> dict[int, dict[int, TypeCounts]]:
        """Per CPU, per event type index (only types with a non-zero counter): offered, filtered, sent,
        dropped."""
        size = _COUNTERS.size
        out: dict[int, dict[int, TypeCounts]] = {cpu: {} for cpu in range(self.ncpus)}
        for index in range(MAX_TYPES):
            raw = libbpf.map_lookup(self._fds["counters"], struct.pack("<I", index), size * self.ncpus)
            if raw is None:
                raise KernelError("cannot read the probe's event counters")
            for cpu in range(self.ncpus):
                values = _COUNTERS.unpack_from(raw, cpu * size)
                if any(values):
                    out[cpu][index] = TypeCounts(*values)
        return out

    def reasons(self) -> dict[int, int]:
        """Reason index (probe.h R_*) -> times the probe sent an event because it could not decide."""
        totals = {}
        for reason in range(NR_REASONS):
            raw = libbpf.map_lookup(self._fds["reasons"], struct.pack("<I", reason), 8 * self.ncpus)
            if raw is None:
                raise KernelError("cannot read the probe's fail-open counters")
            totals[reason] = sum(struct.unpack(f"<{self.ncpus}Q", raw))
        return totals

    def counters(self) -> dict[int, tuple[int, int]]:
        """Per CPU: (events written, events dropped because the ring buffer was full)."""
        per_cpu = self.type_counters()
        return {cpu: (sum(c.sent for c in types.values()), sum(c.dropped for c in types.values()))
                for cpu, types in per_cpu.items()}

    def close(self) -> None:
        self.obj.close()
