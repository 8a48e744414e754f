"""Each kind of check the analysis maps, against the engine: whenever the compiled check (or its negation) holds on
an event, the event's kernel view passes what the check weakened to; and the mappings that are meant to be exact
give the expected box.

Events are the open family, read, close, symlink and rename events of the generated stream (tests/rules/
prefilter/streams.py), applied through the state engine as a run would, with the views ``Prefilter.view`` builds.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest

from syswarden.events.event import Event
from syswarden.events.prefilter import Box, KernelView, PathTest, Prefilter, RawFeature, RetSign, TypeFilter
from syswarden.rules import load_rules
from syswarden.rules.compiler import compile_condition
from syswarden.rules.filter.parser import parse
from syswarden.rules.prefilter.atoms import TypeContext
from syswarden.rules.prefilter.dnf import weaken
from syswarden.state import State

from tests.rules.prefilter.streams import EventStream, vocab_for

STOCK = Path(__file__).resolve().parents[3] / "src" / "syswarden" / "rules" / "data" / "falco_rules.yaml"
CHECKS = [
    "evt.res = SUCCESS", "evt.res startswith E", "evt.res != SUCCESS", "evt.res = ENOENT", "evt.res contains O",
    "evt.rawres >= 0", "evt.rawres < 0", "evt.rawres in (0, 1, 2)", "evt.rawres > 5", "evt.rawres = -2",
    "evt.failed = true", "evt.failed = false", "fd.num >= 0", "fd.num = -1", "fd.num < 3", "fd.num != 4",
    "evt.is_open_read = true", "evt.is_open_write = true", "evt.is_open_write = false", "evt.is_open_exec = true",
    "evt.arg.flags contains O_TRUNC", "evt.arg.flags contains O_SYNC", "evt.arg.flags contains O_RDWR",
    "evt.arg.flags contains O_RDONLY", "evt.arg.flags = O_RDONLY", "evt.arg.flags contains DSYNC",
    "evt.arg.flags icontains o_creat", "evt.arg.flags startswith O_WRONLY", "evt.arg[3] contains O_TRUNC",
    "fd.typechar = d", "fd.typechar in (f, 4)", "fd.type = file", "fd.type != directory",
    "fd.name in (/etc/shadow, /etc/sudoers, /root/.ssh/id_rsa)", "fd.name startswith /etc/",
    "fd.name endswith shadow", "fd.name = /etc/shadow", "fd.name glob '/etc/*/x*'", "fd.name glob '*shadow'",
    "fd.name pmatch (/etc, /root/.ssh)", "fd.name pmatch (/home/*/.ssh)", "fd.nameraw contains '../'",
    "fd.nameraw glob '*../*../*'", "fd.name contains /.ssh/", "fd.name startswith oneof (/etc/, /usr/bin/)",
    "fd.name endswith anyof (shadow, release_agent)", "fd.name intersects (/etc/shadow, /tmp/x)",
    "fd.directory in (/etc, /etc/pam.d, /)", "fd.directory = /etc/sudoers.d", "fd.directory startswith /var/log",
    "fd.directory pmatch (/etc)", "fd.directory glob '/etc*'", "fd.directory endswith log",
    "fd.filename in (shadow, syslog, auth.log)", "fd.filename endswith .log", "fd.filename glob '*.log'",
    "fd.filename = shadow", "fd.filename in (a/b)", "evt.arg.name startswith /etc/", "evt.rawarg.name = /etc/shadow",
    "proc.name in (cat, bash, sshd)", "proc.name = cat", "proc.name != cat", "proc.name startswith ca",
    "evt.type = openat", "evt.type in (open, creat)", "evt.type != openat", "tolower(fd.name) startswith /etc",
    "fd.name exists", "proc.cmdline contains shadow", "evt.arg.target in (/etc/shadow, shadow)",
    "evt.arg.oldpath startswith /etc/", "evt.dir = <",
]
TYPES = ("open", "openat", "openat2", "creat", "read", "close", "symlinkat", "renameat2")


def _param(event_type: str) -> str | None:
    return {"symlinkat": "target", "renameat2": "oldpath", "read": None, "close": None}.get(event_type, "name")


def _prefilter(event_type: str, boxes: list[Box]) -> Prefilter:
    param = _param(event_type)
    return Prefilter(filters={event_type: TypeFilter(event_type, tuple(boxes), param, param != "target")})


_CONDITIONS = [c for text in CHECKS for c in (text, f"not ({text})")]


@lru_cache(maxsize=1)
def judged() -> tuple[list[KernelView], dict[str, list[int]]]:
    """The views of the events of TYPES, and per condition the indexes of those it holds on. Each condition is
    judged right after state applied the event, as the engine does (later events change fd entries in place)."""
    ruleset = load_rules([STOCK]).ruleset
    assert ruleset is not None
    stream = EventStream(ruleset, seed=7, vocab=vocab_for(ruleset))
    state = State()
    state.seed(stream.seeds)
    predicates = {c: compile_condition(parse(c)).predicate for c in _CONDITIONS}
    shapes = {t: _prefilter(t, [Box()]) for t in TYPES}
    views: list[KernelView] = []
    holds: dict[str, list[int]] = {c: [] for c in _CONDITIONS}
    for event in stream.events(30_000):
        raw = dict(event.params)
        state.apply(event)
        if event.type not in TYPES:
            continue
        views.append(shapes[event.type].view(event, event.thread, raw, returns_dir=stream.returns_dir(event)))
        for condition, predicate in predicates.items():
            if predicate(event):
                holds[condition].append(len(views) - 1)
    return views, holds


@pytest.mark.parametrize("condition", _CONDITIONS)
def test_weakening_holds_every_event_the_check_holds(condition: str) -> None:
    views, holds = judged()
    expr = compile_condition(parse(condition)).expr
    weakened = {t: _prefilter(t, weaken(expr, TypeContext(t, _param(t), _param(t) != "target"))) for t in TYPES}
    for index in holds[condition]:
        view = views[index]
        assert weakened[view.event_type].passes(view), f"{condition!r} holds but {view} is dropped"
    assert holds[condition] or condition in NEVER, f"no event makes {condition!r} true: not a test"


NEVER = ("fd.filename in (a/b)", "not (evt.dir = <)")


def _w(text: str, t: str = "openat", param: str | None = "name") -> list[Box]:
    return weaken(compile_condition(parse(text)).expr, TypeContext(t, param))


def test_exact_mappings() -> None:
    assert _w("evt.res startswith E") == [Box(ret=RetSign.ERR)]
    assert _w("not evt.res = SUCCESS") == [Box(ret=RetSign.ERR)]
    assert _w("fd.num >= 0") == [Box(ret=RetSign.OK)]
    assert _w("evt.is_open_read = true") == [Box(accmodes=frozenset({0, 2}))]
    assert _w("evt.arg.flags contains O_TRUNC") == [Box(flags_all=0o1000)]
    assert _w("fd.typechar = f") == [Box(typechars=frozenset({"f"}))]
    assert _w("fd.name startswith /etc/") == [Box(path=PathTest(prefixes=frozenset({"/etc/"})))]
    assert _w("fd.directory in (/etc)") == [Box(path=PathTest(dirs=frozenset({"/etc"})))]
    assert _w("fd.nameraw contains '../'") == [Box(raw_features=RawFeature.DOTDOT_SLASH)]
    assert _w("not proc.name in (a, b)") == [Box(comm_not_in=frozenset({"a", "b"}))]
    assert _w("proc.name != a and proc.name in (a, b)") == [Box(comm_in=frozenset({"b"}))]
    assert _w("fd.name = /a and fd.name = /b") == []                       # never both
    assert _w("evt.type = open") == [] and _w("evt.type = openat") == [Box()]
    assert _w("evt.is_open_read = true", t="creat") == []                  # creat is not an open(2) for Falco


def test_what_the_kernel_cannot_see_is_true() -> None:
    for text in ("not fd.name startswith /etc/", "fd.name contains /.ssh/", "proc.cmdline contains x",
                 "tolower(fd.name) = /etc/shadow", "evt.arg.oldpath = /x", "container.id != host"):
        assert _w(text) == [Box()], text
    # rules written for enter events also run on enter views, where the result is <NA>: no return-sign test
    assert weaken(compile_condition(parse("evt.dir = < and fd.num >= 0")).expr,
                  TypeContext("openat", "name", enter_aware=True)) == [Box()]


def test_long_prefixes_and_suffixes_are_cut_to_the_key_sizes() -> None:
    long = "/" + "d" * 400
    (box,) = _w(f"fd.name startswith {long}")
    assert box.path is not None and box.path.prefixes == frozenset({long[:256]})
    (box,) = _w(f"fd.name endswith {long}")
    assert box.path is not None and box.path.suffixes == frozenset({long[-127:]})


def test_view_of_paths() -> None:
    pf = _prefilter("openat", [Box()])

    def view(name: str) -> KernelView:
        return pf.view(Event(1, 0, "openat", 9, {"name": name, "flags": 0o200000, "fd": 3}, res=3), None)
    assert view("/etc/shadow").path == "/etc/shadow"
    for odd in ("/etc//shadow", "/etc/./shadow", "/etc/../etc/shadow", "/etc/", "/" + "x" * 5000):
        assert view(odd).path is None, odd
    assert view("/etc/../x").raw_features == RawFeature.DOTDOT_SLASH
    assert view("src/f.c").path is None and view("src/f.c").path_tail == "/src/f.c"
    assert view("../f.c").path_tail is None and view("../f.c").raw_features is None
    assert view("/x").typechar is None                  # no thread: state attaches no fd, fd.typechar is <NA>
