"""The syscall census (``census.bpf.c``): counts of every syscall of the traced process trees per ABI, counted in
the kernel, plus the distinct values of the arguments user space asks for. Used by ``syswarden record --backend
ebpf``; independent of the auditing probe (``probe.bpf.c``, ``loader.py``).

Life cycle: ``Census()`` loads the object, ``want_args`` fills its spec map, ``trace_after_exec(tgid)`` marks the
command, ``attach()`` starts counting; after the tree has exited ``counts()`` and ``arg_values()`` read the maps.
``close()`` detaches everything.
"""
from __future__ import annotations

import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

from syswarden.errors import SourceError
from syswarden.kernel import libbpf

CENSUS_DIR = Path(__file__).resolve().parent
CENSUS_OBJECT = CENSUS_DIR / "census.bpf.o"
SLOTS = 1024
ABI_X64, ABI_I386, ABI_X32, ABI_SOCKETCALL = 0, 1, 2, 3
NR_ABIS = 4
PROGRAMS = ("census_enter", "census_exit", "census_fork", "census_exec", "census_exit_task")
_COUNTS = struct.Struct("<QQ")
_ARGKEY = struct.Struct("<IIQQ")


def build_census() -> Path:
    """Compile the census against the running kernel's BTF when the object is missing or older than its source."""
    source = CENSUS_DIR / "census.bpf.c"
    if CENSUS_OBJECT.exists() and (not source.exists() or source.stat().st_mtime <= CENSUS_OBJECT.stat().st_mtime):
        return CENSUS_OBJECT
    try:
        subprocess.run(["make", "-s", "-C", str(CENSUS_DIR), "census.bpf.o"], check=True, capture_output=True,
                       text=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        raise SourceError(f"cannot build the eBPF syscall census (expected clang and bpftool; try `make setup`): "
                          f"{detail}") from exc
    return CENSUS_OBJECT


class Census:
    """One loaded census. Use as a context manager; ``close()`` detaches every link and frees the object."""

    def __init__(self) -> None:
        self.obj = libbpf.BpfObject(str(build_census()))
        try:
            self.ncpus = libbpf.possible_cpus()
            self.obj.load()
        except BaseException:
            self.obj.close()
            raise
        self._fds = {name: self.obj.map_fd(name) for name in ("counts", "argspec", "argvals", "traced", "lost",
                                                               "armed")}
        self._specs: dict[int, int] = {}

    def __enter__(self) -> "Census":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _spec(self, key: int, bits: int) -> None:
        self._specs[key] = self._specs.get(key, 0) | bits
        libbpf.map_update(self._fds["argspec"], struct.pack("<I", key), struct.pack("<I", self._specs[key]))

    def want_args(self, abi: int, nr: int, indexes: tuple[int, ...]) -> None:
        """Keep the distinct values of these argument indexes (at most two) of number ``nr`` of ``abi``."""
        if len(indexes) > 2 or not 0 <= nr < SLOTS:
            raise ValueError(f"the census keeps at most two arguments of numbers below {SLOTS}")
        self._spec(abi * SLOTS + nr, sum(1 << i for i in indexes))

    def trace_after_exec(self, tgid: int) -> None:
        """Count this process from its next exec on (its children are added by the census as they are forked)."""
        libbpf.map_update(self._fds["armed"], struct.pack("<I", tgid), struct.pack("<I", 1))

    def traced(self) -> list[int]:
        """The traced processes that have not exited yet."""
        return [struct.unpack("<I", raw)[0] for raw in libbpf.map_keys(self._fds["traced"], 4)]

    def attach(self) -> None:
        """Start counting."""
        self.obj.attach_all(PROGRAMS)

    def detach(self) -> None:
        """Stop counting (the maps stay readable until ``close()``)."""
        self.obj.detach_all()

    def counts(self) -> dict[tuple[int, int], tuple[int, int]]:
        """(abi, nr) -> (calls, failures), summed over CPUs; only numbers that were called."""
        out = {}
        size = _COUNTS.size * self.ncpus
        raw = libbpf.array_values(self._fds["counts"], NR_ABIS * SLOTS, size)
        for key in range(NR_ABIS * SLOTS):
            calls = errors = 0
            for cpu in range(self.ncpus):
                c, e = _COUNTS.unpack_from(raw, key * size + cpu * _COUNTS.size)
                calls, errors = calls + c, errors + e
            if calls or errors:
                out[(key // SLOTS, key % SLOTS)] = (calls, errors)
        return out

    def arg_values(self) -> Iterator[tuple[int, int, tuple[int, int]]]:
        """(abi, nr, (value of the lower wanted index, value of the higher)) for every distinct pair seen."""
        for raw in libbpf.map_keys(self._fds["argvals"], _ARGKEY.size):
            key, _, v0, v1 = _ARGKEY.unpack(raw)
            yield key // SLOTS, key % SLOTS, (v0, v1)

    def lost(self) -> int:
        """Argument values that did not fit the map, summed over CPUs."""
        raw = libbpf.map_lookup(self._fds["lost"], struct.pack("<I", 0), 8 * self.ncpus) or b""
        return sum(struct.unpack(f"<{len(raw) // 8}Q", raw))

    def close(self) -> None:
        self.obj.close()
