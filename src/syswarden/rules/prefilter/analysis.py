"""The rules' half of the kernel prefilter: per event type, the union over the active rules of each condition
weakened to what the probe can test, plus what the rules ask of state.

``analyse(ruleset, types)`` works on the selected rules (``-p``/``-D``/``-T``/``-t`` already applied, macros and
lists expanded, exceptions appended: ``Rule.expr``) and reports:

* per type, the boxes (each naming the rules it serves), the rules that weaken to TRUE there (they alone keep the
  type unfiltered: the "kills prefiltering" lint, with the checks the kernel cannot test), and the path
  parameter the boxes test;
* ``file_fd_readers``: rules reading fd state (``fd.*``, ``evt.arg``, ``evt.args``, ``evt.category``) on a type
  that uses an existing fd which may be a file. The fd got its name from the open that created it, so the
  state-need side must then let every successful open through; ``dir_fd_readers``: the same for the directory
  fds path parameters are relative to (``openat``'s ``dirfd`` in ``evt.args``, ``unlinkat``'s ``fd.name``):
  the successful opens of directories must then pass, whatever else names relative paths;
* ``fd_free``: the types on which some rule can fire although user space does not know the fd (those types
  cannot be fd-gated).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache

from syswarden.events import types as evtypes
from syswarden.events.prefilter import GATED_FD_PARAMS, OPEN_FD_TYPES, Box
from syswarden.rules.filter import ast
from syswarden.rules.filter.printer import check_text
from syswarden.rules.prefilter.atoms import TypeContext, literal
from syswarden.rules.prefilter.boxes import is_always, simplify
from syswarden.rules.prefilter.dnf import weaken
from syswarden.rules.ruleset import Rule, Ruleset

#: Types the probe may send only when user space knows the fds they name (issue 14 item 2).
GATEABLE = frozenset(GATED_FD_PARAMS)
_FILE_KINDS = frozenset({"f", "d"})
_PATH_TYPES = (evtypes.ParamType.FSPATH, evtypes.ParamType.FSRELPATH)


@dataclass(frozen=True, slots=True)
class TypeAnalysis:
    """What the rules need of one event type."""

    event_type: str
    boxes: tuple[Box, ...] = ()
    always: tuple[str, ...] = ()            # rules weakened to TRUE: the type cannot be filtered
    lint: tuple[str, ...] = ()              # for each of them, "rule X kills prefiltering of T; cannot test ..."
    path_param: str | None = None
    path_fs: bool = True


@dataclass(frozen=True, slots=True)
class RulesAnalysis:
    types: Mapping[str, TypeAnalysis] = field(default_factory=dict)
    file_fd_readers: tuple[str, ...] = ()
    dir_fd_readers: tuple[str, ...] = ()
    fd_free: frozenset[str] = frozenset()


def analyse(ruleset: Ruleset, event_types: Iterable[str]) -> RulesAnalysis:
    """The rules' prefilter needs on each of ``event_types`` (the active rules of ``ruleset``)."""
    per_type: dict[str, TypeAnalysis] = {}
    readers: list[str] = []
    dir_readers: list[str] = []
    fd_free: set[str] = set()
    for t in sorted(set(event_types)):
        rules = ruleset.rules_for(t)
        param, fs = path_param(t, rules)
        boxes: list[Box] = []
        always: list[str] = []
        lint: list[str] = []
        for rule in rules:
            ctx = TypeContext(t, param, fs, enter_aware=rule.reads_direction)
            weakened = weaken(rule.expr, ctx) if rule.expr is not None else [Box()]
            if is_always(weakened):
                always.append(rule.name)
                lint.append(_lint(rule, t, ctx))
            boxes += [replace(b, origins=(rule.name,)) for b in weakened]
            if t in GATEABLE and _fires_without_fd(rule, ctx):
                fd_free.add(t)
            for kind in sorted(_fd_state_reads(rule, t, ctx)):
                (readers if kind == "file" else dir_readers).append(
                    f"rule '{rule.name}' reads {'fd' if kind == 'file' else 'directory fd'} state on {t}")
        per_type[t] = TypeAnalysis(t, () if always else tuple(simplify(boxes)), tuple(always), tuple(lint), param,
                                   fs)
    return RulesAnalysis(per_type, tuple(readers), tuple(dir_readers), frozenset(fd_free))


def path_param(event_type: str, rules: Iterable[Rule]) -> tuple[str | None, bool]:
    """The parameter the type's path tests are about, and whether it is a filesystem path: ``name`` for the
    open family, else the path-like parameter the rules test most (``evt.arg.<param>``)."""
    if event_type in OPEN_FD_TYPES:
        return "name", True
    candidates = _path_params(event_type)
    if not candidates:
        return None, True
    counts: Counter[str] = Counter()
    for rule in rules:
        if rule.expr is not None:
            counts.update(ref.arg if ref.arg is not None else ref.name.split(".", 2)[2]
                          for ref in ast.field_refs(rule.expr)
                          if ref.name.startswith(("evt.arg.", "evt.rawarg.")) or
                          (ref.name in ("evt.arg", "evt.rawarg") and ref.arg in candidates))
    ranked = [p for p in candidates if counts[p]]
    if not ranked:
        return None, True
    best = max(ranked, key=lambda p: counts[p])
    return best, candidates[best]


