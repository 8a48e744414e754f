"""State: the thread, fd, user and container tables built from events, attached to each event for the rules.

Public API: ``State`` (``seed(threads)``, ``apply(event) -> event``) and ``REQUIRED_EVENT_TYPES``;
``syswarden.state.procfs`` seeds threads from /proc. See docs/events.md.
"""
from __future__ import annotations

from syswarden.state.state import REQUIRED_EVENT_TYPES, State, StateStats

__all__ = ["State", "StateStats", "REQUIRED_EVENT_TYPES"]
