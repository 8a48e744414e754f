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

from syswarden.spans import SourceText, Span


class PositionMap:
    """Offsets in ``text`` -> ``Span`` (1-based), relative to ``origin`` when given."""

    __slots__ = ("_text", "_origin", "_source", "_table", "_starts")

    def __init__(self, text: str, origin: Span | None = None, source: SourceText | None = None) -> None:
        self._text = text
        self._origin = origin
        self._source = source
        self._table: list[tuple[int, int]] | None = None
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
        if self._table is None:
            self._table = self._align()
        return self._table[offset]

    def _align(self) -> list[tuple[int, int]]:
        """One file position per character of the condition, plus one for its end."""
        assert self._origin is not None and self._source is not None
        file_text = self._source.text
        pos = _offset_of(file_text, self._origin.line, self._origin.col)
        line, col = self._origin.line, self._origin.col
        start = _value_start(file_text, pos, self._text)
        line, col = _advance(file_text, pos, start, line, col)
        pos = start
        table: list[tuple[int, int]] = []
        text = self._text
        for i, ch in enumerate(text):
            table.append((line, col))
            if pos >= len(file_text):
                col += 1
                continue
            if ch.isspace() and file_text[pos].isspace():
                # A folded newline plus indentation stands for one space of the value.
                run_end = pos + 1
                next_is_space = i + 1 < len(text) and text[i + 1].isspace()
                while not next_is_space and run_end < len(file_text) and file_text[run_end].isspace():
                    run_end += 1
                line, col = _advance(file_text, pos, run_end, line, col)
                pos = run_end
            else:
                line, col = _advance(file_text, pos, pos + 1, line, col)
                pos += 1
        table.append((line, col))
        return table


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


def _offset_of(text: str, line: int, col: int) -> int:
    start = 0
    for _ in range(line - 1):
        nl = text.find("\n", start)
        if nl < 0:
            return len(text)
        start = nl + 1
    return start + col - 1


def _advance(text: str, start: int, end: int, line: int, col: int) -> tuple[int, int]:
    for ch in text[start:end]:
        if ch == "\n":
            line, col = line + 1, 1
        else:
            col += 1
    return line, col
