"""The compiled per-syscall builders give exactly the parameters of the generic ``build_params``."""
from __future__ import annotations

import pytest

from syswarden.sources.ebpf.decode import HEADER, Decoder
from syswarden.sources.ebpf.param_builders import FAST_HEADER, builders
from syswarden.sources.compat import Abi, decoded_calls
from syswarden.sources.syscall_decode import SPECS, RawCall, build_params

# argument words that exercise sign and width handling: negative ints, values above 32 bits, AT_FDCWD
ARGS = (0xFFFFFF9C, 0xFFFFFFFFFFFFFFFF, 0x1_0000_0241, 0o755, 0x8000_0000, 7)
BLOBS = (b"/etc/shadow\0", b"/tmp/\xff\xfe-not-utf8\0trailing", b"no-nul")


def record(nr: int, nblobs: int, ret: int = -2) -> bytes:
    """A probe record (``struct ev_hdr`` + blobs) as the kernel writes it."""
    blobs = BLOBS[:nblobs]
    lens = [len(b) for b in blobs] + [0] * (8 - nblobs)
    hdr = HEADER.pack(123456789, ret, *ARGS, 42, 1001, 1000, 1, 0, 0, 0, 0, 0xFFFFFFFF, nr, 0, nblobs, 1, *lens,
                      b"comm\0", 0, 0)
    return hdr + b"".join(blobs)


def test_fast_header_mirrors_the_record_layout() -> None:
    assert FAST_HEADER.size == HEADER.size


@pytest.mark.parametrize("name", sorted(builders()))
def test_builder_matches_build_params(name: str) -> None:
    fn, nblobs = builders()[name]
    nr = next(n for n, call in decoded_calls(Abi.X64).items() if call.name == name)
    for ret in (-2, 3):
        raw = record(nr, nblobs, ret)
        f = HEADER.unpack_from(raw)
        blobs, off = {}, HEADER.size
        for i, slot in enumerate(SPECS[name].blob_slots()):
            blobs[slot] = raw[off:off + f[21 + i]]
            off += f[21 + i]
        want = build_params(RawCall(name, 1001, 1000, ret, tuple(f[2:8]), blobs))
        got = fn(FAST_HEADER.unpack_from(raw), raw, HEADER.size)
        assert list(got.items()) == list(want.items())
        assert [type(v) for v in got.values()] == [type(v) for v in want.values()]


def test_decode_in_place_equals_decode_of_a_copy() -> None:
    """A record decoded at its offset in a batch is the event of the same record copied out on its own, also
    when the record has fewer blobs than its spec (the generic path)."""
    nr = next(n for n, call in decoded_calls(Abi.X64).items() if call.name == "renameat")
    recs = [record(nr, 2), record(nr, 1), record(257, 1)]
    batch, starts = b"", []
    for rec in recs:
        batch += b"\0" * 8
        starts.append(len(batch))
        batch += rec + b"\0" * (-len(rec) % 8)
    a, b = Decoder(), Decoder()
    for start, rec in zip(starts, recs):
        x, y = a.decode(batch, start), b.decode(rec)
        assert x is not None and y is not None
        assert (x.num, x.type, x.tid, x.pid, x.res, x.cpu, x.params) == (y.num, y.type, y.tid, y.pid, y.res, y.cpu,
                                                                          y.params)
