"""A capture file read in bounded pieces: plain, or gzip-compressed (as ``sysdig -z`` and Falco's tests store them).

Every capture is hostile input. Only regular files are read (a FIFO would hang, ``/dev/zero`` never end). A gzip
stream is inflated piece by piece, never whole: a few megabytes of zeros inflate to gigabytes, and a reader only
ever holds one window of ``WINDOW`` bytes plus the block being completed (itself bounded by
``blocks.block_limit``). A damaged gzip stream (a flipped byte, a cut, trailing garbage) ends the data where the
damage is: every byte inflated before it is delivered, and ``damage`` says what happened and where.

``iter_file_records`` runs ``blocks.iter_records`` over successive windows of whole blocks, so the scap reader
sees one stream of records with file offsets, as if it had the whole file in memory.
"""
from __future__ import annotations

import zlib
from collections.abc import Iterator

from syswarden.errors import CaptureError
from syswarden.input_file import open_regular
from syswarden.sources.recording import GZIP_MAGIC
from syswarden.sources.scap import blocks as B

WINDOW = 4 << 20            # bytes of the (inflated) capture a reader holds at a time, besides one block
HEAD = 64                   # bytes kept from the start of the data (``CaptureFile.head``)
_READ = 256 << 10           # compressed bytes read from the file at a time
_SLICE = 16 << 10           # compressed bytes given to zlib at a time


class CaptureFile:
    """The (inflated) bytes of a capture file, read with ``read(n)``; ``close()`` when done."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fh = open_regular(path, CaptureError, what="capture")
        self._carry = self._fh.read(2)         # compressed (or plain) bytes taken from the file, not yet used
        self._fed = len(self._carry)           # bytes taken from the file so far
        self.compressed = self._carry == GZIP_MAGIC
        self._inflate: zlib._Decompress | None = zlib.decompressobj(wbits=31) if self.compressed else None
        self._exhausted = False
        self.damage: CaptureError | None = None
        self._pending = b""
        self.head = self.read(HEAD)            # the first bytes of the data, to tell formats apart
        self._pending = self.head

    @property
    def at_end(self) -> bool:
        """Every byte of the data has been read (or the data ended early at ``damage``)."""
        return self._exhausted and not self._pending

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes; fewer only at the end of the data (``at_end``), which a damaged gzip stream
        reaches early (``damage`` then says where and why)."""
        data, self._pending = self._pending[:n], self._pending[n:]
        if len(data) == n or self._exhausted:
            return data
        if self._inflate is not None:
            return data + self._inflated(n - len(data))
        plain, self._carry = self._carry[:n - len(data)], self._carry[n - len(data):]
        data += plain
        if len(data) < n:
            more = self._fh.read(n - len(data))
            self._fed += len(more)
            data += more
        if len(data) < n:
            self._exhausted = True
        return data

    def _inflated(self, n: int) -> bytes:
        """Up to ``n`` inflated bytes; the input goes to zlib ``_SLICE`` bytes at a time, so that damage costs
        at most what one slice inflates to before ``_salvage`` recovers that too."""
        pieces: list[bytes] = []
        size = 0
        while size < n:
            inflate = self._inflate
            assert inflate is not None
            data = inflate.unconsumed_tail           # input zlib left for want of room: it comes first
            piece: bytes | None
            if not data and self._carry:
                data, self._carry = self._carry[:_SLICE], self._carry[_SLICE:]
            if not data and not inflate.eof:
                piece = inflate.decompress(b"", n - size)     # output zlib still holds
                if not piece:
                    self._carry = self._fh.read(_READ)
                    self._fed += len(self._carry)
                    if not self._carry:
                        self._stop("the gzip stream is cut short (truncated file)")
                        break
                    continue
            else:
                piece = self._decompress(data, n - size)
                if piece is None:
                    break
            pieces.append(piece)
            size += len(piece)
            if inflate.eof and not self._next_member(inflate.unused_data):
                break
        return b"".join(pieces)

    def _decompress(self, data: bytes, room: int) -> bytes | None:
        """zlib's output for ``data`` (at most ``room`` bytes); None at damage, which ends the data after
        whatever ``data`` inflates to before the damaged byte (kept in ``_pending``)."""
        inflate = self._inflate
        assert inflate is not None
        saved = inflate.copy()
        start = self._fed - len(self._carry) - len(data)      # file offset of data[0]
        try:
            return inflate.decompress(data, room)
        except zlib.error as exc:
            salvaged, at = _salvage(saved, data)
            self._pending += salvaged
            self._stop(f"damaged gzip data: {exc}", start + at)
            return None

    def _next_member(self, rest: bytes) -> bool:
        """After one gzip member: another may follow (concatenated gzip files read as one, as gzip does) after
        optional zero padding; the end of the file ends the data; anything else is damage."""
        while True:
            rest = rest.lstrip(b"\0")
            if len(rest) >= 2:
                break
            more = self._fh.read(_READ)
            self._fed += len(more)
            if not more:
                if rest:
                    self._carry = rest
                    self._stop("trailing data after the gzip stream is not another gzip member")
                else:
                    self._exhausted = True
                return False
            rest += more
        if not rest.startswith(GZIP_MAGIC):
            self._carry = rest
            self._stop("trailing data after the gzip stream is not another gzip member")
            return False
        self._inflate = zlib.decompressobj(wbits=31)
        self._carry = rest
        return True

    def _stop(self, why: str, near: int | None = None) -> None:
        if near is None or near <= 0:
            near = self._fed - len(self._carry)
        self.damage = CaptureError(f"{self.path}: {why} (near compressed byte offset {near})")
        self._exhausted = True

    def close(self) -> None:
        self._fh.close()


