"""The scap container: pcapng-like blocks of a sysdig/Falco capture file, parsed into plain records.

A capture is a sequence of blocks ``u32 type, u32 total_length, body, padding, u32 total_length``. The first is
the section header (byte-order magic, version); then machine info, process list, fd lists, interface and user
lists; then event blocks. Block layouts changed over the years (process list V1..V9, fd list V2 with per-entry
lengths, event blocks with and without ``nparams`` and with dump flags); this module knows every variant found in
real captures. It parses the section header, machine info and event blocks here; the metadata tables are read by
``tables``. It does not interpret event parameters (``event_codes``) nor build ``Event``s (``reader``). Every
error names the byte offset of the damaged block.
"""
from __future__ import annotations

import enum
import struct
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from functools import cache
from typing import NamedTuple

from syswarden.errors import CaptureError

SHB_MAGIC = 0x1A2B3C4D
SCAP_DF_STATE_ONLY = 1          # dump flag: the event feeds state but never reaches the user
# Bounds on a block's length field, so a hostile length never makes a reader hold (or wait for) gigabytes.
# libscap refuses non-"large" event blocks over 64 KiB and grows its buffer for large ones without a bound;
# ours are looser for events (our writer stores parameters up to 64 KiB each) and bounded for every block.
MAX_EVENT_BLOCK = 16 << 20
MAX_BLOCK = 64 << 20            # metadata blocks (a process list of some 30,000 threads fits)


class BlockType(enum.IntEnum):
    """Block type ids. The ``*_INT`` ids are pre-release numbers libscap still accepts."""

    SHB = 0x0A0D0D0A
    MI = 0x201
    MI_INT = 0x8002ABCD
    PL_V1 = 0x202
    PL_V1_INT = 0x8000ABCD
    PL_V2 = 0x207
    PL_V2_INT = 0x8013ABCD
    PL_V3 = 0x209
    PL_V3_INT = 0x8014ABCD
    PL_V4 = 0x210
    PL_V5 = 0x211
    PL_V6 = 0x212
    PL_V7 = 0x213
    PL_V8 = 0x214
    PL_V9 = 0x215
    FDL = 0x203
    FDL_INT = 0x8001ABCD
    FDL_V2 = 0x218
    EV = 0x204
    EV_INT = 0x8010ABCD
    EV_V2 = 0x216
    EV_V2_LARGE = 0x221
    EVF = 0x208
    EVF_V2 = 0x217
    EVF_V2_LARGE = 0x222
    IL = 0x205
    IL_INT = 0x8011ABCD
    IL_V2 = 0x219
    UL = 0x206
    UL_INT = 0x8012ABCD
    UL_V2 = 0x220


# process-list version of each PL block id (the layouts only ever grew)
PL_VERSION = {
    BlockType.PL_V1: 1, BlockType.PL_V1_INT: 1, BlockType.PL_V2: 2, BlockType.PL_V2_INT: 2,
    BlockType.PL_V3: 3, BlockType.PL_V3_INT: 3, BlockType.PL_V4: 4, BlockType.PL_V5: 5,
    BlockType.PL_V6: 6, BlockType.PL_V7: 7, BlockType.PL_V8: 8, BlockType.PL_V9: 9,
}
EVENT_BLOCKS = frozenset({BlockType.EV, BlockType.EV_INT, BlockType.EV_V2, BlockType.EV_V2_LARGE,
                          BlockType.EVF, BlockType.EVF_V2, BlockType.EVF_V2_LARGE})
FLAGGED_EVENT_BLOCKS = frozenset({BlockType.EVF, BlockType.EVF_V2, BlockType.EVF_V2_LARGE})
V1_EVENT_BLOCKS = frozenset({BlockType.EV, BlockType.EV_INT, BlockType.EVF})
LARGE_EVENT_BLOCKS = frozenset({BlockType.EV_V2_LARGE, BlockType.EVF_V2_LARGE})
FDL_BLOCKS = frozenset({BlockType.FDL, BlockType.FDL_INT, BlockType.FDL_V2})
UL_BLOCKS = frozenset({BlockType.UL, BlockType.UL_INT, BlockType.UL_V2})
IL_BLOCKS = frozenset({BlockType.IL, BlockType.IL_INT, BlockType.IL_V2})
MI_BLOCKS = frozenset({BlockType.MI, BlockType.MI_INT})


