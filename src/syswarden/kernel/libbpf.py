"""ctypes binding of ``libbpf.so.1``: open and load a BPF object, size and update its maps, attach its programs,
destroy links. The only module that calls libbpf; ``sources/ebpf/loader.py`` builds on it.

libbpf 1.x returns NULL or a negative errno and sets ``errno``; every failure becomes a ``KernelError`` carrying
the libbpf log lines collected while the call ran (the verifier log on a failed load).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os

from syswarden.errors import KernelError

_PRINT_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)
_LOG: list[str] = []
_LIB: ctypes.CDLL | None = None
_LIBC = ctypes.CDLL(None, use_errno=True)
_LIBC.vsnprintf.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_void_p]


def _collect(level: int, fmt: bytes, args: int) -> int:
    # One callback for libbpf's own diagnostics (not per event): keep them for the error message.
    buf = ctypes.create_string_buffer(4096)
    _LIBC.vsnprintf(buf, len(buf), fmt, args)
    _LOG.append(buf.value.decode(errors="replace"))
    del _LOG[:-200]
    return 0


_COLLECT = _PRINT_FN(_collect)   # kept referenced: libbpf holds the pointer for the process lifetime


def _declare(lib: ctypes.CDLL) -> None:
    vp, cp, i, u32 = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_uint32
    sigs: dict[str, tuple[list[object], object]] = {
        "bpf_object__open_file": ([cp, vp], vp),
        "bpf_object__load": ([vp], i),
        "bpf_object__close": ([vp], None),
        "bpf_object__find_map_by_name": ([vp, cp], vp),
        "bpf_object__find_program_by_name": ([vp, cp], vp),
        "bpf_map__set_max_entries": ([vp, u32], i),
        "bpf_map__fd": ([vp], i),
        "bpf_program__attach": ([vp], vp),
        "bpf_program__set_autoload": ([vp, ctypes.c_bool], i),
        "bpf_link__destroy": ([vp], i),
        "bpf_link__fd": ([vp], i),
        "bpf_map_update_elem": ([i, vp, vp, ctypes.c_uint64], i),
        "bpf_map_lookup_elem": ([i, vp, vp], i),
        "bpf_map_delete_elem": ([i, vp], i),
        "bpf_map_get_next_key": ([i, vp, vp], i),
        "bpf_map_lookup_batch": ([i, vp, vp, vp, vp, ctypes.POINTER(u32), vp], i),
        "bpf_program__attach_iter": ([vp, vp], vp),
        "bpf_iter_create": ([i], i),
        "libbpf_num_possible_cpus": ([], i),
        "libbpf_set_print": ([_PRINT_FN], vp),
    }
    for name, (args, res) in sigs.items():
        fn = getattr(lib, name)
        fn.argtypes = args
        fn.restype = res


def lib() -> ctypes.CDLL:
    """The loaded libbpf, with its log routed to syswarden (raises KernelError if libbpf is missing)."""
    global _LIB
    if _LIB is None:
        path = ctypes.util.find_library("bpf") or "libbpf.so.1"
        try:
            loaded = ctypes.CDLL(path, use_errno=True)
        except OSError as exc:
            raise KernelError(f"cannot load libbpf ({path}): {exc}; expected the libbpf1 package") from exc
        _declare(loaded)
        loaded.libbpf_set_print(_COLLECT)
        _LIB = loaded
    return _LIB


def _fail(what: str, err: int) -> KernelError:
    tail = "\n".join(line.rstrip() for line in _LOG[-25:])
    message = f"{what} failed: {os.strerror(err) if err else 'unknown error'}"
    return KernelError(message + (f"\nlibbpf said:\n{tail}" if tail else ""))


class BpfObject:
    """A BPF object file: open, size maps, load, look up maps and programs. ``close()`` frees everything."""

    def __init__(self, path: str) -> None:
        _LOG.clear()
        self._ptr = lib().bpf_object__open_file(path.encode(), None)
        if not self._ptr:
            raise _fail(f"opening BPF object {path!r}", ctypes.get_errno())
        self.path = path
        self._links: list[int] = []

    def _map(self, name: str) -> int:
        ptr = lib().bpf_object__find_map_by_name(self._ptr, name.encode())
        if not ptr:
            raise KernelError(f"BPF object {self.path!r} has no map {name!r}")
        return int(ptr)

    def set_max_entries(self, map_name: str, entries: int) -> None:
        """Resize a map before ``load()`` (ring buffer bytes, per-CPU scratch slots)."""
        rc = lib().bpf_map__set_max_entries(self._map(map_name), entries)
        if rc < 0:
            raise _fail(f"resizing map {map_name!r} to {entries}", -rc)

    def load(self) -> None:
        """Verify and load every program (CO-RE relocations are applied against the kernel's BTF)."""
        _LOG.clear()
        rc = lib().bpf_object__load(self._ptr)
        if rc < 0:
            raise _fail(f"loading BPF object {self.path!r}", -rc)

    def map_fd(self, map_name: str) -> int:
        fd = int(lib().bpf_map__fd(self._map(map_name)))
        if fd < 0:
            raise KernelError(f"map {map_name!r} has no fd (object not loaded?)")
        return fd

    def attach(self, program: str) -> int:
        """Attach a program by its section-derived defaults; returns the link's fd. Links are kept for close()."""
        prog = lib().bpf_object__find_program_by_name(self._ptr, program.encode())
        if not prog:
            raise KernelError(f"BPF object {self.path!r} has no program {program!r}")
        _LOG.clear()
        link = lib().bpf_program__attach(prog)
        if not link:
            raise _fail(f"attaching program {program!r}", ctypes.get_errno())
        self._links.append(int(link))
        return int(lib().bpf_link__fd(link))

    def attach_all(self, programs: tuple[str, ...]) -> None:
        """Attach these programs; on failure the ones already attached are detached again."""
        try:
            for name in programs:
                self.attach(name)
        except BaseException:
            self.detach_all()
            raise

    def run_iterator(self, program: str) -> None:
        """Attach an iterator program (``SEC("iter/...")``), read it to the end (which runs it over every
        object it iterates), and destroy its link."""
        prog = lib().bpf_object__find_program_by_name(self._ptr, program.encode())
        if not prog:
            raise KernelError(f"BPF object {self.path!r} has no program {program!r}")
        _LOG.clear()
        link = lib().bpf_program__attach_iter(prog, None)
        if not link:
            raise _fail(f"attaching iterator {program!r}", ctypes.get_errno())
        try:
            fd = int(lib().bpf_iter_create(lib().bpf_link__fd(link)))
            if fd < 0:
                raise _fail(f"starting iterator {program!r}", -fd)
            try:
                while os.read(fd, 4096):
                    pass
            finally:
                os.close(fd)
        finally:
            lib().bpf_link__destroy(ctypes.c_void_p(link))

    def detach_all(self) -> None:
        """Destroy every link this object made (idempotent)."""
        while self._links:
            lib().bpf_link__destroy(ctypes.c_void_p(self._links.pop()))

    def close(self) -> None:
        """Detach every link and free the object, its maps and programs (idempotent)."""
        self.detach_all()
        if self._ptr:
            lib().bpf_object__close(self._ptr)
            self._ptr = None


BPF_ANY, BPF_NOEXIST = 0, 1


def map_update(fd: int, key: bytes, value: bytes, flags: int = BPF_ANY) -> bool:
    """``bpf_map_update_elem(fd, key, value, flags)``; False when ``BPF_NOEXIST`` found the key present."""
    k, v = ctypes.create_string_buffer(key, len(key)), ctypes.create_string_buffer(value, len(value))
    rc = lib().bpf_map_update_elem(fd, k, v, flags)
    if rc == -errno.EEXIST and flags == BPF_NOEXIST:
        return False
    if rc < 0:
        raise _fail("map update", -rc)
    return True


def map_delete(fd: int, key: bytes) -> bool:
    """Delete a key; False if it was absent."""
    k = ctypes.create_string_buffer(key, len(key))
    return int(lib().bpf_map_delete_elem(fd, k)) == 0


def map_lookup(fd: int, key: bytes, value_size: int) -> bytes | None:
    """The value under ``key`` (``value_size`` bytes; per-CPU maps need ncpus * round8(size)), or None."""
    k, v = ctypes.create_string_buffer(key, len(key)), ctypes.create_string_buffer(value_size)
    rc = lib().bpf_map_lookup_elem(fd, k, v)
    return v.raw if rc == 0 else None


def map_keys(fd: int, key_size: int, limit: int = 1 << 20) -> list[bytes]:
    """Every key of a hash map (``bpf_map_get_next_key`` from the start), at most ``limit``."""
    out: list[bytes] = []
    current = None
    nxt = ctypes.create_string_buffer(key_size)
    while len(out) < limit:
        prev = None if current is None else ctypes.create_string_buffer(current, key_size)
        if int(lib().bpf_map_get_next_key(fd, prev, nxt)) != 0:
            break
        current = nxt.raw
        out.append(current)
    return out


def array_values(fd: int, entries: int, value_size: int) -> bytes:
    """Every value of an array map (``value_size`` bytes each; per-CPU maps need ncpus * round8(size)), in key
    order, read with ``bpf_map_lookup_batch`` (one syscall per batch instead of one per key)."""
    keys = ctypes.create_string_buffer(4 * entries)
    values = ctypes.create_string_buffer(value_size * entries)
    out_batch = ctypes.c_uint32(0)
    count = ctypes.c_uint32(entries)
    rc = int(lib().bpf_map_lookup_batch(fd, None, ctypes.byref(out_batch), keys, values, ctypes.byref(count), None))
    if rc < 0 and ctypes.get_errno() != errno.ENOENT or count.value != entries:
        out = bytearray()
        for key in range(entries):   # kernels without batch ops for this map type
            value = map_lookup(fd, key.to_bytes(4, "little"), value_size)
            if value is None:
                raise _fail("array map read", ctypes.get_errno())
            out += value
        return bytes(out)
    return values.raw


def possible_cpus() -> int:
    """Number of possible CPUs (the size of per-CPU map values and of the scratch array)."""
    n = int(lib().libbpf_num_possible_cpus())
    if n <= 0:
        raise KernelError("libbpf could not count the possible CPUs")
    return n
