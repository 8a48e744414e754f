"""ScapSource against sysdig 0.29 on the real captures, and its behaviour on damaged files."""
from __future__ import annotations

import gzip
import shutil
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from syswarden.errors import CaptureError
from syswarden.sources.base import SourceConfig, open_source
from syswarden.sources.scap import blocks as B
from syswarden.sources.scap import event_codes as EC
from syswarden.service.selection import state_event_types
from syswarden.sources.scap.reader import EventDecoder, ScapSource
from syswarden.sources.scap.stream import load_bytes

from .scap_oracle import ALL_CAPTURES, capture_path

# sysdig 0.29 names two generic syscall ids as libs did before 0.10 (see docs/sysdig-differences.md)
OLD_NAMES = {"rt_sigreturn": "sigreturn", "newfstatat": "newfsstat"}
# event codes newer than sysdig 0.29's event table: it skips them without numbering them
SYSDIG_UNKNOWN = {"useradded", "groupadded", "userdeleted", "groupdeleted"}
READABLE = [c for c in ALL_CAPTURES if c != "libs_curl_google_comments.scap"]


def visible_keys(path: Path) -> Counter[tuple[str, str, str, str]]:
    src = ScapSource(SourceConfig(path=str(path)))
    return Counter((str(e.ts), str(e.tid), OLD_NAMES.get(e.type, e.type), e.dir)
                   for e in src.events() if not e.state_only and e.type not in SYSDIG_UNKNOWN)


@pytest.mark.parametrize("name", READABLE)
def test_visible_events_equal_sysdig(name: str, sysdig) -> None:
    """The events a user sees (not state-only) are exactly the ones sysdig prints, by time, tid, type, dir."""
    path = capture_path(name)
    theirs = Counter(tuple(line.split()) for line in
                     sysdig.lines(path, "*%evt.rawtime %thread.tid %evt.type %evt.dir"))
    assert visible_keys(path) == theirs


@pytest.mark.parametrize("name", ["falco_cat_write.scap", "libs_curl_google.scap", "falco_syscall.scap"])
def test_evt_num_equals_sysdig(name: str, sysdig) -> None:
    """evt.num counts every event of the file, hidden ones included, as sysdig numbers them."""
    path = capture_path(name)
    theirs = [tuple(line.split()) for line in sysdig.lines(path, "*%evt.num %evt.rawtime %evt.type")]
    src = ScapSource(SourceConfig(path=str(path)))
    mine = [(str(e.num), str(e.ts), OLD_NAMES.get(e.type, e.type)) for e in src.events() if not e.state_only]
    assert mine == theirs


def test_thread_table_seeds_from_proclist(sysdig) -> None:
    """The process list gives the threads sysdig knows: cat's parent bash with its cwd, before any event."""
    path = capture_path("falco_cat_write.scap")
    threads = {t.tid: t for t in ScapSource(SourceConfig(path=str(path))).initial_threads()}
    line = sysdig.lines(path, "*%proc.ppid %proc.pname", "evt.num=131")[0].split()
    parent = threads[int(line[0])]
    assert parent.comm == line[1]
    assert parent.cwd.startswith("/")
    assert all(fd.num >= 0 for t in threads.values() for fd in t.fds.values())


def test_open_source_registry_and_gzip_equal(tmp_path: Path) -> None:
    """open_source('scap') reads a plain and a gzipped copy of one capture to the same events."""
    raw = load_bytes(str(capture_path("falco_cat_write.scap")))
    plain, packed = tmp_path / "c.scap", tmp_path / "c.scap.gz"
    plain.write_bytes(raw)
    packed.write_bytes(gzip.compress(raw))
    a = [(e.num, e.type, e.dir, e.params) for e in open_source("scap", SourceConfig(path=str(plain))).events()
         if e.num]
    b = [(e.num, e.type, e.dir, e.params) for e in open_source("scap", SourceConfig(path=str(packed))).events()
         if e.num]
    assert a == b and len(a) == 345