@dataclass(frozen=True, slots=True)
class Block:
    """One block: its type id, the file offset of its header, and its body (without header and trailer)."""

    type: int
    offset: int
    body: memoryview


@dataclass(frozen=True, slots=True)
class SectionHeader:
    major: int
    minor: int


@dataclass(frozen=True, slots=True)
class MachineInfo:
    num_cpus: int
    memory_size: int
    max_pid: int
    hostname: str
    boot_ts: int = 0


class RawEvent(NamedTuple):
    """An event block decoded down to its header and the layout of its parameters.

    A named tuple, not a dataclass: one is made per event on the replay hot path, and tuple construction is
    several times cheaper than a frozen dataclass's ``__init__``. The parameters are not copied out: ``lens``
    are their byte lengths in wire order, the first starting at ``buf[data]`` (already checked to fit in the
    event), so a reader can unpack fixed-width ones straight from the file's bytes; ``params`` slices them.
    """

    offset: int
    cpu: int
    flags: int
    ts: int
    tid: int
    code: int
    buf: bytes
    data: int
    lens: tuple[int, ...]

    @property
    def params(self) -> list[bytes]:
        """The parameters' byte strings in wire order."""
        out, pos, buf = [], self.data, self.buf
        for n in self.lens:
            out.append(buf[pos:pos + n])
            pos += n
        return out


_HDR = struct.Struct("<II")


_U32 = struct.Struct("<I")


def iter_blocks(data: bytes | memoryview, name: str, start: int = 0) -> Iterator[Block]:
    """Split ``data`` into blocks, checking each header against its trailer.

    Raises:
        CaptureError: at the first truncated or inconsistent block, naming its byte offset.
    """
    view = memoryview(data)
    for btype, off, total in _walk(view, name, start):
        yield Block(btype, off, view[off + 8: off + total - 4])


def block_limit(btype: int) -> int:
    """The longest block of this type a reader accepts."""
    return MAX_EVENT_BLOCK if btype in EVENT_BLOCKS else MAX_BLOCK


def iter_records(data: bytes, name: str, start: int, nparams_of: dict[int, int], large_codes: frozenset[int],
                 *, base: int = 0, final: bool = True) -> Generator[Block | RawEvent, None, int]:
    """Like ``iter_blocks``, with event blocks already parsed to ``RawEvent`` straight from ``data``.

    The replay hot path: the block walk is inlined (one generator, not two), V2 event blocks (what current
    drivers and our writer produce) are parsed inline, and no event block is wrapped in a ``Block`` or copied.
    Whatever the fast path does not accept goes through ``_parse_event_at``, which reports damage exactly.

    ``data`` may be a window of the file starting at file offset ``base`` (offsets in records and errors are the
    file's). Unless the window is ``final``, a block that does not end inside it is not an error: the walk stops
    and returns the window offset of that block, for the caller to read on from there.
    """
    view = memoryview(data)
    events = EVENT_BLOCKS
    header, u32 = _HDR.unpack_from, _U32.unpack_from
    flagged, plain = _EVT_V2_FLAGGED.unpack_from, _EVT_V2_PLAIN.unpack_from
    lens_struct = _lens_struct
    end = len(data)
    off = start
    while off < end:
        if end - off < 8:
            if not final:
                return off
            raise _block_error(view, name, off, base)
        btype, total = header(data, off)
        if total < 12 or total & 3 or total > MAX_BLOCK or off + total > end or \
                u32(data, off + total - 4)[0] != total:
            if not final and off + total > end and _walk_ok(btype, total):
                return off
            raise _block_error(view, name, off, base)
        if btype not in events:
            yield Block(btype, base + off, view[off + 8: off + total - 4])
            off += total
            continue
        if total > MAX_EVENT_BLOCK:
            raise _block_error(view, name, off, base)
        # V2 blocks: block header (8), cpu (2), [dump flags (4)], event header (26), parameter lengths, data
        if btype in _FLAGGED_V2 and total >= 44:
            cpu, flags, ts, tid, length, code, nparams = flagged(data, off + 8)
            pos = off + 14
        elif btype in _PLAIN_V2 and total >= 40:
            cpu, ts, tid, length, code, nparams = plain(data, off + 8)
            flags, pos = 0, off + 10
        else:
            yield _parse_event_at(data, off, total, btype, name, nparams_of, large_codes)
            off += total
            continue
        width = 4 if code in large_codes else 2
        first = pos + 26 + nparams * width
        ev_end = pos + length
        if length >= 26 and ev_end <= off + total - 4 and first <= ev_end:
            lens = lens_struct(nparams, width).unpack_from(data, pos + 26)
            if first + sum(lens) <= ev_end:
                yield RawEvent(base + off, cpu, flags, ts, tid, code, data, first, lens)
                off += total
                continue
        yield _parse_event_at(data, off, total, btype, name, nparams_of, large_codes, base)    # raises: damaged
        off += total
    return off


