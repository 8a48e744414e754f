"""File alerts: appended one per line (text or JSON), like Falco's ``file_output``; rotation by size; reopen.

``keep_alive`` is falco.yaml's ``file_output.keep_alive``: with it the file stays open between alerts (``-o FILE``
always does); without it, as in Falco, the file is opened, appended to and closed for each alert, so a file
moved away by log rotation is recreated at once.

Ours: ``max_size`` (bytes; 0 = never rotate) rotates before a line would make the file larger: ``FILE`` becomes
``FILE.1``, ``FILE.1`` becomes ``FILE.2`` ... and ``FILE.<keep>`` is removed, so ``keep`` rotated files are
kept besides the live one. A line is never split between two files. ``fsync`` makes every alert durable
before the next one is written (one ``fsync`` per alert: slow, counted in ``bench/outputs.py``).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

from syswarden.errors import OutputError
from syswarden.rules.alert import Alert, AlertFormat


class FileOutput:
    """Appends alerts to ``path``; the file is opened lazily and reopened on ``reopen()``."""

    def __init__(self, path: str | Path, *, json_output: bool = False, alert_format: AlertFormat | None = None,
                 keep_alive: bool = True, max_size: int = 0, keep: int = 5, fsync: bool = False) -> None:
        self.path = Path(path)
        self.alert_format = alert_format or AlertFormat(json_output=json_output)
        self.keep_alive = keep_alive
        self.max_size = max_size
        self.keep = keep
        self.fsync = fsync
        self.rotations = 0
        self._fh: BinaryIO | None = None
        self._size = 0

    def _open(self) -> BinaryIO:
        if self._fh is None:
            try:
                self._fh = self.path.open("ab")
                self._size = self._fh.seek(0, os.SEEK_END)
            except OSError as exc:
                raise OutputError(f"cannot open alert file {str(self.path)!r}: {exc.strerror}") from exc
        return self._fh

    def emit(self, alert: Alert) -> None:
        # Alerts arrive escaped (``Alert.render``); backslashreplace is the last guard, so a string that slipped
        # through unescaped costs a byte's spelling, never the alert or the monitor.
        data = (alert.render(self.alert_format) + "\n").encode("utf-8", "backslashreplace")
        fh = self._open()
        try:
            if self.max_size and self._size and self._size + len(data) > self.max_size:
                fh = self._rotate()
            fh.write(data)
            fh.flush()
            if self.fsync:
                os.fsync(fh.fileno())
            self._size += len(data)
        except OSError as exc:
            self.close()         # the next attempt reopens (a full disk may have room again)
            raise OutputError(f"cannot write alert file {str(self.path)!r}: {exc.strerror}") from exc
        finally:
            if not self.keep_alive:
                self.close()

    def _rotate(self) -> BinaryIO:
        """FILE -> FILE.1 -> ... -> FILE.<keep> (removed), then a new empty FILE."""
        self.close()
        if self.keep <= 0:
            self.path.unlink(missing_ok=True)
        else:
            Path(f"{self.path}.{self.keep}").unlink(missing_ok=True)
            for index in range(self.keep - 1, 0, -1):
                older = Path(f"{self.path}.{index}")
                if older.exists():
                    older.rename(f"{self.path}.{index + 1}")
            self.path.rename(f"{self.path}.1")
        self.rotations += 1
        return self._open()

    def counters(self) -> dict[str, int]:
        return {"rotations": self.rotations}

    def reopen(self) -> None:
        self.close()

    def close(self) -> None:
        if self._fh is not None:
            try:
                self._fh.close()
            finally:
                self._fh = None