def _salvage(saved: zlib._Decompress, data: bytes) -> tuple[bytes, int]:
    """What ``saved`` (a copy of the decompressor from before ``data``) inflates from ``data`` before the damage
    (fed 64 bytes at a time), and the offset in ``data`` of the piece zlib failed on. Bounded by deflate's
    largest ratio: ``_SLICE`` bytes inflate to at most about 1,000 times as many."""
    out = []
    for at in range(0, len(data), 64):
        try:
            out.append(saved.decompress(data[at:at + 64]))
        except zlib.error:
            return b"".join(out), at
    return b"".join(out), len(data)


def iter_file_records(file: CaptureFile, nparams_of: dict[int, int],
                      large_codes: frozenset[int]) -> Iterator[B.Block | B.RawEvent]:
    """Every block of ``file`` (event blocks parsed to ``RawEvent``), offsets the file's.

    Raises:
        CaptureError: at the first damaged block (naming its byte offset), or after the last whole block when
            the gzip stream was damaged (naming where the data ends).
    """
    name = file.path
    window, base, want = b"", 0, WINDOW
    while True:
        window += file.read(want)
        final = file.at_end and file.damage is None
        try:
            stop = yield from B.iter_records(window, name, 0, nparams_of, large_codes, base=base, final=final)
        except CaptureError as err:
            if file.damage is None:
                raise
            # zlib may inflate damaged input to garbage for a while before it notices: name both
            raise CaptureError(f"{err.message}; {file.damage.message.removeprefix(name + ': ')}") from None
        if file.at_end:
            if file.damage is not None:
                raise CaptureError(f"{file.damage.message}; the capture is read up to byte offset {base + stop}")
            return
        window, base = window[stop:], base + stop
        want = max(WINDOW, _still_needed(window))


def _still_needed(window: bytes) -> int:
    """Bytes missing to complete the block ``window`` starts with (its length field already checked)."""
    if len(window) < 8:
        return 8 - len(window)
    return int.from_bytes(window[4:8], "little") - len(window)


def load_bytes(path: str, limit: int = B.MAX_BLOCK) -> bytes:
    """A whole capture's (inflated) bytes, for tools and tests that want them at once; at most ``limit``.
    A damaged gzip stream gives the bytes inflated before the damage.

    Raises:
        CaptureError: the file cannot be read, or is larger than ``limit`` once inflated.
    """
    file = CaptureFile(path)
    try:
        data = file.read(limit + 1)
    finally:
        file.close()
    if len(data) > limit:
        raise CaptureError(f"{path}: more than {limit} bytes once inflated")
    return data