def _walk_ok(btype: int, total: int) -> bool:
    """A block length ``_walk`` accepts, before looking at the bytes it covers."""
    return total >= 12 and not total % 4 and total <= block_limit(btype)


def _block_error(view: memoryview, name: str, off: int, base: int = 0) -> CaptureError:
    """The error ``_walk`` reports for the damaged block at ``off``."""
    try:
        for _ in _walk(view, name, off, base):
            break
    except CaptureError as err:
        return err
    return CaptureError(f"{name}: corrupt block at byte offset {base + off}")   # unreachable: _walk agreed it was bad


def _walk(view: memoryview, name: str, start: int, base: int = 0) -> Iterator[tuple[int, int, int]]:
    """(type, offset, total length) of each block, header and trailer checked (offsets in ``view``; messages
    name file offsets, ``view`` starting at file offset ``base``)."""
    end = len(view)
    off = start
    header, u32 = _HDR.unpack_from, _U32.unpack_from
    while off < end:
        at = base + off
        if end - off < 8:
            raise CaptureError(f"{name}: truncated block header at byte offset {at} "
                               f"({end - off} bytes left, expected 8)")
        btype, total = header(view, off)
        if total < 12 or total % 4:
            raise CaptureError(f"{name}: corrupt block at byte offset {at}: length {total} "
                               f"(expected a multiple of 4, at least 12)")
        if total > block_limit(btype):
            raise CaptureError(f"{name}: corrupt block at byte offset {at}: length {total} is over the "
                               f"{block_limit(btype)} bytes a block of type 0x{btype:x} may have")
        if off + total > end:
            raise CaptureError(f"{name}: truncated block at byte offset {at}: block of {total} bytes "
                               f"but only {end - off} bytes left in the file")
        trailer = u32(view, off + total - 4)[0]
        if trailer != total:
            raise CaptureError(f"{name}: corrupt block at byte offset {at}: header length {total} "
                               f"but trailer length {trailer}")
        yield btype, off, total
        off += total


def parse_section_header(block: Block, name: str) -> SectionHeader:
    """Check the byte-order magic and the major version of the SHB."""
    if block.type != BlockType.SHB or len(block.body) < 16:
        raise CaptureError(f"{name}: not a scap capture: expected a section header block at byte offset "
                           f"{block.offset}, found block type 0x{block.type:x}")
    magic, major, minor = struct.unpack_from("<IHH", block.body, 0)
    if magic != SHB_MAGIC:
        raise CaptureError(f"{name}: unsupported byte order magic 0x{magic:08x} at byte offset "
                           f"{block.offset} (expected 0x{SHB_MAGIC:08x}, little-endian)")
    if major != 1:
        raise CaptureError(f"{name}: unsupported scap version {major}.{minor} (expected 1.x)")
    return SectionHeader(major, minor)


def parse_machine_info(block: Block) -> MachineInfo:
    b = block.body
    cpus, mem, maxpid = struct.unpack_from("<IQQ", b, 0)
    host = bytes(b[20:148]).split(b"\0", 1)[0].decode("utf-8", "replace")
    boot = struct.unpack_from("<Q", b, 148)[0] if len(b) >= 156 else 0
    return MachineInfo(cpus, mem, maxpid, host, boot)


