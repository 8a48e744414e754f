"""Mangled conditions fail only with located FilterSyntaxErrors (or compile errors), never with a crash."""
from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from syswarden.errors import FilterSyntaxError, RuleLoadError
from syswarden.rules.compiler import compile_condition
from syswarden.rules.filter.parser import parse
from syswarden.spans import SourceText, Span

STOCK = Path(__file__).resolve().parents[3] / ".." / "shared" / "anchors" / "falco" / "falco_rules.yaml"
ALPHABET = "()'\",= \n\t\\[]!<>aenot.xyz0-/*"


def _conditions() -> list[str]:
    if not STOCK.is_dir() and not STOCK.is_file():
        return ["evt.type = open and proc.name in (a, 'b c') and not fd.name startswith /etc"]
    return [i["condition"] for i in yaml.safe_load(STOCK.read_text()) if "condition" in i]


CONDITIONS = _conditions()


def _mangle(rng: random.Random, text: str) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(chars) + 1)
        if rng.random() < 0.5 and chars:
            del chars[min(at, len(chars) - 1)]
        else:
            chars.insert(at, rng.choice(ALPHABET))
    return "".join(chars)


def _check(text: str) -> None:
    lines = text.count("\n") + 1
    try:
        expr = parse(text, origin=Span("f.yaml", 10, 5), source=SourceText("f.yaml", "\n" * 9 + "    " + text))
    except FilterSyntaxError as exc:
        assert exc.span is not None and 10 <= exc.span.line <= 9 + lines and exc.span.col >= 1, exc
        assert exc.message
        return
    try:
        compile_condition(expr)
    except RuleLoadError as exc:
        assert exc.message


def test_mangled_stock_conditions() -> None:
    """Random insertions/deletions in every stock condition give a result or a located error."""
    rng = random.Random(1234)
    for cond in CONDITIONS:
        for _ in range(6):
            _check(_mangle(rng, cond))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=40))
def test_random_text(text: str) -> None:
    """Arbitrary short texts over the language's characters never crash the parser or compiler."""
    if text.strip():
        _check(text)


@pytest.mark.parametrize("text", ["(" * 5000, "not " * 3000 + "a", "a and " * 3000 + "a", '"' + "\\" * 501])
def test_pathological_inputs(text: str) -> None:
    """Huge nesting, long chains and runaway escapes end in errors or results, not interpreter crashes."""
    try:
        parse(text)
    except FilterSyntaxError as exc:
        assert exc.span is not None


def test_long_chains_compile() -> None:
    """A 3000-term `and` chain and 900 stacked `not`s compile and evaluate; 3000 `not`s hit the depth cap."""
    from syswarden.events.event import Event

    event = Event(num=1, ts=0, type="open", tid=1)
    chain = compile_condition(parse(" and ".join(f"evt.num != {i}" for i in range(2, 3002))))
    assert chain.predicate(event) is True
    nots = compile_condition(parse("not " * 900 + "evt.num = 1"))
    assert nots.predicate(event) is True
    with pytest.raises(FilterSyntaxError, match="exceeded max depth limit of 1000"):
        parse("not " * 3000 + "a")
