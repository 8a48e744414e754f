"""Bounded fuzzing of the recording front doors: the 16 real captures and syswarden's JSONL recordings, mutated
(bytes flipped, overwritten with interesting lengths, inserted, deleted, duplicated, cut; gzipped or not; JSON
values retyped, lines broken) and run through the whole auditing pipeline (state, stock rules, a scap writer)
and through ``capture -r``'s line printer.

Each example must end in a clean ``SyswardenError`` or a successful read (damage counted in ``stats.skipped``),
never another exception, within a few seconds and a few hundred MB (the address space is capped for the run).
"""
from __future__ import annotations

import gzip
import json
import resource
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syswarden.errors import SyswardenError
from syswarden.rules import Ruleset, load_rules, stock_rules_path
from syswarden.service.capture import read_capture
from syswarden.service.pipeline import open_pipeline
from syswarden.sources.scap.stream import load_bytes
from syswarden.testing import CapturingOutput

from .scap.scap_oracle import ALL_CAPTURES, CAPTURES

ROOT = Path(__file__).resolve().parents[2]
RECORDINGS = sorted((ROOT / "tests" / "rules" / "golden").glob("*.jsonl"))
SECONDS = 20            # per example, generous for a shared 2-core machine (typical: well under a second)
HEADROOM = 768 << 20    # address space allowed above what the test process already uses
FORMAT = "*%evt.num %evt.time %proc.name %thread.tid %evt.type %evt.args %fd.name %user.name %proc.pname"
INTERESTING = (0, 1, 4, 11, 12, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFC, 0xFFFFFFFF)

pytestmark = pytest.mark.skipif(not ALL_CAPTURES, reason=f"captures not available at {CAPTURES}")


@cache
def stock_ruleset() -> Ruleset:
    return load_rules([stock_rules_path()]).raise_for_errors()


