"""Reading audit log files: auditd's ``audit.log`` and its rotations, plain or gzip, in the order written.

A directory means its ``audit.log*`` files; rotated files (``audit.log.1`` is newer than ``audit.log.2``) are
read oldest first, as ausearch does. Lines may be ``node=`` prefixed, in the ENRICHED format, interleaved
(records of several events, and of several nodes, mixed): records go through the ``Reassembler`` keyed by
node and serial, with the log's own clock for the end-of-event timeout. A line that is not a record is
counted with its reason and position, never fatal; an over-long line is skipped whole.
"""
from __future__ import annotations

import gzip
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO

from syswarden.audit.reassembly import AuditEvent, Reassembler
from syswarden.audit.records import MAX_RECORD, MalformedRecord, Record, parse_line
from syswarden.errors import InputError
from syswarden.input_file import open_regular

_ROTATED = re.compile(r"(.*)\.(\d+)(\.gz)?$")
MAX_EXAMPLES = 20


@dataclass(slots=True)
class LogStats:
    """What reading the logs met: lines, records and the malformed lines (with the first few positions)."""

    files: int = 0
    lines: int = 0
    records: int = 0
    malformed: int = 0
    examples: list[str] = field(default_factory=list)

    def note(self, where: str, reason: str) -> None:
        self.malformed += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(f"{where}: {reason}")


def _rotation_key(path: str) -> tuple[str, int]:
    match = _ROTATED.match(os.path.basename(path))
    return (match.group(1), -int(match.group(2))) if match else (os.path.basename(path), 0)


def expand(paths: Iterable[str]) -> list[str]:
    """Files to read, in order: a directory's ``audit.log*`` oldest first; files as given."""
    out: list[str] = []
    for path in paths:
        if path == "-":                      # stdin (a pipe)
            out.append(path)
        elif os.path.isdir(path):
            names = [os.path.join(path, n) for n in os.listdir(path) if n.startswith("audit.log")]
            out.extend(sorted(names, key=_rotation_key))
        elif os.path.exists(path):
            out.append(path)
        else:
            raise InputError(f"{path}: no such file or directory")
    return out


def _open(path: str) -> tuple[IO[bytes] | gzip.GzipFile, IO[bytes] | None]:
    """The records' reader and the file to close after it (None for stdin)."""
    if path == "-":
        import sys
        return sys.stdin.buffer, None
    # a log file or a rotated .gz one: a FIFO or device is refused by name (a pipe comes in as "-")
    handle: IO[bytes] = open_regular(path, InputError, what="audit log", hint=" (give a pipe as '-', on stdin)")
    try:
        gzipped = handle.read(2) == b"\x1f\x8b"
        handle.seek(0)
    except OSError as exc:
        handle.close()
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    # the file checked above, not the path opened again
    return (gzip.GzipFile(fileobj=handle, mode="rb") if gzipped else handle), handle


def read_records(paths: Iterable[str], stats: LogStats | None = None) -> Iterator[Record]:
    """Every record of the files, in file order; malformed lines are counted in ``stats``."""
    stats = stats if stats is not None else LogStats()
    for path in paths:
        stats.files += 1
        reader, file = _open(path)
        try:
            yield from _file_records(reader, path, stats)
        except (OSError, EOFError) as exc:         # a truncated gzip file, an unreadable block
            stats.note(path, f"read error: {exc}")
        finally:
            if file is not None:
                reader.close()        # a GzipFile does not close the file it was given
                file.close()


def _file_records(handle: IO[bytes] | gzip.GzipFile, path: str, stats: LogStats) -> Iterator[Record]:
    lineno = 0
    while True:
        raw = handle.readline(MAX_RECORD + 1)
        if not raw:
            return
        lineno += 1
        if len(raw) > MAX_RECORD and not raw.endswith(b"\n"):
            stats.note(f"{path}:{lineno}", "line longer than any audit record; skipped")
            while raw and not raw.endswith(b"\n"):            # skip the rest of it
                raw = handle.readline(MAX_RECORD + 1)
            continue
        stats.lines += 1
        text = raw.decode("utf-8", "surrogateescape")
        if not text.strip():
            continue
        try:
            record = parse_line(text)
        except MalformedRecord as exc:
            stats.note(f"{path}:{lineno}", str(exc))
            continue
        stats.records += 1
        yield record


def read_events(records: Iterable[Record], reassembler: Reassembler | None = None) -> Iterator[AuditEvent]:
    """Records -> events; the end-of-event timeout runs on the log's clock, the time of the record being read
    (as auparse does), so an event waits for its records as long as the log stays within the timeout."""
    reassembler = reassembler or Reassembler()
    for record in records:
        yield from reassembler.push(record)
    yield from reassembler.close()
