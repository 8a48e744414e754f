"""Box algebra for the prefilter analysis: meet (and), hull (a sound or), covering, and fitting a DNF into the
probe's ``MAX_BOXES``.

Every operation here errs on the side of passing more: ``meet`` may keep only one of two path tests it cannot
intersect exactly (dropping a conjunct widens), ``hull`` is the smallest box holding both (an or that may take
in more), and ``fit`` merges boxes by hull until few enough remain. ``covers`` may answer False when it cannot
tell, which only keeps a redundant box.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import replace
from typing import TypeVar

from syswarden.events.prefilter import ANY_BOX, MAX_BOXES, Box, PathTest, RetSign

_EMPTY_PATH = PathTest()

_H = TypeVar("_H", bound=Hashable)     # what a box keeps sets of (access modes, type chars, uids)


def meet(a: Box, b: Box) -> Box | None:
    """A box inside both ``a`` and ``b`` that holds every event both hold; None when no event can."""
    if a.ret is RetSign.ANY or a.ret is b.ret:
        ret = b.ret
    elif b.ret is RetSign.ANY:
        ret = a.ret
    else:
        return None
    accmodes = _meet_set(a.accmodes, b.accmodes)
    typechars = _meet_set(a.typechars, b.typechars)
    uids = _meet_set(a.uid_in, b.uid_in)
    comm_not_in = a.comm_not_in | b.comm_not_in
    comm_in = _meet_set(a.comm_in, b.comm_in)
    if comm_in is not None:
        comm_in -= comm_not_in
    path = meet_path(a.path, b.path)
    if path is _EMPTY_PATH or any(s is not None and not s for s in (accmodes, typechars, uids, comm_in)):
        return None
    return Box(ret=ret, accmodes=accmodes, flags_all=a.flags_all | b.flags_all, typechars=typechars, path=path,
               raw_features=a.raw_features | b.raw_features, comm_in=comm_in,
               comm_not_in=comm_not_in if comm_in is None else frozenset(), uid_in=uids,
               returns_dir=a.returns_dir or b.returns_dir, origins=_origins(a.origins, b.origins))


def _meet_set(a: frozenset[_H] | None, b: frozenset[_H] | None) -> frozenset[_H] | None:
    if a is None:
        return b
    return a if b is None else a & b


def meet_path(p: PathTest | None, q: PathTest | None) -> PathTest | None:
    """A path test implied by both (``_EMPTY_PATH`` when none can hold); exact where it is cheap to be."""
    if p is None:
        return q
    if q is None:
        return p
    for a, b in ((p, q), (q, p)):
        if not (a.prefixes or a.suffixes or a.dirs):        # exact names only: keep those the other accepts
            kept = frozenset(x for x in a.exact if b.holds(x))
            return PathTest(exact=kept) if kept else _EMPTY_PATH
    if not (p.exact or p.suffixes or p.dirs or q.exact or q.suffixes or q.dirs):
        both = frozenset(x if x.startswith(y) else y for x in p.prefixes for y in q.prefixes
                         if x.startswith(y) or y.startswith(x))
        return PathTest(prefixes=both) if both else _EMPTY_PATH
    return max((p, q), key=_selectivity)        # cannot intersect exactly: keep one conjunct (wider, sound)


def _selectivity(test: PathTest) -> tuple[int, int]:
    """Rough preference between two path tests: names and directories over prefixes and suffixes, then longer
    prefixes."""
    loose = bool(test.prefixes or test.suffixes)
    shortest = min((len(x) for x in (*test.prefixes, *test.suffixes)), default=4096)
    return (0 if loose else 1, shortest)


def hull(a: Box, b: Box) -> Box:
    """The smallest box holding everything ``a`` or ``b`` holds."""
    return Box(ret=a.ret if a.ret is b.ret else RetSign.ANY, accmodes=_join_set(a.accmodes, b.accmodes),
               flags_all=a.flags_all & b.flags_all, typechars=_join_set(a.typechars, b.typechars),
               path=None if a.path is None or b.path is None else a.path.union(b.path),
               raw_features=a.raw_features & b.raw_features, comm_in=_join_set(a.comm_in, b.comm_in),
               comm_not_in=a.comm_not_in & b.comm_not_in, uid_in=_join_set(a.uid_in, b.uid_in),
               returns_dir=a.returns_dir and b.returns_dir, origins=_origins(a.origins, b.origins))


def _join_set(a: frozenset[_H] | None, b: frozenset[_H] | None) -> frozenset[_H] | None:
    return None if a is None or b is None else a | b


def _origins(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    return a + tuple(o for o in b if o not in a) if b else a


def covers(a: Box, b: Box) -> bool:
    """Whether every event ``b`` holds is held by ``a`` (False when it cannot tell)."""
    return ((a.ret is RetSign.ANY or a.ret is b.ret)
            and _covers_set(a.accmodes, b.accmodes) and a.flags_all & b.flags_all == a.flags_all
            and _covers_set(a.typechars, b.typechars) and _covers_set(a.uid_in, b.uid_in)
            and (a.path is None or (b.path is not None and a.path.covers(b.path)))
            and a.raw_features & b.raw_features == a.raw_features
            and _covers_comm(a, b) and (not a.returns_dir or b.returns_dir))


def _covers_set(a: frozenset[_H] | None, b: frozenset[_H] | None) -> bool:
    return a is None or (b is not None and b <= a)


def _covers_comm(a: Box, b: Box) -> bool:
    def allowed_by_a(comm: str) -> bool:
        return (a.comm_in is None or comm in a.comm_in) and comm not in a.comm_not_in
    if b.comm_in is not None:
        return all(allowed_by_a(c) for c in b.comm_in - b.comm_not_in)
    return a.comm_in is None and a.comm_not_in <= b.comm_not_in


def simplify(boxes: Iterable[Box]) -> list[Box]:
    """The same union with covered boxes removed (their origins go to the box covering them) and boxes that
    differ in one union-like dimension only merged (there the hull is exactly the or)."""
    out = _uncovered(boxes)
    changed = True
    while changed:
        changed = False
        for dim in _UNION_DIMS:
            groups: dict[tuple[object, ...], list[Box]] = {}
            rest: list[Box] = []
            for box in out:
                if getattr(box, dim) is None:
                    rest.append(box)
                else:
                    groups.setdefault(_key_without(box, dim), []).append(box)
            if any(len(group) > 1 for group in groups.values()):
                changed = True
                out = rest + [_hull_all(group) for group in groups.values()]
        if changed:
            out = _uncovered(out)
    return out


def _uncovered(boxes: Iterable[Box]) -> list[Box]:
    out: list[Box] = []
    for box in boxes:
        for k, other in enumerate(out):
            if covers(other, box):
                out[k] = _with_origins(other, box.origins)
                break
        else:
            kept = []
            for other in out:
                if covers(box, other):
                    box = _with_origins(box, other.origins)
                else:
                    kept.append(other)
            out = kept + [box]
    return out


def _with_origins(box: Box, extra: tuple[str, ...]) -> Box:
    merged = _origins(box.origins, extra)
    return box if merged == box.origins else replace(box, origins=merged)


def _hull_all(boxes: Sequence[Box]) -> Box:
    joined = boxes[0]
    for box in boxes[1:]:
        joined = hull(joined, box)
    return joined


_UNION_DIMS = ("path", "comm_in", "accmodes", "typechars", "uid_in")
_ALL_DIMS = ("ret", "accmodes", "flags_all", "typechars", "path", "raw_features", "comm_in", "comm_not_in",
             "uid_in", "returns_dir")


def _key_without(box: Box, dim: str) -> tuple[object, ...]:
    return tuple(getattr(box, d) for d in _ALL_DIMS if d != dim)


# Coarser and coarser keys: boxes with equal keys are merged by hull, level by level, until few enough remain.
_LEVELS: tuple[Callable[[Box], Hashable], ...] = (
    lambda b: (b.ret, b.accmodes, b.flags_all, b.typechars, b.raw_features, b.returns_dir, b.path is None),
    lambda b: (b.ret, b.typechars, b.returns_dir, b.path is None),
    lambda b: (b.ret, b.returns_dir),
    lambda b: b.ret,
    lambda b: 0,
)


def fit(boxes: Sequence[Box], limit: int = MAX_BOXES) -> list[Box]:
    """At most ``limit`` boxes whose union holds every event ``boxes`` hold."""
    out = simplify(boxes)
    for key in _LEVELS:
        if len(out) <= limit:
            break
        groups: dict[Hashable, list[Box]] = {}
        for box in out:
            groups.setdefault(key(box), []).append(box)
        merged: list[Box] = []
        excess = len(out) - limit
        for group in sorted(groups.values(), key=len, reverse=True):
            if excess > 0 and len(group) > 1:
                excess -= len(group) - 1
                merged.append(_hull_all(group))
            else:
                merged.extend(group)
        out = simplify(merged)
    return out


def is_always(boxes: Sequence[Box]) -> bool:
    """Whether the union holds every event (some box constrains nothing)."""
    return any(not box.constrained() for box in boxes)


__all__ = ["meet", "meet_path", "hull", "covers", "simplify", "fit", "is_always", "ANY_BOX"]
