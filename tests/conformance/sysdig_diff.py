"""The sysdig differential: which events a filter matches, per syswarden and per ``sysdig -r`` 0.29.

``Sysdig`` runs the oracle (answers cached on disk for the session, runs in parallel). ``stock_expressions``
turns every macro and rule of the stock rules files into self-contained filters sysdig accepts (macros and lists
expanded, clauses on fields sysdig 0.29 or syswarden lack removed) plus all their sub-expressions.
``syswarden_matches`` replays a capture once through state and evaluates many compiled filters on each event,
as the engine would. Events are compared by ``evt.num``; on captures holding event codes newer than sysdig's
table (which sysdig skips without numbering) both sides are compared by timestamp, tid and type instead.
"""
from __future__ import annotations

import hashlib
import re
import subprocess
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from known_differences import KNOWN_DIFFERENCES

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "anchors" / "falco"
CAPTURES = SHARED / "captures"
STOCK_RULES = (SHARED / "falco_rules.yaml", SHARED / "falco-incubating_rules.yaml",
               SHARED / "falco-sandbox_rules.yaml", SHARED / "tests" / "default_rules" / "falco_rules.yaml")
# the differential's captures: every readable one except the 22k-event 502Error (kept for the bench)
DIFF_CAPTURES = ("falco_cat_write.scap", "falco_connect_localhost.scap", "falco_open-multiple-files.scap",
                 "falco_ping_sendto.scap", "falco_psp_privileged.scap", "falco_psp_run_as_user_0_container.scap",
                 "falco_psp_run_as_user_65534_container.scap", "falco_psp_write_tmp_test.scap",
                 "falco_syscall.scap", "libs_curl_google.scap", "libs_sample.scap", "libs_single_ipv6_conn.scap",
                 "libs_test_ipv6_client.scap")
# fields whose semantics differ on purpose or are not ours to fix here: docs/sysdig-differences.md says why
DIFFERENT_FIELDS: frozenset[str] = frozenset({
    # sysdig resolves these through DNS on every event (no network here; minutes per run)
    "fd.sip.name", "fd.cip.name", "fd.rip.name", "fd.lip.name",
})
# operators sysdig 0.29's filter parser rejects ("unrecognized comparison operator")
SYSDIG_MISSING_OPS = frozenset({"intersects", "bcontains", "bstartswith", "iglob", "regex"})
# event codes sysdig 0.29 does not know: it skips them without giving them an evt.num
SYSDIG_UNKNOWN_TYPES = frozenset({"useradded", "groupadded", "userdeleted", "groupdeleted"})
OLD_SYSCALL_NAMES = {"rt_sigreturn": "sigreturn", "newfstatat": "newfsstat"}


