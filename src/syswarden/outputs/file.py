"""File alerts: appended one per line (text or JSON), like Falco's ``file_output``; ``reopen`` for log rotation."""
from __future__ import annotations

from pathlib import Path
from typing import TextIO

from syswarden.errors import OutputError
from syswarden.rules.alert import Alert


class FileOutput:
    """Appends alerts to ``path``; the file is opened lazily and reopened on ``reopen()``."""

    def __init__(self, path: str | Path, *, json_output: bool = False) -> None:
        self.path = Path(path)
        self.json_output = json_output
        self._fh: TextIO | None = None

    def _open(self) -> TextIO:
        if self._fh is None:
            try:
                self._fh = self.path.open("a", encoding="utf-8")
            except OSError as exc:
                raise OutputError(f"cannot open alert file {str(self.path)!r}: {exc.strerror}") from exc
        return self._fh

    def emit(self, alert: Alert) -> None:
        fh = self._open()
        try:
            fh.write((alert.to_json() if self.json_output else alert.text_line()) + "\n")
            fh.flush()
        except OSError as exc:
            raise OutputError(f"cannot write alert file {str(self.path)!r}: {exc.strerror}") from exc

    def reopen(self) -> None:
        self.close()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
