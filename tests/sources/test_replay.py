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


CAPTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "anchors" / "falco" / "captures"
ALL_CAPTURES = sorted(p.name for p in CAPTURES.glob("*.scap") if "comments" not in p.name) or ["falco_cat_write.scap"]


@pytest.mark.parametrize("capture", ALL_CAPTURES)
def test_real_capture_survives_jsonl(tmp_path: Path, capture: str) -> None:
    """A Falco capture copied to JSONL replays the same threads and events, and state ends up the same."""
    from syswarden.sources.scap.reader import ScapSource
    from syswarden.state import State

    scap_path = CAPTURES / capture
    if not scap_path.exists():
        pytest.skip(f"{scap_path} is missing")
    scap = ScapSource(SourceConfig(path=str(scap_path)))
    threads, events = list(scap.initial_threads()), list(scap.events())
    path = tmp_path / "copy.jsonl"
    with JsonlWriter(path, scap.hostname) as w:
        for t in threads:
            w.write_thread(t)
            for fd in t.fds.values():
                w.write_fd(t.tid, fd)
        for e in events:
            w.write_event(e)
    replay = open_source("replay", SourceConfig(path=str(path)))
    back_threads, back_events = list(replay.initial_threads()), list(replay.events())
    assert back_threads == threads and back_events == events and len(events) > 100
    states = []
    for ths, evs in ((threads, events), (back_threads, back_events)):
        st = State()
        st.seed(ths)
        names = [(e.fd.name if e.fd else None, e.thread.comm if e.thread else None) for e in map(st.apply, evs)]
        states.append(names)
    assert states[0] == states[1]
