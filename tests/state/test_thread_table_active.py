"""``ThreadTable.active``: finding the thread of the event being applied counts as activity (LRU order)."""
from __future__ import annotations

from syswarden.events.event import ThreadInfo
from syswarden.state.processes import ThreadTable


def test_active_thread_survives_eviction_and_exited_ones_are_found() -> None:
    table = ThreadTable(max_threads=2)
    first = table.add(ThreadInfo(tid=1, pid=1))
    table.add(ThreadInfo(tid=2, pid=2))
    assert table.active(1) is first          # 1 is now the most recently active ...
    table.add(ThreadInfo(tid=3, pid=3))      # ... so adding a third evicts 2, not 1
    assert table.live(1) is first and table.live(2) is None
    exited = table.remove(3)
    assert exited is not None and table.active(3) is exited and table.live(3) is None
    assert table.active(99) is None
