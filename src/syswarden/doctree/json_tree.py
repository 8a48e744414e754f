"""JSON text -> ``Node``s, recording where every value and key starts (``json.loads`` keeps no positions).

A small recursive-descent reader (RFC 8259): value = object | array | string | number | true | false | null.
Strings go through the standard library's C string decoder, so escapes and their errors are exactly
``json.loads``'s. Nesting stops at ``MAX_DEPTH`` (well inside Python's recursion limit); integers beyond
what Python can print and numbers that overflow a double are positioned errors.
"""
from __future__ import annotations

import json
import json.decoder
import math
import re
from collections.abc import Callable

from syswarden import doctree
from syswarden.doctree import ErrorClass, Node
from syswarden.errors import SyswardenError
from syswarden.spans import SourceText, Span

_WS = re.compile(r"[ \t\n\r]*")
# The stdlib's (C-accelerated) JSON string decoder: escapes and errors exactly as json.loads has them.
_scanstring: Callable[[str, int], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?")
_WORDS = (("true", True, "bool"), ("false", False, "bool"), ("null", None, "null"))


def parse_json(source: SourceText, error: ErrorClass) -> Node:
    """The JSON document of ``source``; syntax errors and limits raise ``error`` at their position."""
    return _JsonReader(source, error).parse()


class _JsonReader:
    def __init__(self, source: SourceText, error: ErrorClass) -> None:
        self.src = source
        self.text = source.text
        self.error = error
        self.pos = 0
        self.count = 0

    def span(self, offset: int) -> Span:
        return self.src.span_at_offset(offset)

    def fail(self, expected: str, offset: int | None = None) -> SyswardenError:
        at = self.pos if offset is None else offset
        found = repr(self.text[at]) if at < len(self.text) else "end of file"
        return self.error(f"malformed JSON: expected {expected}, found {found}", span=self.span(at), source=self.src)

    def limit(self, message: str, offset: int) -> SyswardenError:
        return self.error(message, span=self.span(offset), source=self.src)

    def skip_ws(self) -> None:
        self.pos = _WS.match(self.text, self.pos).end()  # type: ignore[union-attr]

    def parse(self) -> Node:
        self.skip_ws()
        node = self.value(0)
        self.skip_ws()
        if self.pos != len(self.text):
            raise self.fail("end of file")
        return node

    def value(self, depth: int) -> Node:
        if depth > doctree.MAX_DEPTH:
            raise self.fail(f"at most {doctree.MAX_DEPTH} levels of nesting")
        self.count += 1
        if self.count > doctree.MAX_NODES:
            raise self.limit(f"the document has more than {doctree.MAX_NODES:,} values", self.pos)
        start = self.pos
        ch = self.text[start:start + 1]
        if ch == "{":
            return self.obj(depth)
        if ch == "[":
            return self.array(depth)
        if ch == '"':
            text = self.string()
            return Node(text, self.span(start), text=text, tag="str", style='"')
        for word, val, tag in _WORDS:
            if self.text.startswith(word, start):
                self.pos += len(word)
                return Node(val, self.span(start), text=word, tag=tag)
        m = _NUMBER.match(self.text, start)
        if m and m.end() > start:
            self.pos = m.end()
            return self.number(m.group(), bool(m.group(1) or m.group(2)), start)
        raise self.fail("a JSON value")

    def number(self, text: str, is_float: bool, start: int) -> Node:
        if is_float:
            num: int | float = float(text)
            if math.isinf(num):
                raise self.limit(f"the number {text[:40]} is out of the range of a 64-bit float", start)
            return Node(num, self.span(start), text=text, tag="float")
        try:
            num = int(text)
        except ValueError:
            raise self.limit("an integer with more than 4300 digits is not supported", start) from None
        return Node(num, self.span(start), text=text, tag="int")

    def string(self) -> str:
        try:
            text, end = _scanstring(self.text, self.pos + 1)
        except json.JSONDecodeError as exc:
            raise self.fail("a closed string", exc.pos) from exc
        self.pos = end
        return text

    def obj(self, depth: int) -> Node:
        start = self.pos
        self.pos += 1
        items: dict[str, Node] = {}
        keys: dict[str, Span] = {}
        self.skip_ws()
        if self.text.startswith("}", self.pos):
            self.pos += 1
            return Node(items, self.span(start), keys, tag="map")
        while True:
            self.skip_ws()
            if not self.text.startswith('"', self.pos):
                raise self.fail("a string key")
            key_at = self.pos
            key = self.string()
            if key in items:
                raise self.error(f"duplicate key {key!r}", span=self.span(key_at), source=self.src)
            self.skip_ws()
            if not self.text.startswith(":", self.pos):
                raise self.fail("':'")
            self.pos += 1
            self.skip_ws()
            items[key], keys[key] = self.value(depth + 1), self.span(key_at)
            self.skip_ws()
            if self.text.startswith(",", self.pos):
                self.pos += 1
                continue
            if self.text.startswith("}", self.pos):
                self.pos += 1
                return Node(items, self.span(start), keys, tag="map")
            raise self.fail("',' or '}'")

    def array(self, depth: int) -> Node:
        start = self.pos
        self.pos += 1
        items: list[Node] = []
        self.skip_ws()
        if self.text.startswith("]", self.pos):
            self.pos += 1
            return Node(items, self.span(start), tag="seq")
        while True:
            self.skip_ws()
            items.append(self.value(depth + 1))
            self.skip_ws()
            if self.text.startswith(",", self.pos):
                self.pos += 1
                continue
            if self.text.startswith("]", self.pos):
                self.pos += 1
                return Node(items, self.span(start), tag="seq")
            raise self.fail("',' or ']'")
