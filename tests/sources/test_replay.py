"""Tests for the replay source (syswarden.sources.replay)."""
from __future__ import annotations

from pathlib import Path

import pytest

from syswarden.errors import CaptureError, InputError
from syswarden.events.event import Event, FdInfo, FdType, ThreadInfo
from syswarden.events.jsonl import JsonlWriter
from syswarden.sources.base import SourceConfig, open_source


def _record(path: Path, *, extra_fd_after_event: bool = False) -> None:
    with JsonlWriter(path, "host1") as w:
        w.write_thread(ThreadInfo(tid=10, pid=10, ptid=1, comm="bash", cwd="/root"))
        w.write_fd(10, FdInfo(num=3, type=FdType.FILE, name="/etc/passwd"))
        w.write_thread(ThreadInfo(tid=11, pid=11, ptid=10, comm="cat"))
        w.write_event(Event(num=1, ts=100, type="openat", tid=11, res=4, params={"fd": 4, "name": "/etc/shadow"}))
        w.write_event(Event(num=2, ts=101, type="close", tid=11, res=0, params={"fd": 4}))
        if extra_fd_after_event:
            w.write_fd(10, FdInfo(num=5, type=FdType.PIPE))
        w.write_event(Event(num=3, ts=102, type="procexit", tid=11, dir=">"))


def test_registered_source_replays_snapshot_then_events(tmp_path: Path) -> None:
    """open_source("replay") yields the snapshot threads with their fds, then every event in order."""
    path = tmp_path / "r.jsonl"
    _record(path)
    src = open_source("replay", SourceConfig(path=str(path)))
    threads = list(src.initial_threads())
    assert [t.tid for t in threads] == [10, 11]
    assert threads[0].fds[3].name == "/etc/passwd"
    assert [e.num for e in src.events()] == [1, 2, 3]
    assert src.stats.events == 3 and src.stats.skipped == 0
    src.close()


def test_event_types_filter(tmp_path: Path) -> None:
    """Only the configured event types are yielded, as a kernel-side filter would deliver."""
    path = tmp_path / "r.jsonl"
    _record(path)
    src = open_source("replay", SourceConfig(path=str(path), event_types=frozenset({"close"})))
    assert [e.type for e in src.events()] == ["close"]
    src.close()


def test_events_without_initial_threads_call(tmp_path: Path) -> None:
    """events() alone skips over the snapshot and still yields the first event."""
    path = tmp_path / "r.jsonl"
    _record(path)
    src = open_source("replay", SourceConfig(path=str(path)))
    assert [e.num for e in src.events()] == [1, 2, 3]


def test_snapshot_record_after_event_is_an_error(tmp_path: Path) -> None:
    """An fd record after the first event is rejected with its line number."""
    path = tmp_path / "r.jsonl"
    _record(path, extra_fd_after_event=True)
    src = open_source("replay", SourceConfig(path=str(path)))
    with pytest.raises(CaptureError, match=r"r.jsonl:7:1: FdRecord record after the first event"):
        list(src.events())


def test_fd_for_unknown_thread_is_an_error(tmp_path: Path) -> None:
    """An fd record whose tid has no thread record before it is rejected."""
    path = tmp_path / "r.jsonl"
    with JsonlWriter(path) as w:
        w.write_fd(99, FdInfo(num=1, type=FdType.FILE))
    src = open_source("replay", SourceConfig(path=str(path)))
    with pytest.raises(CaptureError, match=r"r.jsonl:2:1: fd record for unknown tid 99"):
        list(src.initial_threads())


def test_truncated_recording_counts_a_skip(tmp_path: Path) -> None:
    """A truncated last line becomes a warning and stats.skipped, after every complete event."""
    path = tmp_path / "r.jsonl"
    _record(path)
    path.write_text(path.read_text()[:-10])
    src = open_source("replay", SourceConfig(path=str(path)))
    assert [e.num for e in src.events()] == [1, 2]
    assert src.stats.skipped == 1 and "truncated last line" in str(src.warnings[0])


def test_missing_path_is_input_error() -> None:
    """The replay source without a path is a usage error (exit 2)."""
    with pytest.raises(InputError, match="needs a file"):
        open_source("replay", SourceConfig())