_EVT_V2 = struct.Struct("<QQIHI")
_EVT_V1 = struct.Struct("<QQIH")
_EVT_V1_FLAGGED = struct.Struct("<HIQQIH")     # cpu, dump flags, then the V1 header
_EVT_V2_FLAGGED = struct.Struct("<HIQQIHI")
_EVT_V1_PLAIN = struct.Struct("<HQQIH")
_EVT_V2_PLAIN = struct.Struct("<HQQIHI")
_FLAGGED_V2 = frozenset({BlockType.EVF_V2, BlockType.EVF_V2_LARGE})
_PLAIN_V2 = frozenset({BlockType.EV_V2, BlockType.EV_V2_LARGE})


def _parse_event_at(b: bytes, off: int, total: int, btype: int, name: str, nparams_of: dict[int, int],
                    large_codes: frozenset[int], base: int = 0) -> RawEvent:
    """Decode the event block at ``b[off:off + total]`` (file offset ``base + off``) to its header and
    parameter layout.

    ``nparams_of`` gives the parameter count of each code in the current event table: V1 blocks do not store
    it, and libscap infers it as the largest count whose lengths add up exactly to the event length.
    """
    body, body_end = off + 8, off + total - 4
    flagged = btype in FLAGGED_EVENT_BLOCKS
    v1 = btype in V1_EVENT_BLOCKS
    pos = body + (6 if flagged else 2)
    if body_end - pos < _EVT_V1.size:
        raise CaptureError(f"{name}: corrupt event block at byte offset {base + off}: "
                           f"{body_end - body} bytes is shorter than an event header")
    # cpu, flags and the event header in one unpack (the block layout is fixed per block type)
    if v1:
        if flagged:
            cpu, flags, ts, tid, length, code = _EVT_V1_FLAGGED.unpack_from(b, body)
        else:
            cpu, ts, tid, length, code = _EVT_V1_PLAIN.unpack_from(b, body)
            flags = 0
        hdr = pos + _EVT_V1.size
        length += 4       # the V1 header is 4 bytes shorter; count as if it were V2
        end = pos + length - 4
    else:
        if flagged:
            cpu, flags, ts, tid, length, code, nparams = _EVT_V2_FLAGGED.unpack_from(b, body)
        else:
            cpu, ts, tid, length, code, nparams = _EVT_V2_PLAIN.unpack_from(b, body)
            flags = 0
        hdr = pos + _EVT_V2.size
        end = pos + length
    if end > body_end or length < _EVT_V2.size:
        raise CaptureError(f"{name}: corrupt event block at byte offset {base + off}: event length "
                           f"{length} does not fit in the block body of {body_end - body} bytes")
    if v1:
        nparams = _infer_nparams(b, hdr, end, nparams_of.get(code, 0))
        if nparams < 0:
            raise CaptureError(f"{name}: corrupt event block at byte offset {base + off}: "
                               f"parameter lengths do not add up to the event length {length - 4}")
    width = 4 if code in large_codes else 2
    data = hdr + nparams * width
    lens = _lens_struct(nparams, width).unpack_from(b, hdr) if data <= end else None
    if lens is None or data + sum(lens) > end:
        raise CaptureError(f"{name}: corrupt event block at byte offset {base + off}: "
                           f"{nparams} parameters do not fit in the event length {length}")
    return RawEvent(base + off, cpu, flags, ts, tid, code, b, data, lens)


@cache
def _lens_struct(nparams: int, width: int) -> struct.Struct:
    return struct.Struct("<%d%s" % (nparams, "I" if width == 4 else "H"))


def _infer_nparams(b: bytes, hdr: int, end: int, maximum: int) -> int:
    for n in range(maximum, -1, -1):
        data = hdr + 2 * n
        if data > end:
            continue
        total = data + sum(_lens_struct(n, 2).unpack_from(b, hdr))
        if total == end:
            return n
        if total < end:
            return -1
    return -1
