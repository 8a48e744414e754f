"""Per-syscall parameter builders for the eBPF hot path, compiled once from ``syscall_decode.SPECS``.

``syscall_decode.build_params`` is generic: a ``RawCall`` object, a blob dict and one getter call per parameter.
At tens of thousands of records a second that generality is most of the decoding cost, so for every native
(x86_64) syscall whose recipes are all simple (``ret``, ``tid``, ``pid``, constants, ``i``/``w``/``u`` argument
words and ``s`` strings) this module writes the equivalent Python function once, e.g. for ``openat``::

    def _build(f, buf, off):
        n0 = f[13]
        e0 = buf.find(b"\\0", off, off + n0)
        s1 = buf[off:e0 if e0 >= 0 else off + n0].decode("utf-8", "surrogateescape")
        off += n0
        return {"fd": f[1], "dirfd": ((f[2] + 0x80000000) & 0xFFFFFFFF) - 0x80000000, "name": s1,
                "flags": f[4] & 0xFFFFFFFF, "mode": f[5] & 0xFFFFFFFF, "dev": 0, "ino": 0}

``f`` is ``FAST_HEADER.unpack_from(buf, off0)`` and ``off`` the first blob's offset. The values are exactly what
``build_params`` returns (``tests/sources/ebpf/test_param_builders.py`` compares both on every spec). Calls with
richer recipes (addresses, tuples, fd pairs, argv) keep the generic path.
"""
from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from syswarden.sources.syscall_decode import SPECS, ArgKind

# The fields of ``struct ev_hdr`` a syscall exit needs, the rest skipped as padding (no objects built for
# them): ts, ret, args[6], tid, tgid, nr, nblobs, cpu, blen[8], abi. Same size and offsets as decode.HEADER.
FAST_HEADER = struct.Struct("<Qq6Q8xII24xi4xHH8H16xI")
F_TS, F_RET, F_ARG0, F_TID, F_TGID, F_NR, F_NBLOBS, F_CPU, F_BLEN0, F_ABI = 0, 1, 2, 8, 9, 10, 11, 12, 13, 21

Builder = Callable[[tuple[Any, ...], bytes, int], dict[str, Any]]

_CONSTANT_EXPR = {"0": "0", "''": "''", "b''": "b''", "[]": "[]"}


def _expr(recipe: str, blob_vars: dict[int, str]) -> str | None:
    """The Python expression of one simple recipe, or None if the recipe needs the generic path."""
    if recipe == "ret":
        return f"f[{F_RET}]"
    if recipe == "tid":
        return f"f[{F_TID}]"
    if recipe == "pid":
        return f"f[{F_TGID}]"
    if recipe in _CONSTANT_EXPR:
        return _CONSTANT_EXPR[recipe]
    kind, idx = recipe[:1], recipe[1:]
    if not idx.isdigit() or int(idx) > 5:
        return None
    n = int(idx)
    word = f"f[{F_ARG0 + n}]"
    if kind == "i":
        # the low 32 bits as a signed int (syscall_decode._i32)
        return f"((({word}) + 0x80000000) & 0xFFFFFFFF) - 0x80000000"
    if kind == "w":
        return f"{word} & 0xFFFFFFFF"
    if kind == "u":
        return word
    if kind == "s":
        return blob_vars.get(n, "''")
    return None


def _source(name: str) -> str | None:
    """Source text of the builder of ``name``, or None when some recipe is not simple."""
    spec = SPECS[name]
    slots = spec.blob_slots()
    if not all(spec.kinds.get(slot) == ArgKind.STR for slot in slots):
        return None   # only string blobs are decoded here (sockaddrs, u64s, endpoints... stay generic)
    blob_vars = {slot: f"s{slot}" for slot in slots}
    items = []
    for param, recipe in spec.params:
        expr = _expr(recipe, blob_vars)
        if expr is None:
            return None
        items.append(f"{param!r}: {expr}")
    lines = ["def _build(f, buf, off):"]
    for i, slot in enumerate(slots):
        # syscall_decode._cstr: up to the first NUL, undecodable bytes kept as surrogates
        lines += [f"    n{i} = f[{F_BLEN0 + i}]",
                  f"    e{i} = buf.find(b'\\0', off, off + n{i})",
                  f"    s{slot} = buf[off:e{i} if e{i} >= 0 else off + n{i}].decode('utf-8', 'surrogateescape')",
                  f"    off += n{i}"]
    lines.append("    return {" + ", ".join(items) + "}")
    return "\n".join(lines) + "\n"


def compile_builder(name: str) -> Builder | None:
    """The compiled builder of syscall ``name`` (x86_64 arguments, all blobs present), or None."""
    text = _source(name)
    if text is None:
        return None
    namespace: dict[str, Any] = {}
    # the source is ours, generated from the syscall table's recipes (no text from the watched system)
    exec(compile(text, f"<syswarden param builder {name}>", "exec"), namespace)  # noqa: S102
    build: Builder = namespace["_build"]
    return build


def builders() -> dict[str, tuple[Builder, int]]:
    """Every syscall with a compiled builder -> (builder, number of blobs its records carry)."""
    out = {}
    for name in SPECS:
        fn = compile_builder(name)
        if fn is not None:
            out[name] = (fn, len(SPECS[name].blob_slots()))
    return out