class Sysdig:
    """``sysdig -r`` with a session cache; ``many`` runs several requests two at a time."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache = cache_dir

    def run(self, capture: Path, fmt: str, filt: str = "") -> list[str] | None:
        """Output lines, or None when sysdig rejects the filter or format."""
        key = hashlib.sha256(f"{capture}\0{fmt}\0{filt}".encode()).hexdigest()[:32]
        hit = self.cache / key
        if hit.exists():
            text = hit.read_text()
            return None if text == "\0rejected" else text.splitlines()
        cmd = ["sysdig", "-r", str(capture), "-p", fmt] + ([filt] if filt else [])
        proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=120)
        if proc.returncode != 0:
            hit.write_text("\0rejected")
            return None
        out = [line for line in proc.stdout.splitlines() if line.strip()]
        hit.write_text("\n".join(out) + ("\n" if out else ""))
        return out

    def many(self, requests: Sequence[tuple[Path, str, str]]) -> list[list[str] | None]:
        with ThreadPoolExecutor(max_workers=3) as pool:
            return list(pool.map(lambda r: self.run(*r), requests))


@cache
def sysdig_fields() -> frozenset[str]:
    """Field names ``sysdig -l`` lists (an argument form like ``proc.aname[N]`` counts as its name)."""
    out = subprocess.run(["sysdig", "-l"], capture_output=True, text=True, errors="replace").stdout
    return frozenset(m.group(1) for m in re.finditer(r"^([a-z]+\.[a-zA-Z0-9_.]+)", out, re.M))


@cache
def sysdig_event_types() -> frozenset[str]:
    out = subprocess.run(["sysdig", "-L"], capture_output=True, text=True, errors="replace").stdout
    return frozenset(m.group(1) for m in re.finditer(r"^[<>] (\w+)\(", out, re.M))


# -- stock rules as self-contained, prunable filters ---------------------------------------------------------


def _stock_items(path: Path) -> tuple[dict[str, str], dict[str, list[str]], list[tuple[str, str, str]]]:
    macros: dict[str, str] = {}
    lists: dict[str, list[str]] = {}
    conditions: list[tuple[str, str, str]] = []
    for item in yaml.safe_load(path.read_text()) or []:
        if not isinstance(item, dict):
            continue
        if "macro" in item and "condition" in item:
            macros[item["macro"]] = str(item["condition"])
            conditions.append(("macro", item["macro"], str(item["condition"])))
        elif "list" in item:
            lists[item["list"]] = [str(x) for x in item.get("items") or []]
        elif "rule" in item and "condition" in item:
            conditions.append(("rule", item["rule"], str(item["condition"])))
    return macros, lists, conditions


def _field_ok(ref: Any, ours: frozenset[str]) -> bool:
    from syswarden.rules.fields.registry import lookup

    name = ref.name
    if name not in sysdig_fields() and not name.startswith("evt.arg"):
        return False
    if name in DIFFERENT_FIELDS or name.startswith(("evt.arg", "evt.rawarg", "k8s.", "container.")):
        return False
    try:
        lookup(name, ref.arg)
    except Exception:  # noqa: BLE001 - a field we cannot look up is not compared
        return False
    return name not in ours


def prune(node: Any) -> Any | None:
    """``node`` without the checks sysdig 0.29 or syswarden cannot evaluate the same way (None if nothing left)."""
    from syswarden.rules.filter import ast

    if isinstance(node, ast.Check):
        refs = ast.field_refs(node)
        if not refs or not all(_field_ok(r, frozenset()) for r in refs):
            return None
        if refs[0].name == "evt.type":
            values = _values(node.rhs)
            if not values or not values <= sysdig_event_types():
                return None
        if any(isinstance(x, ast.Transform) for x in (node.lhs, node.rhs)) or node.modifier:
            return None
        if node.op in SYSDIG_MISSING_OPS:
            return None
        return node
    if isinstance(node, ast.Not):
        child = prune(node.child)
        return None if child is None else ast.Not(child)
    if isinstance(node, (ast.And, ast.Or)):
        kids = [k for k in (prune(c) for c in node.children) if k is not None]
        if not kids:
            return None
        return kids[0] if len(kids) == 1 else type(node)(tuple(kids))
    return None


def _values(rhs: Any) -> frozenset[str]:
    from syswarden.rules.filter import ast

    if isinstance(rhs, ast.Value):
        return frozenset({rhs.text})
    if isinstance(rhs, ast.ListValue):
        return frozenset(v.text for v in rhs.items)
    return frozenset()


def subexpressions(node: Any) -> Iterable[Any]:
    from syswarden.rules.filter import ast

    yield node
    if isinstance(node, ast.Not):
        yield from subexpressions(node.child)
    elif isinstance(node, (ast.And, ast.Or)):
        for c in node.children:
            yield from subexpressions(c)


def sysdig_text(node: Any) -> str:
    """Condition text sysdig 0.29 parses: it refuses ``a and b or c`` without brackets, so every nested
    ``and``/``or`` is bracketed."""
    from syswarden.rules.filter import ast
    from syswarden.rules.filter.printer import check_text

    if isinstance(node, (ast.And, ast.Or)):
        word = " and " if isinstance(node, ast.And) else " or "
        return word.join(f"({sysdig_text(c)})" if isinstance(c, (ast.And, ast.Or)) else sysdig_text(c)
                         for c in node.children)
    if isinstance(node, ast.Not):
        inner = node.child
        return f"not ({sysdig_text(inner)})" if isinstance(inner, (ast.And, ast.Or, ast.Not)) else \
            f"not {sysdig_text(inner)}"
    return check_text(node)


@dataclass(frozen=True)
class Expression:
    origin: str          # "falco_rules.yaml macro open_read" (first place it came from)
    text: str


@cache
def stock_expressions() -> tuple[Expression, ...]:
    """Every stock macro/rule condition and sub-expression, expanded and pruned, deduplicated by text."""
    from syswarden.rules.filter.parser import parse
    from syswarden.rules.passes.expand_lists import expand_lists
    from syswarden.rules.passes.resolve_macros import resolve_macros

    seen: dict[str, Expression] = {}
    for path in STOCK_RULES:
        if not path.is_file():
            continue
        macros_text, lists, conditions = _stock_items(path)
        macros = {}
        for name, text in macros_text.items():
            try:
                macros[name] = parse(text)
            except Exception:  # noqa: BLE001 - a macro we cannot parse: the conditions using it are skipped
                continue
        for kind, name, text in conditions:
            try:
                expr, _ = resolve_macros(parse(text), macros)
                expr, _ = expand_lists(expr, lists)
            except Exception:  # noqa: BLE001 - a condition we cannot resolve is not compared
                continue
            pruned = prune(expr)
            if pruned is None:
                continue
            for sub in subexpressions(pruned):
                t = sysdig_text(sub)
                if t not in seen and len(t) < 60000:
                    seen[t] = Expression(f"{path.name} {kind} {name}", t)
    return tuple(seen.values())


# -- syswarden's side ------------------------------------------------------------------------------------


def compile_all(texts: Sequence[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Compiled filters by text, and the texts syswarden rejects with the reason."""
    from syswarden.rules.compiler import compile_condition
    from syswarden.rules.filter.parser import parse

    ok: dict[str, Any] = {}
    rejected: dict[str, str] = {}
    for text in texts:
        try:
            ok[text] = compile_condition(parse(text))
        except Exception as exc:  # noqa: BLE001 - any failure: the reason is reported by the test
            rejected[text] = str(exc)
    return ok, rejected


