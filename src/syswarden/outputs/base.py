"""The Output protocol every alert channel implements, and the counters outputs keep."""
from __future__ import annotations

from typing import Protocol

from syswarden.rules.alert import Alert


class Output(Protocol):
    """An alert sink. ``emit`` must not raise for a single bad alert; ``reopen`` re-opens files (SIGUSR1)."""

    def emit(self, alert: Alert) -> None: ...

    def reopen(self) -> None: ...

    def close(self) -> None: ...
