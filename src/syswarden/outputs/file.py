"""File alerts: appended one per line (text or JSON), like Falco's ``file_output``; ``reopen`` for log rotation.

``keep_alive`` is falco.yaml's ``file_output.keep_alive``: with it the file stays open between alerts (``-o FILE``
always does); without it, as in Falco, the file is opened, appended to and closed for each alert, so a file
moved away by log rotation is recreated at once.
"""
from __future__ import annotations

from pathlib import Path
from typing import TextIO

from syswarden.errors import OutputError
from syswarden.rules.alert import Alert, AlertFormat


class FileOutput:
    """Appends alerts to ``path``; the file is opened lazily and reopened on ``reopen()``."""

    def __init__(self, path: str | Path, *, json_output: bool = False, alert_format: AlertFormat | None = None,
                 keep_alive: bool = True) -> None:
        self.path = Path(path)
        self.alert_format = alert_format or AlertFormat(json_output=json_output)
        self.keep_alive = keep_alive
        self._fh: TextIO | None = None

    def _open(self) -> TextIO:
        if self._fh is None:
            try:
                # Alerts arrive escaped (``Alert.render``); backslashreplace is the last guard, so a string that slipped
                # through unescaped costs a byte's spelling, never the alert or the monitor.
                self._fh = self.path.open("a", encoding="utf-8", errors="backslashreplace")
            except OSError as exc:
                raise OutputError(f"cannot open alert file {str(self.path)!r}: {exc.strerror}") from exc
        return self._fh

    def emit(self, alert: Alert) -> None:
        fh = self._open()
        try:
            fh.write(alert.render(self.alert_format) + "\n")
            fh.flush()
        except OSError as exc:
            raise OutputError(f"cannot write alert file {str(self.path)!r}: {exc.strerror}") from exc
        finally:
            if not self.keep_alive:
                self.close()

    def reopen(self) -> None:
        self.close()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