@dataclass(frozen=True)
class Replay:
    """What syswarden saw on a capture: visible events' keys and, per filter text, the matching keys."""

    keys: dict[int, str]                  # evt.num -> "ts tid type dir" (sysdig-comparable key)
    matches: dict[str, list[int]]


def syswarden_matches(capture: Path, filters: dict[str, Any]) -> Replay:
    """Replay ``capture`` through state once and evaluate every compiled filter on each visible event."""
    from syswarden.sources.base import SourceConfig
    from syswarden.sources.scap.reader import ScapSource
    from syswarden.state import State

    compiled = list(filters.items())
    src = ScapSource(SourceConfig(path=str(capture)))
    state = State()
    state.seed(src.initial_threads())
    keys: dict[int, str] = {}
    matches: dict[str, list[int]] = {t: [] for t in filters}
    for event in src.events():
        event = state.apply(event)
        if event.state_only or event.type in SYSDIG_UNKNOWN_TYPES:
            continue
        keys[event.num] = f"{event.ts} {event.tid} {OLD_SYSCALL_NAMES.get(event.type, event.type)} {event.dir}"
        for text, flt in compiled:
            types = flt.evttypes
            if types is not None and event.type not in types:
                continue
            if flt.predicate(event):
                matches[text].append(event.num)
    return Replay(keys, matches)


def sysdig_keys(sysdig: Sysdig, capture: Path) -> dict[str, str]:
    """sysdig's evt.num -> the same "ts tid type dir" key, from one unfiltered run."""
    lines = sysdig.run(capture, "*%evt.num %evt.rawtime %thread.tid %evt.type %evt.dir") or []
    return {parts[0]: " ".join(parts[1:]) for parts in (line.split() for line in lines)}


# -- comparing -------------------------------------------------------------------------------------------

MAX_ARG = 100_000        # one argv string must stay below the kernel's 128 KiB limit


@dataclass(frozen=True)
class Mismatch:
    text: str
    ours: int
    theirs: int
    only_ours: tuple[str, ...]
    only_theirs: tuple[str, ...]

    def explained_by(self) -> str | None:
        """The documented differences (docs/sysdig-differences.md) that explain every differing event, or None."""
        names = set()
        for key in self.only_ours + self.only_theirs:
            hit = next((d for d in KNOWN_DIFFERENCES if d.applies(self.text) and d.covers(key)), None)
            if hit is None:
                return None
            names.add(hit.name)
        return ", ".join(sorted(names)) or None

    def __str__(self) -> str:
        return (f"{self.text[:160]!r}: syswarden {self.ours}, sysdig {self.theirs}; only syswarden "
                f"{list(self.only_ours[:3])}, only sysdig {list(self.only_theirs[:3])}")



