"""The prefilter model: what Prefilter.view says the probe knows of an event, and how passes uses it."""
from __future__ import annotations

import dataclasses

from syswarden.events.event import Event, ThreadInfo
from syswarden.events.prefilter import (Box, KernelView, PathTest, Prefilter, RawFeature, RetSign, TypeFilter,
                                        is_normal, parent_dir)

SHADOW = PathTest(exact=frozenset({"/etc/shadow"}))


def _prefilter(*boxes: Box, event_type: str = "openat", param: str | None = "name", fs: bool = True,
               gated: frozenset[str] = frozenset()) -> Prefilter:
    return Prefilter(event_types=frozenset({event_type, "close"}),
                     filters={event_type: TypeFilter(event_type, boxes, param, fs)}, fd_gated=gated)


def test_view_of_an_exit_and_an_enter_event() -> None:
    pf = _prefilter(Box())
    thread = ThreadInfo(tid=5, pid=5, comm="cat")
    exit_event = Event(1, 0, "openat", 5, {"fd": 3, "name": "/etc/shadow", "flags": 0o200002}, res=3)
    view = pf.view(exit_event, thread, returns_dir=True)
    assert (view.ret, view.flags, view.typechar, view.path, view.comm, view.returns_dir) == (
        3, 0o200002, "d", "/etc/shadow", "cat", True)
    enter = Event(1, 0, "openat", 5, {"name": "/etc/shadow", "flags": 0}, dir=">", res=None)
    view = pf.view(enter, thread, returns_dir=True)
    assert (view.ret, view.flags, view.typechar, view.returns_dir, view.path) == (None, None, None, None,
                                                                                   "/etc/shadow")
    # a recording whose res parameter disagrees with the event's result: the probe's ret is not known
    odd = Event(1, 0, "openat", 5, {"res": 4, "name": "/x", "flags": 0}, res=3)
    assert pf.view(odd, thread).ret is None
    # comm is what state has; a thread without a name (<NA>) is unknown
    assert pf.view(exit_event, ThreadInfo(tid=5, pid=5, comm="")).comm is None


def test_relative_paths_state_resolves_are_unknown_but_plain_strings_are_compared() -> None:
    event = Event(1, 0, "symlinkat", 5, {"target": "etc/shadow", "linkpath": "x"}, res=0)
    plain = _prefilter(Box(path=PathTest(exact=frozenset({"etc/shadow"}))), event_type="symlinkat",
                       param="target", fs=False)
    assert plain.view(event, None).path == "etc/shadow" and plain.passes(plain.view(event, None))
    resolved = _prefilter(Box(path=SHADOW), event_type="symlinkat", param="linkpath")
    view = resolved.view(event, None)
    assert view.path is None and view.path_tail == "/x" and resolved.passes(view)


def test_passes() -> None:
    pf = _prefilter(Box(ret=RetSign.OK, accmodes=frozenset({0, 2}), path=SHADOW, comm_not_in=frozenset({"sshd"})))
    base = KernelView("openat", ret=3, flags=0, typechar="f", path="/etc/shadow", comm="cat")
    assert pf.passes(base)
    for change in ({"ret": -2}, {"flags": 1}, {"path": "/etc/passwd"}, {"comm": "sshd"}):
        assert not pf.passes(dataclasses.replace(base, **change)), change
        unknown = dataclasses.replace(base, **{name: None for name in change})
        assert pf.passes(unknown), change                       # what the probe cannot know passes
    assert not pf.passes(KernelView("read"))                    # a type the run does not deliver
    assert pf.passes(KernelView("close"))                       # delivered, not filtered


def test_fd_gated_types_pass_only_for_fds_user_space_knows() -> None:
    pf = _prefilter(Box(), gated=frozenset({"close"}))
    assert not pf.passes(KernelView("close", fd_known=False))
    assert pf.passes(KernelView("close", fd_known=True)) and pf.passes(KernelView("close"))


def test_raw_features_and_helpers() -> None:
    pf = _prefilter(Box(raw_features=RawFeature.DOTDOT_SLASH))
    traversal = Event(1, 0, "openat", 5, {"name": "/var/www/../../etc/shadow", "flags": 0}, res=3)
    view = pf.view(traversal, None)
    assert view.path is None and view.raw_features == RawFeature.DOTDOT_SLASH and pf.passes(view)
    assert not pf.passes(pf.view(Event(1, 0, "openat", 5, {"name": "/etc/shadow", "flags": 0}, res=3), None))
    assert [is_normal(p) for p in ("/", "/a/b", "/a/", "//a", "/a/./b", "/a/..", "a/b")] == [
        True, True, False, False, False, False, False]
    assert [parent_dir(p) for p in ("/etc/shadow", "/x", "/")] == ["/etc", "/", "/"]
