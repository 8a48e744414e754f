"""A BPF ring buffer consumer in pure Python: the map is mmap'ed and records are sliced out in batches.

Layout (kernel/bpf/ringbuf.c): page 0 holds ``consumer_pos`` (we write it), page 1 ``producer_pos`` (kernel
writes it), then the data area mapped twice in a row so a record that wraps is still contiguous. Each record
has an 8-byte header ``u32 len | BUSY<<31 | DISCARD<<30, u32 page offset`` and is 8-byte aligned. No ctypes
callback runs per event: ``read_batch`` copies every committed record out and advances ``consumer_pos`` once.
"""
from __future__ import annotations

import mmap
import select
import struct

_BUSY = 1 << 31
_DISCARD = 1 << 30
_HDR = 8
_U64 = struct.Struct("<Q")
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
        self._page = page
        self._poll = select.poll()
        self._poll.register(fd, select.POLLIN)

    def _producer_pos(self) -> int:
        return int(_U64.unpack_from(self._data, 0)[0])

    def _consumer_pos(self) -> int:
        return int(_U64.unpack_from(self._consumer, 0)[0])

    def pending(self) -> int:
        """Bytes committed or reserved but not consumed yet."""
        return self._producer_pos() - self._consumer_pos()

    def read_batch(self, max_records: int = 4096) -> list[bytes]:
        """Every committed record (up to ``max_records``), oldest first; stops at one still being written."""
        cons, prod = self._consumer_pos(), self._producer_pos()
        out: list[bytes] = []
        base = self._page
        while cons < prod and len(out) < max_records:
            off = base + (cons & self._mask)
            word = int(_U32.unpack_from(self._data, off)[0])
            if word & _BUSY:
                break
            length = word & ~(_BUSY | _DISCARD)
            if not word & _DISCARD:
                out.append(bytes(self._view[off + _HDR: off + _HDR + length]))
            cons += (length + _HDR + 7) & ~7
        _U64.pack_into(self._consumer, 0, cons)
        return out

    def wait(self, timeout_ms: int) -> bool:
        """Block until the kernel signals data (or ``timeout_ms``); True if data may be ready."""
        if self.pending():
            return True
        return bool(self._poll.poll(timeout_ms))

    def close(self) -> None:
        self._view.release()
        self._data.close()
        self._consumer.close()
