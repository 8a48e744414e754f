"""Writing what a source delivered to a recording: a scap capture (read by sysdig) or a JSONL replay file.

``capture -w`` and ``monitor --write`` both go through ``open_writer``, which picks the format by suffix. A writer
takes the source's initial threads (with their fds) once, then every raw event before state touches it, so the
recording replays exactly as the live run saw it.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from syswarden.errors import InputError
from syswarden.events.event import Event, ThreadInfo


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
