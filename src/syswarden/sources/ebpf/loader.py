"""The probe's life cycle: build (if needed), load, configure the in-kernel filters, attach, read counters, close.

``Probe`` owns one loaded ``probe.bpf.o``. The in-kernel filters are plain maps, so the syscall set and the
traced process set change at run time without reloading (``set_syscalls``, ``trace_tgid``).
"""
from __future__ import annotations

import struct
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path

from syswarden.errors import KernelError, SourceError
from syswarden.kernel import libbpf
from syswarden.sources.ebpf.decode import SYSCALL_SLOTS

PROBE_DIR = Path(__file__).resolve().parent
PROBE_OBJECT = PROBE_DIR / "probe.bpf.o"
PROGRAMS = ("sys_enter", "sys_exit", "sched_fork", "sched_exec", "sched_exit")
NR_ABIS = 4              # x86_64, i386, x32, i386 socketcall sub-calls (sources.compat.Abi)
MODE_ALL, MODE_TREE, MODE_CGROUP = 0, 1, 2
DEFAULT_RINGBUF_BYTES = 8 * 1024 * 1024
_STATS = struct.Struct("<QQ")


def _is_current() -> bool:
    """The object exists and is newer than its sources (a stale object would disagree with decode.py)."""
    try:
        built = PROBE_OBJECT.stat().st_mtime
        return all((PROBE_DIR / src).stat().st_mtime <= built for src in ("probe.bpf.c", "probe.h"))
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
        raise SourceError(f"cannot build the eBPF probe (expected clang and bpftool; try `make setup`): {detail}") from exc
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


class Probe:
    """One loaded, configured probe. Use as a context manager; ``close()`` detaches every link and frees it."""

    def __init__(self, *, ringbuf_bytes: int = DEFAULT_RINGBUF_BYTES) -> None:
        self.obj = libbpf.BpfObject(str(build_probe()))
        try:
            self.ncpus = libbpf.possible_cpus()
            self.ringbuf_bytes = ringbuf_size(ringbuf_bytes)
            self.obj.set_max_entries("rb", self.ringbuf_bytes)
            self.obj.set_max_entries("scratch", self.ncpus)
            self.obj.load()
        except BaseException:
            self.obj.close()
            raise
        self._fds = {name: self.obj.map_fd(name) for name in ("rb", "syscalls", "settings", "traced", "stats")}
        self._specs: dict[int, int] = {}

    def __enter__(self) -> "Probe":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def ringbuf_fd(self) -> int:
        return self._fds["rb"]

    def configure(self, *, mode: int, self_tgid: int, cgroup_id: int = 0) -> None:
        """Set the target filter: everything, the traced process trees, or one cgroup; never ``self_tgid``."""
        libbpf.map_update(self._fds["settings"], struct.pack("<I", 0), struct.pack("<IIQ", mode, self_tgid, cgroup_id))

    def set_syscalls(self, specs: Mapping[int, int]) -> None:
        """Replace the interesting-syscall table: key -> spec word (see probe.h), where the key is the x86_64
        number, or ``syscall_key(abi, nr)`` for the other ABIs. Live, no reload."""
        fd = self._fds["syscalls"]
        for key in set(self._specs) - set(specs):
            libbpf.map_update(fd, struct.pack("<I", key), struct.pack("<I", 0))
        for key, spec in specs.items():
            if not 0 <= key < NR_ABIS * SYSCALL_SLOTS:
                continue
            libbpf.map_update(fd, struct.pack("<I", key), struct.pack("<I", spec))
        self._specs = dict(specs)

    def trace_tgids(self, tgids: Iterable[int]) -> None:
        """Mark processes as targets in tree mode (their children are marked by the probe on fork)."""
        for tgid in tgids:
            libbpf.map_update(self._fds["traced"], struct.pack("<I", tgid), struct.pack("<I", 1))

    def attach(self) -> None:
        """Attach every program; on failure the ones already attached are detached again."""
        try:
            for name in PROGRAMS:
                self.obj.attach(name)
        except BaseException:
            self.obj.detach_all()
            raise

    def counters(self) -> dict[int, tuple[int, int]]:
        """Per CPU: (events written, events dropped because the ring buffer was full)."""
        raw = libbpf.map_lookup(self._fds["stats"], struct.pack("<I", 0), _STATS.size * self.ncpus)
        if raw is None:
            raise KernelError("cannot read the probe's drop counters")
        return {cpu: _STATS.unpack_from(raw, cpu * _STATS.size) for cpu in range(self.ncpus)}

    def close(self) -> None:
        self.obj.close()
