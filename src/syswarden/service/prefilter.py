"""The kernel prefilter of a run: the rules' needs (``rules/prefilter``) and state's (``state/prefilter_needs``)
put together, type by type, and fitted into the probe's ``MAX_BOXES``; and its explanation, row by row.

``kernel_prefilter`` is called from one place, ``selection.select_events``, for the sources that filter in the
kernel; ``explain_rows`` serves ``monitor --explain-filter``.
"""
from __future__ import annotations

from collections.abc import Iterable

from syswarden.events.prefilter import MAX_BOXES, O_ACCMODE, Box, Prefilter, RetSign, TypeFilter
from syswarden.events.types import flag_table
from syswarden.rules.prefilter import GATEABLE, analyse
from syswarden.rules.prefilter.boxes import fit, is_always
from syswarden.rules.ruleset import Ruleset
from syswarden.state import prefilter_needs

ANY_TYPE = "*"
_ACCMODES = {0: "O_RDONLY", 1: "O_WRONLY", 2: "O_RDWR", 3: "O_ACCMODE"}


def kernel_prefilter(ruleset: Ruleset, event_types: frozenset[str] | None) -> Prefilter:
    """What the kernel may drop for ``ruleset`` (already selected) when the source delivers ``event_types``
    (the run's selection; None: every type)."""
    state_types = set(prefilter_needs.needs())
    types = set(event_types) if event_types is not None else set(ruleset.buckets) | state_types
    analysis = analyse(ruleset, types)
    needs = prefilter_needs.needs(types, keep_file_fds=analysis.file_fd_readers,
                                  keep_dir_fds=analysis.dir_fd_readers)
    filters: dict[str, TypeFilter] = {}
    open_types: dict[str, tuple[str, ...]] = {}
    for t in sorted(types):
        ta = analysis.types[t]
        boxes = list(ta.boxes) + list(needs.get(t, ()))
        if ta.always or is_always(boxes):
            reasons = [*ta.lint, *(o for b in boxes if not b.constrained() for o in b.origins)]
            open_types[t] = tuple(dict.fromkeys(reasons))
            continue
        filters[t] = TypeFilter(t, tuple(fit(boxes, MAX_BOXES)), ta.path_param, ta.path_fs)
    if event_types is None:
        open_types[ANY_TYPE] = tuple(f"rule '{r.name}' may match any event type" for r in ruleset.catch_all)
    gated = frozenset(t for t in GATEABLE & types if t not in analysis.fd_free)
    return Prefilter(event_types, filters, open_types, gated)


def explain_rows(prefilter: Prefilter) -> list[list[str]]:
    """``monitor --explain-filter``: one row per kernel box (type, what the kernel tests, who needs it), then
    one per unfiltered type (why it stays open)."""
    rows: list[list[str]] = []
    for t, tf in sorted(prefilter.filters.items()):
        gate = " (only fds user space knows)" if t in prefilter.fd_gated else ""
        for box in tf.boxes:
            rows.append([t, describe(box, tf.path_param) + gate, ", ".join(box.origins)])
    for t, reasons in sorted(prefilter.open_types.items()):
        gate = "only fds user space knows" if t in prefilter.fd_gated else "every event"
        for k, reason in enumerate(reasons or ("",)):
            rows.append([t if k == 0 else "", gate if k == 0 else "", reason])
    return rows


def describe(box: Box, path_param: str | None = None) -> str:
    """A box as one line: ``ret>=0 O_RDONLY|O_RDWR type=f name:{3 names, 2 prefixes} comm not in {12}``."""
    parts: list[str] = []
    if box.ret is not RetSign.ANY:
        parts.append("ret>=0" if box.ret is RetSign.OK else "ret<0")
    if box.accmodes is not None:
        parts.append("|".join(_ACCMODES[m] for m in sorted(box.accmodes)))
    if box.flags_all & ~O_ACCMODE:
        parts.append("+" + "|".join(_flag_names(box.flags_all)))
    if box.typechars is not None:
        parts.append("type=" + "|".join(sorted(box.typechars)))
    if box.returns_dir:
        parts.append("returns a directory")
    if box.path is not None:
        kinds = [(box.path.exact, "name"), (box.path.prefixes, "prefix"), (box.path.suffixes, "suffix"),
                 (box.path.dirs, "dir")]
        counts = ", ".join(f"{len(v)} {k}{'es' if k.endswith('x') else 's'}" if len(v) != 1 else
                           f"{k} {next(iter(v))}" for v, k in kinds if v)
        parts.append(f"{path_param or 'path'}:{{{counts}}}")
    if box.raw_features:
        parts.append("raw path contains ../")
    if box.comm_in is not None:
        parts.append(_names("comm in", box.comm_in))
    if box.comm_not_in:
        parts.append(_names("comm not in", box.comm_not_in))
    if box.uid_in is not None:
        parts.append("uid in {" + ", ".join(str(u) for u in sorted(box.uid_in)) + "}")
    return " ".join(parts) or "every event"


def _flag_names(bits: int) -> list[str]:
    """Names of the open flags (not the access mode) whose Linux bits are all in ``bits``."""
    return [e.name for e in flag_table("file_flags").entries
            if e.linux and e.linux > O_ACCMODE and bits & e.linux == e.linux]


def _names(label: str, names: Iterable[str]) -> str:
    names = sorted(names)
    if len(names) <= 3:
        return f"{label} {{{', '.join(names)}}}"
    return f"{label} {{{', '.join(names[:2])}, ... {len(names)} names}}"


def summary(prefilter: Prefilter) -> list[str]:
    """Headline facts: how many types the kernel filters, which stay open, which are fd-gated."""
    delivered = "every type" if prefilter.event_types is None else f"{len(prefilter.event_types)} types"
    return [(f"delivered: {delivered}; filtered in the kernel: {len(prefilter.filters)} types; "
             f"unfiltered: {len([t for t in prefilter.open_types if t != ANY_TYPE])} types"),
            "fd-gated (sent only for fds user space knows): " + (", ".join(sorted(prefilter.fd_gated)) or "none")]


__all__ = ["kernel_prefilter", "explain_rows", "describe", "summary", "ANY_TYPE"]
