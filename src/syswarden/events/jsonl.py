"""The JSON Lines replay format (version 1): a recording of threads, fds and events, one JSON object a line.

Layout (documented in ``docs/replay-format.md``)::

    {"syswarden_replay": 1, "hostname": "h"}                                     header, first line
    {"kind": "thread", "tid": 100, "pid": 100, "comm": "bash", ...}              ThreadInfo field names
    {"kind": "fd", "tid": 100, "num": 3, "type": "file", "name": "/etc/passwd"}  FdInfo field names + tid
    {"kind": "event", "num": 1, "ts": 1700000000000000000, "tid": 100, "type": "openat", "res": 3,
     "params": {"fd": 3, "dirfd": -100, "name": "/etc/shadow", "flags": 1, "mode": 0}}

Param values: JSON ints/strings/lists as is; bytes as ``{"b64": "..."}``; ``SockAddr``/``SockTuple`` as objects
with their field names. Thread and fd records are the initial snapshot and come before the first event.
The writer escapes every non-ASCII character, so attacker-chosen names (even undecodable ones, kept as
surrogate escapes) cannot break a line. The reader reports malformed lines (and lines over ``MAX_LINE``, which
it never holds whole) as ``CaptureError`` with ``file:line:col`` and what was expected; a truncated last line
(no newline, not JSON) is kept as a warning.
"""
from __future__ import annotations

import io
import os
from collections.abc import Iterator
from typing import IO, Any

from syswarden.errors import CaptureError
from syswarden.events.event import Event, FdInfo, ThreadInfo
from syswarden.events.records import (
    VERSION,
    FdRecord,
    Header,
    LineError,
    Record,
    decode_value,
    dumps,
    encode_value,
    event_from_json,
    event_to_json,
    fd_from_json,
    fd_to_json,
    header_from_json,
    parse_line,
    record_from_json,
    thread_from_json,
    thread_to_json,
)
from syswarden.spans import Span

MAX_LINE = 16 << 20         # characters of one record (an event's parameters are bounded well below this)


class JsonlWriter:
    """Writes a replay file: the header at construction, then thread, fd and event records.

    Args:
        target: a path or a text stream (not closed by ``close()`` when passed in).
        hostname: recorded in the header (Falco's ``hostname`` in alerts).
    """

    def __init__(self, target: str | os.PathLike[str] | IO[str], hostname: str = "") -> None:
        self._owned = isinstance(target, str | os.PathLike)
        self._out: IO[str] = open(target, "w", encoding="ascii") if isinstance(target, str | os.PathLike) else target
        self._line({"syswarden_replay": VERSION, "hostname": hostname})

    def _line(self, obj: dict[str, Any]) -> None:
        self._out.write(dumps(obj) + "\n")

    def write_thread(self, thread: ThreadInfo) -> None:
        """Write a thread record (without its fds: write those with ``write_fd``)."""
        self._line(thread_to_json(thread))

    def write_fd(self, tid: int, fd: FdInfo) -> None:
        """Write an fd record of thread ``tid``."""
        self._line(fd_to_json(tid, fd))

    def write_event(self, event: Event) -> None:
        """Write an event record."""
        self._line(event_to_json(event))

    def close(self) -> None:
        """Flush, and close the file if this writer opened it."""
        self._out.flush()
        if self._owned:
            self._out.close()

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class JsonlReader:
    """Reads a replay file record by record. Iterating yields ``ThreadInfo``, ``FdRecord`` and ``Event``.

    Args:
        source: a path or a text stream; ``name`` names it in errors when it is a stream.

    Raises:
        CaptureError: at ``file:line:col`` for a missing/unsupported header or a malformed line. A truncated last
            line is not raised: it is appended to ``warnings`` after everything before it has been yielded.
    """

    def __init__(self, source: str | os.PathLike[str] | IO[str], name: str | None = None) -> None:
        self.name = name or (os.fspath(source) if isinstance(source, str | os.PathLike) else "<stream>")
        self._owned = isinstance(source, str | os.PathLike)
        self.warnings: list[CaptureError] = []
        try:
            self._in: IO[str] = (open(source, encoding="utf-8", errors="surrogateescape", newline="\n")
                                 if isinstance(source, str | os.PathLike) else source)
        except OSError as exc:
            raise CaptureError(f"{self.name}: cannot open replay file: {exc.strerror}") from exc
        self.lineno = 0
        self.header = self._read_header()

    def _error(self, err: LineError) -> CaptureError:
        return CaptureError(str(err), span=Span(self.name, self.lineno, err.col))

    def _lines(self) -> Iterator[str]:
        """The file's lines, each read with a bound: a line longer than ``MAX_LINE`` is an error at its start,
        never a line held whole in memory."""
        readline = self._in.readline
        while text := readline(MAX_LINE + 1):
            if len(text) > MAX_LINE and not text.endswith("\n"):
                raise CaptureError(f"line longer than {MAX_LINE} characters; expected one JSON record a line",
                                   span=Span(self.name, self.lineno + 1, 1))
            yield text

    def _read_header(self) -> Header:
        for text in self._lines():
            self.lineno += 1
            if text.strip():
                try:
                    return header_from_json(parse_line(text))
                except LineError as err:
                    raise self._error(err) from None
        raise CaptureError('empty file; expected a header {"syswarden_replay": 1, "hostname": ...}',
                           span=Span(self.name, max(self.lineno, 1), 1))

    def __iter__(self) -> Iterator[Record]:
        for text in self._lines():
            self.lineno += 1
            if not text.strip():
                continue
            try:
                yield record_from_json(parse_line(text))
            except LineError as err:
                # Only the last line of a file can lack its newline: a recorder killed mid-write.
                if not text.endswith("\n"):
                    self.warnings.append(CaptureError(
                        f"truncated last line ({len(text)} characters, no newline) ignored: {err}",
                        span=Span(self.name, self.lineno, err.col)))
                    return
                raise self._error(err) from None

    def close(self) -> None:
        """Close the file if this reader opened it."""
        if self._owned:
            self._in.close()

    def __enter__(self) -> JsonlReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_jsonl(source: str | os.PathLike[str] | IO[str]) -> tuple[Header, list[Record], list[CaptureError]]:
    """Read a whole replay file: its header, every record, and the warnings (a truncated last line)."""
    with JsonlReader(source) as reader:
        records = list(reader)
        return reader.header, records, reader.warnings


def dumps_records(records: list[Record], hostname: str = "") -> str:
    """A whole replay file as text (handy for tests and small recordings)."""
    buf = io.StringIO()
    writer = JsonlWriter(buf, hostname)
    for rec in records:
        if isinstance(rec, ThreadInfo):
            writer.write_thread(rec)
        elif isinstance(rec, FdRecord):
            writer.write_fd(rec.tid, rec.fd)
        elif isinstance(rec, Event):
            writer.write_event(rec)
    return buf.getvalue()


__all__ = ["VERSION", "Header", "FdRecord", "Record", "JsonlWriter", "JsonlReader", "read_jsonl", "dumps_records",
           "encode_value", "decode_value", "thread_to_json", "fd_to_json", "event_to_json", "thread_from_json",
           "fd_from_json", "event_from_json"]
