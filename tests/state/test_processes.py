"""Tests for the bounded thread table (syswarden.state.processes)."""
from __future__ import annotations

from syswarden.events.event import ThreadInfo
from syswarden.state.processes import ThreadTable, ancestors


def test_parent_points_at_main_thread_of_parent_process() -> None:
    """A child whose ptid is a non-main thread links to that process's main thread."""
    table = ThreadTable()
    main = table.add(ThreadInfo(tid=10, pid=10, comm="server"))
    table.add(ThreadInfo(tid=11, pid=10, comm="worker"))
    child = table.add(ThreadInfo(tid=20, pid=20, ptid=11))
    assert child.parent is main


def test_seeding_in_any_order_links_after_relink() -> None:
    """Children seeded before their parents are linked by relink_all."""
    table = ThreadTable()
    child = table.add(ThreadInfo(tid=3, pid=3, ptid=2))
    table.add(ThreadInfo(tid=2, pid=2, ptid=1))
    table.add(ThreadInfo(tid=1, pid=1))
    table.relink_all()
    assert [t.tid for t in ancestors(child)] == [2, 1]


def test_exited_parent_stays_reachable_from_children() -> None:
    """After the parent exits it leaves the live table but children still see it as their parent."""
    table = ThreadTable()
    parent = table.add(ThreadInfo(tid=1, pid=1, comm="p"))
    child = table.add(ThreadInfo(tid=2, pid=2, ptid=1))
    table.remove(1)
    assert 1 not in table and parent.exited
    assert child.parent is parent and child.parent.comm == "p"
    assert table.get(1) is parent          # still findable for late events
    assert table.live(1) is None


def test_exited_ring_and_live_table_are_bounded() -> None:
    """Past the caps the oldest live threads are evicted and old exited ones forgotten."""
    table = ThreadTable(max_threads=100, max_exited=10)
    for tid in range(1, 1001):
        table.add(ThreadInfo(tid=tid, pid=tid))
    assert len(table) == 100 and table.evicted == 900
    assert table.get(1) is None and table.get(1000) is not None
    for tid in range(901, 1001):
        table.remove(tid)
    assert len(table) == 0 and table.get(901) is None and table.get(1000) is not None


def test_no_parent_loops() -> None:
    """A ptid cycle (tid reuse) never creates a loop in the parent chain."""
    table = ThreadTable()
    a = table.add(ThreadInfo(tid=1, pid=1, ptid=2))
    b = table.add(ThreadInfo(tid=2, pid=2, ptid=1))
    table.relink_all()
    assert len(list(ancestors(a))) <= 2 and len(list(ancestors(b))) <= 2
    assert not (a.parent is b and b.parent is a)


def test_threads_of_process() -> None:
    """threads_of lists the live threads of one process only."""
    table = ThreadTable()
    for tid in (5, 6, 7):
        table.add(ThreadInfo(tid=tid, pid=5))
    table.add(ThreadInfo(tid=8, pid=8))
    table.remove(6)
    assert sorted(t.tid for t in table.threads_of(5)) == [5, 7]


def test_eviction_takes_least_recently_active() -> None:
    """A long-lived thread that stays active survives eviction; idle ones go first."""
    table = ThreadTable(max_threads=10)
    table.add(ThreadInfo(tid=1, pid=1, comm="init"))
    for tid in range(2, 100):
        table.add(ThreadInfo(tid=tid, pid=tid))
        table.touch(1)
    assert table.live(1) is not None and len(table) == 10
