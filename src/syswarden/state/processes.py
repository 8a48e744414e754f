"""The thread table: every live thread by tid, with parent links and bounded memory.

``ThreadInfo.parent`` points at the parent *process's* main thread object, so ``proc.pname``/``proc.aname``
are pointer walks. Exited threads leave the live table at once but stay findable for a while (late events from
other CPUs) in a bounded ring; an exited parent stays reachable as long as a child's ``parent`` references it,
and is freed with its last child. The live table is capped; past the cap the least recently active entries are
evicted (threads whose procexit was lost go first, busy long-lived ones stay).
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator

from syswarden.events.event import ThreadInfo

DEFAULT_MAX_THREADS = 131072
DEFAULT_MAX_EXITED = 4096
MAX_ANCESTRY = 64


class ThreadTable:
    """Threads by tid. ``evicted`` counts entries dropped because the table was full."""

    def __init__(self, max_threads: int = DEFAULT_MAX_THREADS, max_exited: int = DEFAULT_MAX_EXITED) -> None:
        self.max_threads = max_threads
        self.max_exited = max_exited
        self.evicted = 0
        self._live: OrderedDict[int, ThreadInfo] = OrderedDict()
        self._exited: OrderedDict[int, ThreadInfo] = OrderedDict()
        self._members: dict[int, set[int]] = {}

    def __len__(self) -> int:
        return len(self._live)

    def __iter__(self) -> Iterator[ThreadInfo]:
        return iter(list(self._live.values()))

    def __contains__(self, tid: int) -> bool:
        return tid in self._live

    def get(self, tid: int) -> ThreadInfo | None:
        """The live thread ``tid``, else a recently exited one, else None."""
        thread = self._live.get(tid)
        return thread if thread is not None else self._exited.get(tid)

    def active(self, tid: int) -> ThreadInfo | None:
        """``get(tid)`` and ``touch(tid)`` in one call: the thread of the event being applied (once per event)."""
        thread = self._live.get(tid)
        if thread is not None:
            self._live.move_to_end(tid)
            return thread
        return self._exited.get(tid)

    def touch(self, tid: int) -> None:
        """Mark thread ``tid`` as just active (eviction takes the least recently active first)."""
        if tid in self._live:
            self._live.move_to_end(tid)

    def live(self, tid: int) -> ThreadInfo | None:
        """The live thread ``tid`` only."""
        return self._live.get(tid)

    def add(self, thread: ThreadInfo) -> ThreadInfo:
        """Insert (or replace) a thread, link its parent, and evict the oldest entries past the cap."""
        old = self._live.pop(thread.tid, None)
        if old is not None:
            self._forget_member(old)
        self._exited.pop(thread.tid, None)
        self._live[thread.tid] = thread
        self._members.setdefault(thread.pid, set()).add(thread.tid)
        if thread.parent is None:
            self.link_parent(thread)
        while len(self._live) > self.max_threads:
            self._evict_oldest()
        return thread

    def _evict_oldest(self) -> None:
        tid = next(iter(self._live))
        self._forget_member(self._live.pop(tid))
        self.evicted += 1

    def _forget_member(self, thread: ThreadInfo) -> None:
        members = self._members.get(thread.pid)
        if members is not None:
            members.discard(thread.tid)
            if not members:
                del self._members[thread.pid]

    def remove(self, tid: int) -> ThreadInfo | None:
        """A thread exited: mark it, drop it from the live table, keep it in the bounded exited ring."""
        thread = self._live.pop(tid, None)
        if thread is None:
            return None
        thread.exited = True
        self._forget_member(thread)
        self._exited[tid] = thread
        while len(self._exited) > self.max_exited:
            self._exited.popitem(last=False)
        return thread

    def main_thread(self, thread: ThreadInfo) -> ThreadInfo:
        """The main thread of ``thread``'s process (the thread itself if the leader is unknown)."""
        if thread.tid == thread.pid:
            return thread
        main = self.get(thread.pid)
        return main if main is not None else thread

    def process_of(self, tid: int) -> ThreadInfo | None:
        """The main thread of the process that thread ``tid`` belongs to."""
        thread = self.get(tid)
        return self.main_thread(thread) if thread is not None else None

    def threads_of(self, pid: int) -> list[ThreadInfo]:
        """The live threads of process ``pid``."""
        return [self._live[t] for t in self._members.get(pid, ()) if t in self._live]

    def link_parent(self, thread: ThreadInfo) -> None:
        """Point ``thread.parent`` at its parent process's main thread, if known (never at itself)."""
        if thread.ptid <= 0 or thread.ptid == thread.tid:
            return
        parent = self.process_of(thread.ptid)
        if parent is not None and parent is not thread and not _is_ancestor(thread, parent):
            thread.parent = parent

    def relink_all(self) -> None:
        """Link every thread whose parent is not linked yet (after seeding in arbitrary order)."""
        for thread in self._live.values():
            if thread.parent is None:
                self.link_parent(thread)


def _is_ancestor(thread: ThreadInfo, candidate: ThreadInfo) -> bool:
    """True if linking would make a loop (``thread`` already appears above ``candidate``)."""
    node: ThreadInfo | None = candidate
    for _ in range(MAX_ANCESTRY):
        if node is None:
            return False
        if node is thread:
            return True
        node = node.parent
    return True


def ancestors(thread: ThreadInfo, limit: int = MAX_ANCESTRY) -> Iterator[ThreadInfo]:
    """The parent, grandparent, ... of ``thread`` (``proc.aname[1]``, ``[2]``, ...), at most ``limit``."""
    node = thread.parent
    for _ in range(limit):
        if node is None:
            return
        yield node
        node = node.parent


__all__ = ["ThreadTable", "ancestors", "DEFAULT_MAX_THREADS", "DEFAULT_MAX_EXITED"]
