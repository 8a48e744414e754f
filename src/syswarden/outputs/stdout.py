"""Standard-output alerts: Falco's text line or one JSON document per line, flushed per alert."""
from __future__ import annotations

import sys
from typing import TextIO

from syswarden.rules.alert import Alert, AlertFormat


class StreamOutput:
    """Writes alerts to a text stream (stdout by default) as ``alert_format`` says (text or JSON lines).

    ``json_output=True`` is the short form of ``AlertFormat(json_output=True)``.
    """

    def __init__(self, stream: TextIO | None = None, *, json_output: bool = False,
                 alert_format: AlertFormat | None = None) -> None:
        self.stream = stream
        self.alert_format = alert_format or AlertFormat(json_output=json_output)

    def emit(self, alert: Alert) -> None:
        stream = self.stream or sys.stdout
        line = alert.render(self.alert_format) + "\n"
        try:
            stream.write(line)
        except UnicodeEncodeError:
            # A stream in a narrower encoding than UTF-8 (LANG=C with PYTHONIOENCODING=ascii ...): spell what it
            # cannot hold as escapes instead of losing the alert and stopping detection.
            encoding = getattr(stream, "encoding", None) or "ascii"
            stream.write(line.encode(encoding, "backslashreplace").decode(encoding))
        stream.flush()

    def reopen(self) -> None:
        """Nothing to reopen for a stream."""

    def close(self) -> None:
        (self.stream or sys.stdout).flush()
