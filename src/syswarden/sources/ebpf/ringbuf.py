"""A BPF ring buffer consumer in pure Python: the map is mmap'ed and records are sliced out in batches.

Layout (kernel/bpf/ringbuf.c): page 0 holds ``consumer_pos`` (we write it), page 1 ``producer_pos`` (kernel
writes it), then the data area mapped twice in a row so a record that wraps is still contiguous. Each record
has an 8-byte header ``u32 len | BUSY<<31 | DISCARD<<30, u32 page offset`` and is 8-byte aligned. No ctypes
callback runs per event: ``read_chunk`` copies every committed record out in one piece and advances
``consumer_pos`` once.
"""
from __future__ import annotations

import mmap
import select
import struct

_BUSY = 1 << 31
_DISCARD = 1 << 30
_HDR = 8
_LEN_MASK = ~(_BUSY | _DISCARD) & 0xFFFFFFFF
_U32 = struct.Struct("<I")


class RingBuffer:
    """Reads one BPF_MAP_TYPE_RINGBUF map (fd) of ``size`` bytes."""

    def __init__(self, fd: int, size: int) -> None:
        page = mmap.PAGESIZE
        self.size = size
        self._mask = size - 1
        self._consumer = mmap.mmap(fd, page, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, offset=0)
        self._data = mmap.mmap(fd, page + 2 * size, mmap.MAP_SHARED, mmap.PROT_READ, offset=page)
        self._view = memoryview(self._data)
        # The two positions as native u64 words: a memoryview of format 'Q' loads and stores each one with a
        # single aligned 8-byte access. struct's '<Q' goes byte by byte, and the kernel reading a
        # half-written consumer_pos sees the buffer (nearly) full and drops the record it is writing.
        self._cons_word = memoryview(self._consumer).cast("Q")
        self._prod_word = self._view[:8].cast("Q")
        self._page = page
        self._poll = select.poll()
        self._poll.register(fd, select.POLLIN)

    def _producer_pos(self) -> int:
        return int(self._prod_word[0])

    def _consumer_pos(self) -> int:
        return int(self._cons_word[0])

    def pending(self) -> int:
        """Bytes committed or reserved but not consumed yet."""
        return self._producer_pos() - self._consumer_pos()

    def read_batch(self, max_records: int = 4096) -> list[bytes]:
        """Every committed record (up to ``max_records``), oldest first, each as its own bytes."""
        chunk, starts = self.read_chunk(max_records)
        return [chunk[s:s + (_U32.unpack_from(chunk, s - _HDR)[0] & _LEN_MASK)] for s in starts]

    def read_chunk(self, max_records: int = 1 << 20) -> tuple[bytes, list[int]]:
        """Every committed record (up to ``max_records``) copied out in one piece: ``(chunk, starts)``, where
        record i's data begins at ``starts[i]`` in ``chunk`` (records are contiguous: the data area is mapped
        twice). One copy per batch instead of one per record; ``consumer_pos`` advances once, so the kernel
        gets the space back before the batch is decoded. Stops at a record still being written."""
        cons, prod = self._cons_word[0], self._prod_word[0]
        if cons >= prod:
            return b"", []
        base, mask, data, unpack = self._page, self._mask, self._data, _U32.unpack_from
        first = base + (cons & mask)
        pos, end = first, first + (prod - cons)
        starts: list[int] = []
        append = starts.append
        while pos < end and len(starts) < max_records:
            word = unpack(data, pos)[0]
            if word & _BUSY:
                break
            if not word & _DISCARD:
                append(pos - first + _HDR)
            pos += ((word & _LEN_MASK) + _HDR + 7) & ~7
        chunk = bytes(self._view[first:pos])
        self._cons_word[0] = cons + (pos - first)
        return chunk, starts

    def wait(self, timeout_ms: int) -> bool:
        """Block until the kernel signals data (or ``timeout_ms``); True if data may be ready."""
        if self.pending():
            return True
        return bool(self._poll.poll(timeout_ms))

    def close(self) -> None:
        self._cons_word.release()
        self._prod_word.release()
        self._view.release()
        self._data.close()
        self._consumer.close()