def test_enter_params_complete_old_exit_events() -> None:
    """An old read exit lacks fd: the reader fills it from the thread's enter event, so both sides have it."""
    src = ScapSource(SourceConfig(path=str(capture_path("falco_cat_write.scap"))))
    reads = [e for e in src.events() if e.type == "read"]
    assert reads and all("fd" in e.params for e in reads)
    exits = [e for e in reads if e.dir == "<"]
    assert exits and all(isinstance(e.res, int) for e in exits)


@pytest.mark.parametrize("cut", [0.13, 0.5, 0.77, 0.999])
def test_truncated_copy_keeps_events_before_damage(tmp_path: Path, cut: float) -> None:
    """A file cut anywhere stops at the damaged block, names its byte offset and keeps every event before it."""
    raw = load_bytes(str(capture_path("libs_curl_google.scap")))
    full = [(e.num, e.type, e.params) for e in ScapSource(SourceConfig(path=_write(tmp_path, "f", raw))).events()]
    at = int(len(raw) * cut)
    src = ScapSource(SourceConfig(path=_write(tmp_path, "t", raw[:at]), options={"on_error": "stop"}))
    got = [(e.num, e.type, e.params) for e in src.events()]
    assert got == full[: len(got)] and len(got) < len(full)
    assert src.error is not None and "byte offset" in str(src.error) and src.stats.skipped == 1
    offset = int(str(src.error).split("byte offset ")[1].split()[0].rstrip(":"))
    assert offset <= at < offset + 65536 + 12


def test_truncated_raises_after_last_good_event(tmp_path: Path) -> None:
    """Without on_error=stop, the CaptureError is raised once the good events have been delivered."""
    raw = load_bytes(str(capture_path("falco_cat_write.scap")))
    src = ScapSource(SourceConfig(path=_write(tmp_path, "t", raw[: len(raw) - 100])))
    seen = []
    with pytest.raises(CaptureError, match=r"truncated block at byte offset \d+"):
        for e in src.events():
            if e.num:
                seen.append(e.num)
    assert seen == list(range(1, len(seen) + 1)) and len(seen) >= 300


