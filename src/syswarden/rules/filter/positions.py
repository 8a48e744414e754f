"""Mapping offsets in a condition string to ``file:line:col`` in the rules file it came from.

A condition in a rules file is a YAML scalar: plain, quoted, or a block (``>`` folds newlines into spaces,
``|`` keeps them but strips indentation). The parser only sees the scalar's value, so an error offset in that
value has to be walked back onto the file text. With the file's ``SourceText`` we align the two texts
character by character, letting any whitespace run in the file stand for one whitespace character of the
value (which is exactly what folding and indentation stripping do). Without the file text we assume the
value's lines sit on consecutive file lines at the origin's column, which is right for ``|`` blocks and for
single-line conditions.
"""
from __future__ import annotations

import bisect
import re

from syswarden.spans import SourceText, Span

_BLANKS = re.compile(r"\s+")


class PositionMap:
    """Offsets in ``text`` -> ``Span`` (1-based), relative to ``origin`` when given."""

    __slots__ = ("_text", "_origin", "_source", "_segments", "_starts")

    def __init__(self, text: str, origin: Span | None = None, source: SourceText | None = None) -> None:
        self._text = text
        self._origin = origin
        self._source = source
        self._segments: tuple[list[int], list[int]] | None = None
        self._starts: list[int] | None = None

    @property
    def source(self) -> SourceText:
        """The text errors should quote: the rules file when known, else the condition itself."""
        if self._source is not None and self._origin is not None:
            return self._source
        name = self._origin.file if self._origin is not None else "<condition>"
        return SourceText(name, self._text)

    def span(self, offset: int, end: int | None = None) -> Span:
        """The span of ``text[offset:end]`` (``end`` defaults to one character)."""
        line, col = self._line_col(offset)
        end_line, end_col = self._line_col(end if end is not None else offset + 1)
        name = self._origin.file if self._origin is not None else "<condition>"
        return Span(name, line, col, end_line, end_col)

    def _line_col(self, offset: int) -> tuple[int, int]:
        offset = max(0, min(offset, len(self._text)))
        if self._origin is not None and self._source is not None:
            return self._aligned(offset)
        if self._starts is None:
            self._starts = [0] + [i + 1 for i, ch in enumerate(self._text) if ch == "\n"]
        line = bisect.bisect_right(self._starts, offset) - 1
        col = offset - self._starts[line] + 1
        if self._origin is None:
            return line + 1, col
        return self._origin.line + line, self._origin.col + col - 1

    def _aligned(self, offset: int) -> tuple[int, int]:
        assert self._source is not None
        if self._segments is None:
            self._segments = self._align()
        starts, file_offsets = self._segments
        i = bisect.bisect_right(starts, offset) - 1
        return self._source.line_col(file_offsets[i] + offset - starts[i])

    def _align(self) -> tuple[list[int], list[int]]:
        """Where the condition's characters sit in the file, as segments that advance together: ``starts[i]``
        in the condition is ``file_offsets[i]`` in the file, and so on one for one until the next segment.

        A new segment begins only after a whitespace run of the file that stands for fewer characters of the
        value (a folded newline plus indentation), so the table costs one entry per folded line, not one per
        character, and building it walks each whitespace run once.
        """
        assert self._origin is not None and self._source is not None
        file_text = self._source.text
        pos = _value_start(file_text, self._source.offset_of(self._origin.line, self._origin.col), self._text)
        starts, file_offsets = [0], [pos]
        for run in _BLANKS.finditer(self._text):
            last = run.end() - 1                          # the run's last character ...
            at = file_offsets[-1] + last - starts[-1]     # ... and where it sits in the file
            if at < len(file_text) and file_text[at].isspace():
                end = _BLANKS.match(file_text, at)
                stop = end.end() if end else at + 1
                if stop != at + 1:
                    starts.append(run.end())
                    file_offsets.append(stop)
        return starts, file_offsets


def _value_start(text: str, pos: int, value: str) -> int:
    """Where the value's first character is, when the origin is the scalar's start as YAML parsers report it:
    a block indicator (``>-``, ``|2`` ...) whose content starts on the next lines, an opening quote, or the
    indentation before the first line of a block."""
    if pos < len(text) and text[pos] in ">|" and not value.startswith(text[pos]):
        nl = text.find("\n", pos)
        if nl < 0:
            return pos
        pos = nl + 1
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        return pos
    if pos < len(text) and text[pos] in "\"'" and not value.startswith(text[pos]):
        return pos + 1
    if value[:1].strip():
        # an origin at the start of the block's first line (its indentation) rather than at its first character
        while pos < len(text) and text[pos] in " \t":
            pos += 1
    return pos
