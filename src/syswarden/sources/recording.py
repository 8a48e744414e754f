"""Recordings on disk: opening one safely, telling its format, and writing what a source delivered to one (a
scap capture read by sysdig, or a JSONL replay file).

Reading: ``input_file.open_regular`` refuses anything but a regular file (a FIFO would hang a reader, a device
never end), and ``recording_format`` tells a scap capture from a JSONL replay by content (scap's section
header magic, a JSON object), gzip-compressed or not, so a capture renamed ``trace.txt`` still reads; the
suffix decides only when the content does not. Writing: ``capture -w`` and ``monitor --write`` both go through
``open_writer``, which picks the format by suffix. A writer takes the source's initial threads (with their
fds) once, then every raw event before state touches it, so the recording replays exactly as the live run saw
it.
"""
from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Protocol

from syswarden.errors import CaptureError, InputError
from syswarden.events.event import Event, ThreadInfo
from syswarden.input_file import open_regular

SCAP_MAGIC = b"\n\r\r\n"          # a scap section header block's type, 0x0A0D0D0A little-endian
GZIP_MAGIC = b"\x1f\x8b"


def recording_format(path: str) -> str | None:
    """``"scap"`` or ``"replay"`` by the file's first bytes (inflated when gzip-compressed); None when the content
    says neither or the file cannot be read (the caller then goes by suffix, and the reader reports the error)."""
    try:
        with open_regular(path, CaptureError, what="recording") as fh:
            head = fh.read(4096)
    except (CaptureError, OSError):
        return None
    if head.startswith(GZIP_MAGIC):
        try:
            head = zlib.decompressobj(wbits=31).decompress(head, 64)
        except zlib.error:
            return None
    if head.startswith(SCAP_MAGIC):
        return "scap"
    return "replay" if head.lstrip(b" \t\r\n").startswith(b"{") else None


class CaptureWriter(Protocol):
    def write_threads(self, threads: Sequence[ThreadInfo]) -> None: ...

    def write_event(self, event: Event) -> None: ...

    def close(self) -> None: ...


class JsonlCaptureWriter:
    """The JSONL replay writer behind the same calls as ``ScapWriter``."""

    def __init__(self, path: str) -> None:
        import socket

        from syswarden.events.jsonl import JsonlWriter

        self.inner = JsonlWriter(path, hostname=socket.gethostname())

    def write_threads(self, threads: Sequence[ThreadInfo]) -> None:
        for thread in threads:
            self.inner.write_thread(thread)
            for fd in thread.fds.values():
                self.inner.write_fd(thread.tid, fd)

    def write_event(self, event: Event) -> None:
        self.inner.write_event(event)

    def close(self) -> None:
        self.inner.close()


def open_writer(path: str) -> CaptureWriter:
    """``ScapWriter`` for .scap/.scap.gz, the JSONL replay writer for .jsonl/.jsonl.gz."""
    lower = path.lower()
    if lower.endswith((".jsonl", ".jsonl.gz")):
        return JsonlCaptureWriter(path)
    if lower.endswith((".scap", ".scap.gz")):
        from syswarden.sources.scap.writer import ScapWriter

        return ScapWriter(path)
    raise InputError(f"cannot tell the format of {path!r}: expected .scap, .scap.gz or .jsonl")