def _counter(keys: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for k in keys:
        out[k] = out.get(k, 0) + 1
    return out


def compare_capture(sysdig: Sysdig, capture: Path, replay: Replay) -> tuple[list[Mismatch], list[str], int]:
    """Every filter of ``replay`` against sysdig on ``capture``: (mismatches, filters sysdig rejects, runs).

    Filters matching nothing (or everything) on syswarden's side are checked in groups -- ``a or b or ...``
    must match nothing in sysdig (``not (a and b ...)`` for the universal ones) -- and a failing group is split
    until the culprits are found; the others are compared one by one, event by event.
    """
    keyof = sysdig_keys(sysdig, capture)
    visible = len(replay.keys)
    empty = [t for t, v in replay.matches.items() if not v]
    universal = [t for t, v in replay.matches.items() if visible and len(v) == visible]
    partial = [t for t, v in replay.matches.items() if t not in set(empty) | set(universal)]
    mismatches: list[Mismatch] = []
    rejected: list[str] = []
    runs = 0
    singles: list[str] = list(partial)
    # (texts, universal?) groups, resolved level by level so sysdig runs in parallel
    pending = [(chunk, uni) for texts, uni in ((empty, False), (universal, True)) for chunk in _chunks(texts)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        while pending:
            todo = [(g, u) for g, u in pending if len(g) > 1]
            singles += [g[0] for g, u in pending if len(g) == 1]
            answers = list(pool.map(lambda gu: sysdig.run(capture, "*%evt.num", _joined(*gu)), todo))
            runs += len(todo)
            pending = []
            for (g, u), answer in zip(todo, answers):
                if answer != []:
                    half = len(g) // 2
                    pending += [(g[:half], u), (g[half:], u)]
        results = list(pool.map(lambda t: sysdig.run(capture, "*%evt.num", t), singles))
        runs += len(singles)
    for text, lines in zip(singles, results):
        if lines is None:
            rejected.append(text)
            continue
        ours = _counter(replay.keys[n] for n in replay.matches[text])
        got = _counter(keyof.get(line.strip(), "?" + line.strip()) for line in lines)
        if ours != got:
            mismatches.append(Mismatch(text, sum(ours.values()), sum(got.values()),
                                       tuple(k for k in ours if ours[k] != got.get(k, 0)),
                                       tuple(k for k in got if got[k] != ours.get(k, 0))))
    return mismatches, rejected, runs


def _joined(texts: list[str], universal_group: bool) -> str:
    if universal_group:
        return "not (" + " and ".join(f"({t})" for t in texts) + ")"
    return " or ".join(f"({t})" for t in texts)


def _chunks(texts: list[str]) -> list[list[str]]:
    """Groups whose joined text stays below the argv limit."""
    out: list[list[str]] = []
    cur: list[str] = []
    size = 0
    for t in texts:
        if cur and size + len(t) + 10 > MAX_ARG:
            out.append(cur)
            cur, size = [], 0
        cur.append(t)
        size += len(t) + 10
    if cur:
        out.append(cur)
    return out



# -- %field output strings ---------------------------------------------------------------------------------

OUTPUT_FIELDS = ("evt.type", "evt.dir", "evt.cpu", "evt.rawtime", "proc.name", "proc.pid", "proc.ppid", "proc.pname",
                 "proc.cmdline", "proc.exe", "proc.args", "proc.cwd", "thread.tid", "user.uid", "user.name",
                 "group.gid", "fd.name", "fd.num", "fd.typechar", "fd.type", "fd.directory", "fd.filename",
                 "fd.l4proto", "fd.sip", "fd.cip", "fd.sport", "fd.cport", "container.id", "evt.res", "evt.rawres",
                 "evt.is_open_read", "evt.is_open_write", "proc.aname[2]", "proc.vpid")
SEP = "\x1f"


@dataclass(frozen=True)
class FieldMismatch:
    field: str
    key: str
    ours: str
    theirs: str

    def explained_by(self) -> str | None:
        hit = next((d for d in KNOWN_DIFFERENCES if d.applies(self.field) and d.covers(self.key)
                    and d.covers_values(self.ours, self.theirs)), None)
        return hit.name if hit else None

    def __str__(self) -> str:
        return f"{self.field} on {self.key}: syswarden {self.ours!r}, sysdig {self.theirs!r}"


def compare_fields(sysdig: Sysdig, capture: Path, fields: Sequence[str] = OUTPUT_FIELDS) -> tuple[list[FieldMismatch],
                                                                                                   int]:
    """Render ``fields`` for every visible event on both sides; return the differences and events compared."""
    from syswarden.rules.output_format import OutputFormat
    from syswarden.sources.base import SourceConfig
    from syswarden.sources.scap.reader import ScapSource
    from syswarden.state import State

    fmt = "%evt.num" + "".join(f"{SEP}%{f}" for f in fields)
    lines = sysdig.run(capture, "*" + fmt) or []
    theirs = {line.split(SEP)[0]: line.split(SEP)[1:] for line in lines}
    keyof = sysdig_keys(sysdig, capture)
    ours_fmt = OutputFormat(fmt)
    src = ScapSource(SourceConfig(path=str(capture)))
    state = State()
    state.seed(src.initial_threads())
    out: list[FieldMismatch] = []
    compared = 0
    by_key = {key: num for num, key in keyof.items()}
    for event in src.events():
        event = state.apply(event)
        if event.state_only or event.type in SYSDIG_UNKNOWN_TYPES:
            continue
        key = f"{event.ts} {event.tid} {OLD_SYSCALL_NAMES.get(event.type, event.type)} {event.dir}"
        row = theirs.get(by_key.get(key, ""))
        if row is None:
            out.append(FieldMismatch("<event>", key, "present", "absent"))
            continue
        compared += 1
        values = ours_fmt.render(event)[0].split(SEP)[1:]
        out += [FieldMismatch(f, key, a, b) for f, a, b in zip(fields, values, row) if a != b]
    return out, compared
