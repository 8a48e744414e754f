"""Offsets in a condition mapped back to file positions, for every way YAML can hold the condition."""
from __future__ import annotations

import pytest
import yaml

from syswarden.rules.filter.positions import PositionMap
from syswarden.spans import SourceText, Span


def _where(doc: str, needle: str) -> tuple[int, int]:
    """(line, col) of ``needle``'s first character in the file, 1-based."""
    offset = doc.index(needle)
    before = doc[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


DOCS = {
    "plain": "- macro: m\n  condition: evt.type = open and proc.name = target\n",
    "plain multi-line": "- macro: m\n  condition: evt.type = open\n    and proc.name = target\n",
    "folded": "- macro: m\n  condition: >\n    evt.type = open\n    and proc.name = target\n",
    "literal": "- macro: m\n  condition: |\n    evt.type = open\n      and proc.name = target\n",
    "double quoted": '- macro: m\n  condition: "evt.type = open and proc.name = target"\n',
    "indented list item": "- macro: m\n  condition: >-\n       (evt.type = open)\n\n       and proc.name = target\n",
}


@pytest.mark.parametrize("kind", list(DOCS))
def test_offset_maps_to_file_position(kind: str) -> None:
    """The word 'target' in the parsed value is found at its place in the file."""
    doc = DOCS[kind]
    value = yaml.safe_load(doc)[0]["condition"]
    origin_line, origin_col = _where(doc, "evt.type") if not doc.count('"') else _where(doc, '"evt.type')
    if doc.count('"'):
        origin_col += 1
    pos = PositionMap(value, Span("f.yaml", origin_line, origin_col), SourceText("f.yaml", doc))
    span = pos.span(value.index("target"))
    assert (span.line, span.col) == _where(doc, "target")


def test_without_origin_positions_are_in_the_condition() -> None:
    """Without an origin, line and column count inside the condition text."""
    pos = PositionMap("a and\n  b")
    span = pos.span(8)
    assert (span.file, span.line, span.col) == ("<condition>", 2, 3)
    assert pos.source.text == "a and\n  b"


def test_end_of_text_is_a_valid_position() -> None:
    """An error at the very end (missing operand) still maps to a position after the last character."""
    doc = "- rule: r\n  condition: evt.type =\n"
    pos = PositionMap("evt.type =", Span("f.yaml", 2, 14), SourceText("f.yaml", doc))
    span = pos.span(len("evt.type ="))
    assert (span.line, span.col) == (2, 24)


@pytest.mark.parametrize(("header", "quote"), [(">", ""), (">-", ""), ("|", ""), ("|2", ""), ("", '"'), ("", "'")])
def test_origin_at_scalar_start_is_understood(header: str, quote: str) -> None:
    """An origin at the block indicator or the opening quote (where YAML parsers put a scalar's start) works."""
    if header:
        doc = f"- rule: r\n  condition: {header}\n    spawned and\n    proc.name = target\n"
    else:
        doc = f"- rule: r\n  condition: {quote}spawned and proc.name = target{quote}\n"
    value = yaml.safe_load(doc)[0]["condition"]
    pos = PositionMap(value, Span("f.yaml", 2, 14), SourceText("f.yaml", doc))
    span = pos.span(value.index("target"))
    assert (span.line, span.col) == _where(doc, "target")


def test_error_at_end_of_block_scalar_points_after_last_word() -> None:
    """A missing ')' at the end of a `>` block is reported just after the last word, not on the next key."""
    from syswarden.errors import FilterSyntaxError
    from syswarden.rules.filter.parser import parse

    doc = "- rule: r\n  condition: >\n    spawned and\n    (proc.name = x\n  output: o\n"
    value = yaml.safe_load(doc)[0]["condition"]
    with pytest.raises(FilterSyntaxError) as info:
        parse(value, origin=Span("f.yaml", 2, 14), source=SourceText("f.yaml", doc))
    assert info.value.span is not None and (info.value.span.line, info.value.span.col) == (4, 19)
    assert info.value.message == "expected a ')' token closing the '(' at f.yaml:4:5"


def test_origin_at_block_line_start_skips_indentation() -> None:
    """An origin at column 1 of the block's first line (the loader's choice) is moved past the indentation."""
    doc = "- rule: r\n  condition: >\n    spawned and\n    proc.name = target\n"
    value = yaml.safe_load(doc)[0]["condition"]
    pos = PositionMap(value, Span("f.yaml", 3, 1), SourceText("f.yaml", doc))
    assert (pos.span(0).line, pos.span(0).col) == (3, 5)
    span = pos.span(value.index("target"))
    assert (span.line, span.col) == _where(doc, "target")
