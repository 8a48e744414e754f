"""The box algebra against the reference evaluator: meet holds what both hold, hull what either holds, covers
and simplify keep the union, fit keeps it within the limit; and a view that knows less passes more.

Events are drawn as complete views (every field known): a box's meaning is what it holds of real events, and a
kernel view that knows less only passes more (checked last), so what holds on complete views holds on all.
"""
from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from syswarden.events.prefilter import Box, KernelView, PathTest, RawFeature, RetSign, raw_features
from syswarden.rules.prefilter.boxes import covers, fit, hull, meet, simplify

PATHS = ("/etc/shadow", "/etc/pam.d/sshd", "/etc/x/y", "/tmp/a", "/", "/etcx", "/root/.ssh/id_rsa", "/a/../b",
         "/var/log/syslog")
COMMS = ("bash", "cat", "sshd", "dpkg")
FLAGS = (0, 1, 2, 3, 0o1000 | 1, 0o200000, 0o100 | 2, 0o2000000, 0o20200000)


def path_tests() -> st.SearchStrategy[PathTest]:
    def sub(items: tuple[str, ...]) -> st.SearchStrategy[frozenset[str]]:
        return st.frozensets(st.sampled_from(items), max_size=3)
    return st.builds(PathTest, exact=sub(PATHS), prefixes=sub(("/etc/", "/tmp", "/", "/root/.ssh/")),
                     suffixes=sub(("shadow", "/sshd", "syslog", "a")), dirs=sub(("/etc", "/", "/etc/pam.d")))


def optional_set(items: tuple, max_size: int = 3) -> st.SearchStrategy:  # type: ignore[type-arg]
    return st.none() | st.frozensets(st.sampled_from(items), max_size=max_size)


boxes = st.builds(
    Box, ret=st.sampled_from(RetSign), accmodes=optional_set((0, 1, 2, 3)),
    flags_all=st.sampled_from((0, 0o1000, 0o100, 0o200000, 0o1100)), typechars=optional_set(("f", "d")),
    path=st.none() | path_tests(), raw_features=st.sampled_from((RawFeature.NONE, RawFeature.DOTDOT_SLASH)),
    comm_in=optional_set(COMMS), comm_not_in=st.frozensets(st.sampled_from(COMMS), max_size=2),
    returns_dir=st.booleans(), origins=st.tuples(st.sampled_from(("r1", "r2", "state"))))


@st.composite
def events(draw: st.DrawFn) -> KernelView:
    """A complete view: everything the probe can know, known."""
    path = draw(st.sampled_from(PATHS))
    return KernelView("openat", ret=draw(st.sampled_from((-2, 0, 3))), flags=draw(st.sampled_from(FLAGS)),
                      typechar=draw(st.sampled_from(("f", "d"))), path=path, raw_features=raw_features(path),
                      comm=draw(st.sampled_from(COMMS)), returns_dir=draw(st.booleans()), uid=0)


@settings(max_examples=150, deadline=None)
@given(boxes, boxes, events())
def test_meet_holds_what_both_hold(a: Box, b: Box, view: KernelView) -> None:
    m = meet(a, b)
    if a.holds(view) and b.holds(view):
        assert m is not None and m.holds(view)


@settings(max_examples=150, deadline=None)
@given(boxes, boxes, events())
def test_hull_holds_what_either_holds(a: Box, b: Box, view: KernelView) -> None:
    if a.holds(view) or b.holds(view):
        assert hull(a, b).holds(view)


@settings(max_examples=150, deadline=None)
@given(boxes, boxes, st.lists(events(), min_size=1, max_size=30))
def test_covers_is_containment(a: Box, b: Box, views: list[KernelView]) -> None:
    if covers(a, b):
        assert all(a.holds(v) for v in views if b.holds(v))
    assert covers(a, a) and covers(hull(a, b), a) and covers(hull(a, b), b)


@settings(max_examples=80, deadline=None)
@given(st.lists(boxes, max_size=12), st.lists(events(), min_size=1, max_size=30))
def test_simplify_keeps_the_union_exactly(union: list[Box], views: list[KernelView]) -> None:
    simple = simplify(union)
    assert len(simple) <= len(union)
    for view in views:
        assert any(b.holds(view) for b in simple) == any(b.holds(view) for b in union)


@settings(max_examples=80, deadline=None)
@given(st.lists(boxes, max_size=40), st.integers(1, 8), st.lists(events(), min_size=1, max_size=30))
def test_fit_stays_within_the_limit_and_holds_the_union(union: list[Box], limit: int,
                                                        views: list[KernelView]) -> None:
    fitted = fit(union, limit)
    assert len(fitted) <= limit
    for view in views:
        if any(b.holds(view) for b in union):
            assert any(b.holds(view) for b in fitted)
    origins = {o for b in union for o in b.origins}
    assert {o for b in fitted for o in b.origins} == origins      # --explain-filter loses no rule


@settings(max_examples=150, deadline=None)
@given(boxes, events(), st.sets(st.sampled_from(("ret", "flags", "typechar", "path", "raw_features", "comm",
                                                  "returns_dir"))), st.integers(1, 3))
def test_a_view_that_knows_less_passes_more(box: Box, view: KernelView, unknown: set[str], keep: int) -> None:
    """Forgetting fields (or knowing only the path's last components, as for a relative argument) never
    turns a pass into a drop."""
    partial = dataclasses.replace(view, **{name: None for name in unknown})
    if "path" in unknown and view.path and view.path != "/":
        partial = dataclasses.replace(partial, path_tail="/" + "/".join(view.path.split("/")[-keep:]).lstrip("/"))
    if box.holds(view):
        assert box.holds(partial)


def test_tail_decides_only_suffix_tests() -> None:
    suffixes = PathTest(suffixes=frozenset({"release_agent"}))
    assert suffixes.excludes_tail("/proj/src/mod0/f0.c")
    assert not suffixes.excludes_tail("/cgroup/release_agent")
    assert not suffixes.excludes_tail("/ent")                    # shorter than the suffix: the base decides
    mixed = PathTest(suffixes=frozenset({"release_agent"}), prefixes=frozenset({"/etc/"}))
    assert not mixed.excludes_tail("/proj/src/mod0/f0.c")
