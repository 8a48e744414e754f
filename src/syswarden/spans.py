"""Source positions: where in which file a piece of policy, rule or condition came from.

Every parser in syswarden records a ``Span`` on what it builds, so an error can say
``file:line:col`` and show the offending line with a caret under it.
Lines and columns are 1-based.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Span:
    """A region of a source file. ``end_line``/``end_col`` are inclusive-exclusive hints and may be 0."""

    file: str
    line: int
    col: int
    end_line: int = 0
    end_col: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"

    def shifted(self, line_delta: int, col: int) -> "Span":
        """A span inside an embedded text (e.g. a condition string in YAML) mapped to file coordinates."""
        return Span(self.file, self.line + line_delta, col, 0, 0)


@dataclass(frozen=True, slots=True)
class SourceText:
    """The text of one source, kept so errors can quote the offending line."""

    name: str
    text: str

    def line(self, number: int) -> str:
        lines = self.text.splitlines()
        return lines[number - 1] if 0 < number <= len(lines) else ""

    def span_at_offset(self, offset: int) -> Span:
        """Convert a 0-based character offset into a 1-based line/column span."""
        before = self.text[:offset]
        line = before.count("\n") + 1
        col = offset - (before.rfind("\n") + 1) + 1
        return Span(self.name, line, col)


def render_snippet(source: SourceText | None, span: Span | None) -> str:
    """The source line of ``span`` with a caret under its column (empty when unknown)."""
    if source is None or span is None or span.line <= 0:
        return ""
    text = source.line(span.line)
    if not text:
        return ""
    caret = " " * max(span.col - 1, 0) + "^"
    return f"{text}\n{caret}"
