"""The filter printer: canonical text that parses back to the same tree."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from syswarden.rules.filter import ast
from syswarden.rules.filter.parser import parse
from syswarden.rules.filter.printer import to_text

ROOT = Path(__file__).resolve().parents[3]
IDENTITY = ROOT / "tests" / "golden" / "filter_identity.txt"
STOCK = ROOT / ".." / "shared" / "anchors" / "falco"


def _identity_lines() -> list[str]:
    lines = IDENTITY.read_text().splitlines()
    return [line for line in lines if line and not line.startswith("#")]


@pytest.mark.parametrize("line", _identity_lines())
def test_identity(line: str) -> None:
    """Each canonical condition prints back exactly as written."""
    assert to_text(parse(line)) == line


def test_normalizes_spacing_and_quotes() -> None:
    """Blanks collapse, single quotes become double quotes, `==` stays `==`."""
    assert to_text(parse("(evt.type=open)and   proc.name=='x y'")) == 'evt.type = open and proc.name == "x y"'


@pytest.mark.skipif(not STOCK.is_dir(), reason="shared Falco anchors not present")
def test_stock_conditions_round_trip() -> None:
    """Every stock condition reparses from its printed form to an equal tree."""
    count = 0
    for name in ("falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"):
        for item in yaml.safe_load((STOCK / name).read_text()):
            if "condition" in item:
                tree = parse(item["condition"])
                assert parse(to_text(tree)) == tree, item
                count += 1
    assert count > 400


_names = st.sampled_from(["a", "b", "c", "d"])
_values = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)


def _checks() -> st.SearchStrategy[ast.Expr]:
    value = st.builds(ast.Value, _values, st.just(True))
    field = st.builds(ast.FieldRef, st.sampled_from(["proc.name", "fd.name"]), st.none() | st.just("x y"))
    single = st.builds(ast.Check, field, st.sampled_from(["=", "contains", "glob"]), value)
    listed = st.builds(ast.Check, field, st.just("in"), st.builds(ast.ListValue, st.tuples(value, value)))
    return st.one_of(st.builds(ast.MacroRef, _names), single, listed)


_trees = st.recursive(
    _checks(),
    lambda inner: st.one_of(
        st.builds(ast.Not, inner),
        st.builds(ast.And, st.tuples(inner, inner)),
        st.builds(ast.Or, st.tuples(inner, inner)),
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(_trees)
def test_round_trip_random_trees(tree: ast.Expr) -> None:
    """parse(to_text(e)) == e for random trees, including strings with quotes, escapes and unicode."""
    if any(isinstance(c, ast.Value) and "\x00" in c.text for c in _values_in(tree)):
        return
    assert parse(to_text(tree)) == tree


def _values_in(tree: ast.Expr) -> list[ast.Value]:
    out: list[ast.Value] = []
    stack: list[object] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Value):
            out.append(node)
        elif isinstance(node, ast.ListValue):
            stack.extend(node.items)
        elif isinstance(node, ast.Check):
            stack.append(node.rhs)
        elif isinstance(node, ast.Not):
            stack.append(node.child)
        elif isinstance(node, (ast.And, ast.Or)):
            stack.extend(node.children)
    return out