def test_truncated_gzip_keeps_inflated_part(tmp_path: Path) -> None:
    """A cut gzip stream is inflated as far as it goes; the reader then stops at the damaged block."""
    packed = (capture_path("libs_curl_google.scap")).read_bytes()
    src = ScapSource(SourceConfig(path=_write(tmp_path, "g.gz", packed[: len(packed) * 9 // 10]),
                                  options={"on_error": "stop"}))
    assert len(list(src.events())) > 0 and src.error is not None


def _write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


BAD = Path(__file__).resolve().parents[2] / "data" / "bad" / "scap"


@pytest.mark.parametrize("types", [None, frozenset({"open"})], ids=["all-types", "some-types"])
@pytest.mark.parametrize("case", sorted(p.name for p in BAD.glob("*.scap")))
def test_bad_files_give_their_expected_error(case: str, types: frozenset[str] | None) -> None:
    """Each malformed capture in tests/data/bad/scap fails with the message in its .expected file, also when
    the damaged event is of a type that is not decoded."""
    expected = (BAD / case).with_suffix(".expected").read_text().strip()
    with pytest.raises(CaptureError) as info:
        src = ScapSource(SourceConfig(path=str(BAD / case), event_types=types))
        list(src.events())
    assert expected in str(info.value)


def test_user_list_becomes_state_only_account_events() -> None:
    """The file's user and group lists come first as state-only useradded/groupadded events numbered 0."""
    src = ScapSource(SourceConfig(path=str(capture_path("falco_cat_write.scap"))))
    head = []
    for e in src.events():
        if e.num:
            break
        head.append(e)
    users = {e.params["uid"]: e.params["name"] for e in head if e.type == "useradded"}
    assert users[0] == "root" and all(e.state_only for e in head)
    assert any(e.type == "groupadded" for e in head)


def test_missing_file_is_a_capture_error(tmp_path: Path) -> None:
    """A path that does not exist is reported as a CaptureError (exit code 2), not an OSError."""
    with pytest.raises(CaptureError, match="cannot read capture"):
        ScapSource(SourceConfig(path=str(tmp_path / "nope.scap")))
    assert shutil.which("true")


@pytest.mark.parametrize("name", ["falco_cat_write.scap", "libs_curl_google.scap"])
def test_enter_and_exit_give_the_same_fields(name: str) -> None:
    """On an old capture, a syscall's enter and exit events show the same fd and process fields (except where
    the syscall itself creates or renames the fd), so rules see the same values on both sides."""
    from syswarden.service.capture import with_state
    from syswarden.events.types import event_spec
    from syswarden.rules.output_format import OutputFormat

    fmt = OutputFormat("%fd.name %fd.num %fd.typechar %proc.name %proc.cmdline %user.uid")
    pending: dict[int, tuple[str, str]] = {}
    same = 0
    for event in with_state(ScapSource(SourceConfig(path=str(capture_path(name))))):
        if event.state_only or not event.num:
            continue
        text = fmt.render(event)[0]
        if event.dir == ">":
            pending[event.tid] = (event.type, text)
            continue
        before = pending.pop(event.tid, None)
        spec = event_spec(event.type, "<")
        changes_fd = spec is None or "creates_fd" in spec.flags or event.type in (
            "connect", "bind", "accept", "accept4", "execve", "clone", "fork", "vfork", "close", "dup", "dup2",
            "sendto", "sendmsg", "recvfrom", "recvmsg")     # a tuple on the exit may re-address the socket
        if before is None or before[0] != event.type or changes_fd or "fd" not in event.params:
            continue
        assert before[1] == text, (event.num, event.type)
        same += 1
    assert same > 10


def _decoded(src: ScapSource) -> list[tuple]:
    return [(e.num, e.ts, e.tid, e.type, e.dir, e.params, e.res, e.state_only) for e in src.events()]


@pytest.mark.parametrize("with_state", [True, False], ids=["state-added", "as-given"])
@pytest.mark.parametrize("name", READABLE)
def test_event_types_decode_only_those_keeping_file_numbers(name: str, with_state: bool) -> None:
    """Asked for some types (with or without the ones state needs: the caller decides, the source adds
    nothing), the source yields exactly the events of those types that a full read yields, with the same
    numbers and parameters (enter/exit merging unaffected)."""
    path = str(capture_path(name))
    asked = frozenset({"read", "write", "futex", "mmap"})
    wanted = asked | state_event_types() if with_state else asked
    full = _decoded(ScapSource(SourceConfig(path=path)))
    narrowed = _decoded(ScapSource(SourceConfig(path=path, event_types=wanted)))
    assert narrowed == [e for e in full if e[3] in wanted]
    assert len(narrowed) < len(full)
    assert any(e[3] in asked for e in narrowed) or not any(e[3] in asked for e in full)


@pytest.mark.parametrize("name", ["libs_sample.scap", "falco_cat_write.scap", "sysdig-inspect_502Error.scap"])
def test_fixed_width_fast_path_equals_per_parameter_decoding(name: str) -> None:
    """Events whose parameters are all ints at their usual widths are unpacked with one struct: the values are
    those the per-parameter decoders give."""
    raw_events = [r for r in B.iter_records(load_bytes(str(capture_path(name))), name, 0, EC.nparams_by_code(),
                                            EC.large_codes()) if isinstance(r, B.RawEvent)]
    decoder = EventDecoder()
    fast = 0
    for raw in raw_events:
        plan = decoder.plan(raw.code)
        if plan is None or raw.lens != plan.fixed_lens:
            continue
        fast += 1
        slow = EventDecoder().decode(raw, replace(plan, fixed_lens=None), 1)
        assert EventDecoder().decode(raw, plan, 1).params == slow.params, (name, raw.offset, plan.name)
    assert fast > len(raw_events) // 3
