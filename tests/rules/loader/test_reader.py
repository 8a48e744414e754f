"""Reader robustness and spans: any text loads into a LoadResult (never an exception); spans point at keys."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from syswarden.rules.loader import load_texts
from syswarden.rules.loader.items import RuleItem
from syswarden.rules.loader.reader import Reader
from syswarden.spans import SourceText

KEYS = ["rule", "macro", "list", "condition", "output", "desc", "priority", "items", "append", "override",
        "enabled", "tags", "exceptions", "required_engine_version", "source"]
SCALARS = st.sampled_from(["x", "evt.type = open", "true", "WARNING", "[a, b]", "{k: v}", "", "0.1.0", "-", "%"])


@st.composite
def rules_yaml(draw: st.DrawFn) -> str:
    lines = []
    for _ in range(draw(st.integers(0, 4))):
        keys = draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=5, unique=True))
        for i, key in enumerate(keys):
            lines.append(("- " if i == 0 else "  ") + f"{key}: {draw(SCALARS)}")
    return "\n".join(lines) + "\n"


@settings(max_examples=150, deadline=None)
@given(rules_yaml())
def test_structured_garbage_never_raises(text: str) -> None:
    """Random rules-like YAML yields a result with errors or a ruleset, never an uncaught exception."""
    result = load_texts([SourceText("g.yaml", text)])
    assert (result.ruleset is None) == bool(result.errors)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_raises(text: str) -> None:
    """Any text at all is loaded or rejected with located errors."""
    result = load_texts([SourceText("t.yaml", text)])
    for issue in result.errors:
        assert issue.code.name.startswith("LOAD_ERR_")


def test_condition_span_points_at_the_value() -> None:
    """A rule's condition span is where its text starts, also for folded block scalars."""
    text = "- rule: R\n  desc: d\n  condition: >\n    evt.type = open\n  output: o\n  priority: INFO\n"
    item = next(iter(Reader(SourceText("s.yaml", text)).read()))
    assert isinstance(item, RuleItem)
    assert (item.cond_span.line, item.loc[-1].span.line, item.loc[-1].span.col) == (4, 1, 3)
    assert item.condition == "evt.type = open\n" and item.output_span.line == 5
