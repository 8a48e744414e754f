"""Source positions: where in which file a piece of policy, rule or condition came from.

Every parser in syswarden records a ``Span`` on what it builds, so an error can say
``file:line:col`` and show the offending line with a caret under it.
Lines and columns are 1-based.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

from syswarden.escaping import escape_text

# The line breaks YAML (and so every document syswarden reads) counts: LF, CRLF, CR, NEL, LS, PS.
_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")


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
    """The text of one source, kept so errors can quote the offending line.

    Offsets and line/column convert through a table of line starts built once, on first use, so each lookup
    costs a bisection whatever the size of the file.
    """

    name: str
    text: str
    _starts: list[int] = field(default_factory=list, init=False, repr=False, compare=False)

    def line_starts(self) -> list[int]:
        """Offsets where each line begins (line 1 at index 0)."""
        if not self._starts:
            self._starts.extend((0, *(m.end() for m in _BREAK.finditer(self.text))))
        return self._starts

    def line(self, number: int) -> str:
        starts = self.line_starts()
        if not 0 < number <= len(starts):
            return ""
        end = starts[number] if number < len(starts) else len(self.text)
        return self.text[starts[number - 1]:end].rstrip("\r\n\x85\u2028\u2029")

    def span_at_offset(self, offset: int) -> Span:
        """Convert a 0-based character offset into a 1-based line/column span."""
        line, col = self.line_col(offset)
        return Span(self.name, line, col)

    def line_col(self, offset: int) -> tuple[int, int]:
        starts = self.line_starts()
        line = bisect.bisect_right(starts, offset)
        return line, offset - starts[line - 1] + 1

    def offset_of(self, line: int, col: int) -> int:
        """The 0-based offset of a 1-based line and column (clamped to the text)."""
        starts = self.line_starts()
        if line > len(starts):
            return len(self.text)
        return min(starts[max(line, 1) - 1] + col - 1, len(self.text))


SNIPPET_WIDTH = 120


def render_snippet(source: SourceText | None, span: Span | None) -> str:
    """The source line of ``span`` with a caret under its column (empty when unknown); a long line is cut to a
    window of ``SNIPPET_WIDTH`` characters around the column, so one huge line cannot flood the terminal."""
    if source is None or span is None or span.line <= 0:
        return ""
    text = source.line(span.line)
    if not text:
        return ""
    col = max(span.col - 1, 0)
    if len(text) > SNIPPET_WIDTH:
        start = max(0, min(col - SNIPPET_WIDTH // 2, len(text) - SNIPPET_WIDTH))
        head, tail = ("..." if start > 0 else ""), ("..." if start + SNIPPET_WIDTH < len(text) else "")
        text = head + text[start:start + SNIPPET_WIDTH] + tail
        col = col - start + len(head)
    # The line is the file's own text, chosen by whoever wrote the file: escaped like every output, with the
    # caret under the escaped column.
    return f"{escape_text(text)}\n{' ' * len(escape_text(text[:col]))}^"
