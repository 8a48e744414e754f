"""Standard-output alerts: Falco's text line or one JSON document per line, flushed per alert."""
from __future__ import annotations

import sys
from typing import TextIO

from syswarden.rules.alert import Alert


class StreamOutput:
    """Writes alerts to a text stream (stdout by default) as text lines or JSON lines."""

    def __init__(self, stream: TextIO | None = None, *, json_output: bool = False) -> None:
        self.stream = stream
        self.json_output = json_output

    def emit(self, alert: Alert) -> None:
        stream = self.stream or sys.stdout
        stream.write((alert.to_json() if self.json_output else alert.text_line()) + "\n")
        stream.flush()

    def reopen(self) -> None:
        """Nothing to reopen for a stream."""

    def close(self) -> None:
        (self.stream or sys.stdout).flush()