@contextmanager
def bounded_memory() -> Iterator[None]:
    """Cap this process's address space at its current size plus HEADROOM (restored after): an unbounded
    allocation fails as MemoryError, which the fuzz test reports, instead of eating the machine."""
    with open("/proc/self/status") as f:
        size = int(f.read().split("VmSize:")[1].split()[0]) * 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (size + HEADROOM, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _exercise(path: Path, tmp: Path) -> None:
    """The pipeline (state, stock rules, a scap writer) and capture's printer over ``path``: a SyswardenError
    or a clean end; skipped records only ever counted."""
    start = time.monotonic()
    for run in ("monitor", "capture"):
        try:
            if run == "monitor":
                pipe = open_pipeline(stock_ruleset(), [CapturingOutput()], path=str(path),
                                     write_path=str(tmp / "out.scap"))
                summary = pipe.run()
                assert summary.skipped >= 0 and summary.events >= 0
            else:
                for line in read_capture(str(path), "", FORMAT):
                    assert "\n" not in line
        except SyswardenError as err:
            assert str(err)             # a message, rendered without error
        except MemoryError:
            pytest.fail(f"{run} over {path.name} needed more than {HEADROOM >> 20} MB more memory")
    elapsed = time.monotonic() - start
    assert elapsed < SECONDS, f"{path.name} took {elapsed:.1f} s"


mutation = st.tuples(st.sampled_from(["value", "value", "flip", "set", "u32", "insert", "delete", "duplicate", "cut"]),
                     st.floats(0, 1), st.integers(0, 255), st.sampled_from(INTERESTING), st.integers(1, 4096))


def _block_bodies(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of the bytes of each block after its headers (36 bytes in, 4 before the trailer)."""
    spans, off = [], 0
    while off + 8 <= len(data):
        total = struct.unpack_from("<I", data, off + 4)[0]
        if total < 12 or off + total > len(data):
            break
        spans.append((off + min(36, total - 4), off + total - 4))
        off += total
    return spans


def _mutate(data: bytes, mutations: list[tuple[str, float, int, int, int]]) -> bytes:
    buf = bytearray(data)
    for kind, where, byte, value, size in mutations:
        if not buf:
            break
        at = min(int(where * len(buf)), len(buf) - 1)
        if kind == "value":          # inside one block's body, past its headers: the structure stays valid
            spans = _block_bodies(bytes(buf))
            if spans:
                start, end = spans[min(int(where * len(spans)), len(spans) - 1)]
                if end > start:
                    buf[start + (byte * 7919 + size) % (end - start)] = byte
            continue
        if kind == "flip":
            buf[at] ^= 1 << (byte % 8)
        elif kind == "set":
            buf[at] = byte
        elif kind == "u32":          # where length fields live, every 4 bytes
            at -= at % 4
            buf[at:at + 4] = struct.pack("<I", value)[: len(buf) - at]
        elif kind == "insert":
            buf[at:at] = bytes([byte]) * size
        elif kind == "delete":
            del buf[at:at + size]
        elif kind == "duplicate":
            buf[at:at] = buf[at:at + size]
        else:
            del buf[at:]
    return bytes(buf)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                 HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(ALL_CAPTURES or ["none"]), packing=st.sampled_from(["plain", "gzip", "gzip-then-mutate"]),
       mutations=st.lists(mutation, min_size=1, max_size=4))
def test_mutated_captures(tmp_path: Path, name: str, packing: str,
                          mutations: list[tuple[str, float, int, int, int]]) -> None:
    """A mutated real capture (mutated before or after gzip): clean error or clean read, bounded."""
    raw = load_bytes(str(CAPTURES / name))
    if packing == "plain":
        data = _mutate(raw, mutations)
    elif packing == "gzip":
        data = gzip.compress(_mutate(raw, mutations), compresslevel=1)
    else:
        data = _mutate(gzip.compress(raw, compresslevel=1), mutations)
    path = tmp_path / "fuzzed.scap"
    path.write_bytes(data)
    with bounded_memory():
        _exercise(path, tmp_path)


VALUES = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True),
                   st.text(max_size=8), st.binary(max_size=8).map(lambda b: b.decode("latin-1")),
                   st.lists(st.integers(-5, 5), max_size=3), st.just({"b64": "AAA="}), st.just({"family": 2}),
                   st.just({"family": "AF_INET", "addr": "x", "port": 99999}), st.just([[1, 2], [3]]))
line_mutation = st.tuples(st.sampled_from(["retype", "drop_key", "break", "bytes", "dup", "delete", "nest"]),
                          st.floats(0, 1), st.floats(0, 1), VALUES)


def _mutate_lines(text: str, mutations: list[tuple[str, float, float, object]]) -> bytes:
    lines = text.splitlines()
    out = [line.encode() for line in lines]
    for kind, where, which, value in mutations:
        at = min(int(where * len(out)), len(out) - 1)
        try:
            obj = json.loads(out[at])
        except (ValueError, RecursionError):
            obj = None
        if kind in ("retype", "drop_key") and isinstance(obj, dict) and obj:
            target = obj["params"] if isinstance(obj.get("params"), dict) and obj["params"] and which < 0.6 else obj
            key = sorted(target)[min(int(which * len(target)), len(target) - 1)]
            if kind == "retype":
                target[key] = value
            else:
                del target[key]
            out[at] = json.dumps(obj).encode()
        elif kind == "break":
            out[at] = out[at][: int(which * len(out[at]))]
        elif kind == "bytes":
            cut = int(which * len(out[at]))
            out[at] = out[at][:cut] + b"\xff\xc3(" + out[at][cut:]
        elif kind == "dup":
            out.insert(at, out[at])
        elif kind == "delete" and len(out) > 1:
            del out[at]
        elif kind == "nest":
            out[at] = b"[" * 50_000 + b"]" * 50_000
    return b"\n".join(out) + (b"\n" if which < 0.9 else b"")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(index=st.integers(0, max(len(RECORDINGS) - 1, 0)), mutations=st.lists(line_mutation, min_size=1, max_size=4),
       packed=st.booleans())
def test_mutated_jsonl_recordings(tmp_path: Path, index: int,
                                  mutations: list[tuple[str, float, float, object]], packed: bool) -> None:
    """A mutated JSONL recording (values retyped, keys dropped, lines cut, bad UTF-8, deep nesting): clean
    positioned error or clean read, bounded."""
    data = _mutate_lines(RECORDINGS[index].read_text(), mutations)
    path = tmp_path / "fuzzed.jsonl"
    path.write_bytes(gzip.compress(data) if packed else data)
    with bounded_memory():
        _exercise(path, tmp_path)
