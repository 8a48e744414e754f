"""The one event model every source emits and the rules engine reads (see docs/events.md)."""
from syswarden.events.event import Event, FdInfo, FdType, ThreadInfo

__all__ = ["Event", "FdInfo", "FdType", "ThreadInfo"]