@lru_cache(maxsize=None)
def _path_params(event_type: str) -> dict[str, bool]:
    """Parameters of the type's exit event a path test can be about: name -> whether it is a filesystem path
    (a plain string, such as symlink's ``target``, is compared as it is)."""
    spec = evtypes.event_spec(event_type, "<")
    if spec is None:
        return {}
    return {p.name: p.type in _PATH_TYPES for p in spec.params
            if p.type in _PATH_TYPES or (p.type is evtypes.ParamType.CHARBUF and p.name in ("target",))}


def _lint(rule: Rule, event_type: str, ctx: TypeContext) -> str:
    """Why a rule keeps a type open: the checks the kernel cannot test."""
    inexact = sorted({_short(check_text(c)) for c in _checks(rule.expr)
                      if literal(c, False, ctx) is True and literal(c, True, ctx) is True})
    where = "; cannot test: " + ", ".join(inexact[:4]) + (" ..." if len(inexact) > 4 else "") if inexact else ""
    return f"rule '{rule.name}' kills prefiltering of {event_type}{where}"


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[:width - 3] + "..."


def _checks(expr: ast.Expr | None) -> list[ast.Check]:
    out: list[ast.Check] = []
    stack: list[object] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Check):
            out.append(node)
        elif isinstance(node, ast.Not):
            stack.append(node.child)
        elif isinstance(node, (ast.And, ast.Or)):
            stack.extend(node.children)
    return out


def _fires_without_fd(rule: Rule, ctx: TypeContext) -> bool:
    """Whether the rule can hold on an event whose fd user space does not know (every fd field <NA>)."""
    if rule.expr is None:
        return True
    return bool(weaken(rule.expr, replace(ctx, fd_unknown=True)))


def _fd_state_reads(rule: Rule, event_type: str, ctx: TypeContext) -> frozenset[str]:
    """The kinds of existing fd (``file``, ``dir``: a directory fd a path is relative to) whose state the rule
    reads on this type, in its condition or output; none when its condition holds only for fd kinds other than
    files and directories (sockets ...)."""
    kinds = frozenset(kind for key in rule.field_keys() for kind in _kinds_read(event_type, key))
    if not kinds or rule.expr is None:
        return kinds
    boxes = weaken(rule.expr, replace(ctx, fd_kinds=True))
    return kinds if any(b.typechars is None or b.typechars & _FILE_KINDS for b in boxes) else frozenset()


def _kinds_read(event_type: str, key: str) -> frozenset[str]:
    """Which existing fds' state a field shows on this type: ``fd.*`` and ``evt.category`` the fd state attaches
    to the event, ``evt.arg.<fd param>`` that parameter's, ``evt.args``/``evt.info``/``evt.arg[N]`` every one."""
    event_fd, params = _existing_fds(event_type)
    if key.startswith("fd.") or key == "evt.category":
        return frozenset({event_fd}) if event_fd else frozenset()
    if key in ("evt.args", "evt.info"):
        return frozenset(params.values())
    for base in ("evt.arg.", "evt.arg["):
        if key.startswith(base):
            arg = key[len(base):].rstrip("]")
            if arg.isdigit():
                return frozenset(params.values())
            return frozenset({params[arg]}) if arg in params else frozenset()
    return frozenset()


_CREATED_FD_PARAMS = frozenset({"fd", "fd1", "fd2"})    # the fds an fd-creating call returns (pipe: fd1, fd2)


@lru_cache(maxsize=None)
def _existing_fds(event_type: str) -> tuple[str | None, dict[str, str]]:
    """(the kind of the fd state attaches as ``event.fd``, the kind of each fd parameter) for the fds a type
    names that existed before the call: ``dir`` for a directory fd a path parameter is relative to, ``file``
    otherwise; the fd a call creates (and ``res``) is not one of them."""
    spec = evtypes.event_spec(event_type, "<")
    if spec is None:
        return None, {}
    dirfds = {p.dirfd for p in spec.params if p.dirfd}
    created = "creates_fd" in spec.flags and "uses_fd" not in spec.flags
    fd_params = [p.name for p in spec.params if p.type is evtypes.ParamType.FD and p.name != "res"]
    if event_type in OPEN_FD_TYPES or created:
        # Only the fds the call made are new; every other fd parameter existed before it (a dirfd,
        # open_by_handle_at's mountfd, pidfd_getfd's pid_fd) and evt.args shows its state. Counting one too many
        # only lets more opens through (slower); one too few made alerts' text differ (unsound output).
        fd_params = [p for p in fd_params if p in dirfds or p not in _CREATED_FD_PARAMS]
    kinds = {p: "dir" if p in dirfds else "file" for p in fd_params}
    event_fd = None
    if "uses_fd" in spec.flags and fd_params:
        event_fd = kinds["fd"] if "fd" in kinds else kinds[fd_params[0]]
    return event_fd, kinds


__all__ = ["GATEABLE", "TypeAnalysis", "RulesAnalysis", "analyse", "path_param"]
