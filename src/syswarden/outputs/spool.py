"""A bounded on-disk spool: records a sink could not deliver, kept in order across restarts.

Two files in ``directory``: ``NAME.spool``, one record per line (``ID SUBJECT PAYLOAD``; the three contain no
space but the payload, which is ASCII JSON on one line), appended and flushed; and ``NAME.offset``, the byte
offset of the first record not yet delivered, replaced atomically (write + rename) when a batch is confirmed.
A restart reads the offset and resends from there: at-least-once, and the records' ids let the far end drop
what it already had (JetStream's duplicate window). A torn last line (killed mid-write) is cut off at load.

The bound is on the bytes waiting (``max_bytes``): ``append`` refuses a record that would pass it, and the
caller's queue decides what overflows. Delivered records are reclaimed by rewriting the rest of the file when
more than half of it is delivered, so the file stays under about twice the bound.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from syswarden.errors import OutputError

COMMIT_EVERY = 64


@dataclass(frozen=True, slots=True)
class SpoolRecord:
    id: str
    subject: str
    payload: bytes

    def encode(self) -> bytes:
        return f"{self.id} {self.subject} ".encode("ascii") + self.payload + b"\n"

    @classmethod
    def decode(cls, line: bytes) -> SpoolRecord | None:
        parts = line.rstrip(b"\n").split(b" ", 2)
        if len(parts) != 3 or not parts[0] or not parts[1]:
            return None
        try:
            return cls(parts[0].decode("ascii"), parts[1].decode("ascii"), parts[2])
        except UnicodeDecodeError:
            return None


class Spool:
    """Append at the tail, read and confirm at the head; ``pending`` records wait."""

    def __init__(self, directory: str | os.PathLike[str], name: str, max_bytes: int) -> None:
        self.dir = Path(directory)
        self.path = self.dir / f"{name}.spool"
        self.offset_path = self.dir / f"{name}.offset"
        self.max_bytes = max_bytes
        self.corrupt = 0                   # unreadable records skipped at load
        try:
            self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._fh: BinaryIO = self.path.open("a+b")
        except OSError as exc:
            raise OutputError(f"cannot open spool {str(self.path)!r}: {exc.strerror}") from exc
        self._head = self._read_offset()
        self._uncommitted = 0
        self._size = self._cut_torn_tail()
        self._head = min(self._head, self._size)
        self.pending = self._count(self._head)

    def _read_offset(self) -> int:
        try:
            return max(0, int(self.offset_path.read_text().strip() or 0))
        except (OSError, ValueError):
            return 0

    def _cut_torn_tail(self) -> int:
        size = self._fh.seek(0, os.SEEK_END)
        if size == 0:
            return 0
        self._fh.seek(max(0, size - 1))
        if self._fh.read(1) == b"\n":
            return size
        # find the last newline and cut what follows (a record half written when the process died)
        pos = size
        while pos > 0:
            step = min(4096, pos)
            self._fh.seek(pos - step)
            chunk = self._fh.read(step)
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                pos = pos - step + cut + 1
                break
            pos -= step
        self._fh.truncate(pos)
        self.corrupt += 1
        return pos

    def _count(self, start: int) -> int:
        self._fh.seek(start)
        return sum(1 for _ in self._fh)

    @property
    def pending_bytes(self) -> int:
        return self._size - self._head

    def append(self, record: SpoolRecord) -> bool:
        """Add ``record`` at the tail; False (nothing written) when it would pass the bound."""
        data = record.encode()
        if self.pending_bytes + len(data) > self.max_bytes:
            return False
        try:
            self._fh.seek(0, os.SEEK_END)
            self._fh.write(data)
            self._fh.flush()
        except OSError as exc:
            raise OutputError(f"cannot write spool {str(self.path)!r}: {exc.strerror}") from exc
        self._size += len(data)
        self.pending += 1
        return True

    def head(self, limit: int) -> list[tuple[SpoolRecord | None, int]]:
        """Up to ``limit`` records from the head, each with the offset just after it (None: unreadable)."""
        out: list[tuple[SpoolRecord | None, int]] = []
        self._fh.seek(self._head)
        pos = self._head
        while len(out) < limit and pos < self._size:
            line = self._fh.readline()
            if not line:
                break
            pos += len(line)
            out.append((SpoolRecord.decode(line), pos))
        return out

    def advance(self, offset: int, count: int) -> None:
        """``count`` records up to ``offset`` are delivered; the offset is written every ``COMMIT_EVERY``."""
        self._head = offset
        self.pending -= count
        self._uncommitted += count
        if self.pending == 0 or self._uncommitted >= COMMIT_EVERY:
            self.commit()

    def commit(self) -> None:
        """Write the head offset; reset or compact the file when the delivered part is large."""
        try:
            if self.pending == 0:
                self._fh.truncate(0)
                self._size = self._head = 0
            elif self._head > self._size // 2 and self._head > 65536:
                self._compact()
            tmp = self.offset_path.with_suffix(".offset.tmp")
            tmp.write_text(str(self._head))
            os.replace(tmp, self.offset_path)
        except OSError as exc:
            raise OutputError(f"cannot update spool {str(self.path)!r}: {exc.strerror}") from exc
        self._uncommitted = 0

    def _compact(self) -> None:
        self._fh.seek(self._head)
        rest = self._fh.read()
        tmp = self.path.with_suffix(".spool.tmp")
        tmp.write_bytes(rest)
        # order matters for a crash in between: the offset must never point past the new file's records
        self.offset_path.write_text("0")
        os.replace(tmp, self.path)
        self._fh.close()
        self._fh = self.path.open("a+b")
        self._size, self._head = len(rest), 0

    def close(self) -> None:
        try:
            self.commit()
        finally:
            self._fh.close()
