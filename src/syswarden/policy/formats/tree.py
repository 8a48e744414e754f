"""The document tree every policy format reads first: JSON or YAML text -> ``Node``s that carry a ``Span``.

Formats never look at raw ``json``/``yaml`` objects; they walk ``Node``s with the typed accessors here, so a
wrong type or a missing key is reported at ``file:line:col`` with what was expected. Syntax errors of the
underlying parsers are translated to ``PolicySyntaxError`` at this boundary.
"""
from __future__ import annotations

import bisect
import json
import json.decoder
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import yaml

from syswarden.errors import PolicySyntaxError
from syswarden.spans import SourceText, Span

Scalar = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class Node:
    """A value with its position. Mappings hold ``dict[str, Node]`` and the spans of their keys."""

    value: Any
    span: Span
    key_spans: dict[str, Span] = field(default_factory=dict, compare=False)

    @property
    def kind(self) -> str:
        return kind_name(self.value)


def kind_name(value: object) -> str:
    """How an error message names the type of ``value``."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if value is None:
        return "null"
    return "a string"


class Doc:
    """One parsed source: its root node and its text (for error snippets)."""

    def __init__(self, root: Node, source: SourceText) -> None:
        self.root = root
        self.source = source

    def error(self, message: str, span: Span | None, cls: type[PolicySyntaxError] = PolicySyntaxError
              ) -> PolicySyntaxError:
        return cls(message, span=span, source=self.source)


# ---------------------------------------------------------------------------------------------- JSON


_WS = re.compile(r"[ \t\n\r]*")
# The stdlib's (C-accelerated) JSON string decoder: escapes and errors exactly as json.loads has them.
_scanstring: Callable[[str, int], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?")
_MAX_DEPTH = 256


class _JsonReader:
    """A small recursive-descent JSON reader that records where every value and key starts.

    Grammar (RFC 8259): value = object | array | string | number | "true" | "false" | "null";
    object = "{" [string ":" value {"," string ":" value}] "}"; array = "[" [value {"," value}] "]".
    """

    def __init__(self, source: SourceText) -> None:
        self.src = source
        self.text = source.text
        self.pos = 0
        # Offsets where lines start, so a position costs a bisect instead of a scan of the text.
        self.line_starts = [0, *(m.end() for m in re.finditer("\n", self.text))]

    def span(self, offset: int) -> Span:
        line = bisect.bisect_right(self.line_starts, offset)
        return Span(self.src.name, line, offset - self.line_starts[line - 1] + 1)

    def fail(self, expected: str, offset: int | None = None) -> PolicySyntaxError:
        at = self.pos if offset is None else offset
        found = repr(self.text[at]) if at < len(self.text) else "end of file"
        return PolicySyntaxError(f"malformed JSON: expected {expected}, found {found}", span=self.span(at),
                                 source=self.src)

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
        if depth > _MAX_DEPTH:
            raise self.fail(f"at most {_MAX_DEPTH} levels of nesting")
        start = self.pos
        ch = self.text[start:start + 1]
        if ch == "{":
            return self.obj(depth)
        if ch == "[":
            return self.array(depth)
        if ch == '"':
            return Node(self.string(), self.span(start))
        for word, val in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, start):
                self.pos += len(word)
                return Node(val, self.span(start))
        m = _NUMBER.match(self.text, start)
        if m and m.end() > start:
            self.pos = m.end()
            num: int | float = float(m.group()) if (m.group(1) or m.group(2)) else int(m.group())
            return Node(num, self.span(start))
        raise self.fail("a JSON value")

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
            return Node(items, self.span(start), keys)
        while True:
            self.skip_ws()
            if not self.text.startswith('"', self.pos):
                raise self.fail("a string key")
            key_at = self.pos
            key = self.string()
            if key in items:
                raise PolicySyntaxError(f"duplicate key {key!r}", span=self.span(key_at), source=self.src)
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
                return Node(items, self.span(start), keys)
            raise self.fail("',' or '}'")

    def array(self, depth: int) -> Node:
        start = self.pos
        self.pos += 1
        items: list[Node] = []
        self.skip_ws()
        if self.text.startswith("]", self.pos):
            self.pos += 1
            return Node(items, self.span(start))
        while True:
            self.skip_ws()
            items.append(self.value(depth + 1))
            self.skip_ws()
            if self.text.startswith(",", self.pos):
                self.pos += 1
                continue
            if self.text.startswith("]", self.pos):
                self.pos += 1
                return Node(items, self.span(start))
            raise self.fail("',' or ']'")


def parse_json(text: str, filename: str) -> Doc:
    """Parse JSON text into a ``Doc``; syntax errors raise ``PolicySyntaxError`` with the position."""
    source = SourceText(filename, text)
    return Doc(_JsonReader(source).parse(), source)


# ---------------------------------------------------------------------------------------------- YAML


def _yaml_span(filename: str, mark: yaml.Mark | None) -> Span:
    if mark is None:
        return Span(filename, 0, 0)
    return Span(filename, mark.line + 1, mark.column + 1)


@contextmanager
def map_yaml_errors(source: SourceText) -> Iterator[None]:
    """Translate PyYAML's errors into PolicySyntaxError carrying file:line:col."""
    try:
        yield
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "error"
        raise PolicySyntaxError(f"malformed YAML: {problem}", span=_yaml_span(source.name, mark),
                                source=source) from exc
    except yaml.YAMLError as exc:
        raise PolicySyntaxError(f"malformed YAML: {exc}", span=Span(source.name, 1, 1), source=source) from exc


class _YamlConverter:
    def __init__(self, source: SourceText) -> None:
        self.source = source
        self.constructor = yaml.SafeLoader("")

    def convert(self, node: yaml.Node, depth: int = 0) -> Node:
        span = _yaml_span(self.source.name, node.start_mark)
        if depth > _MAX_DEPTH:
            raise PolicySyntaxError(f"expected at most {_MAX_DEPTH} levels of nesting", span=span,
                                    source=self.source)
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, span, depth)
        if isinstance(node, yaml.SequenceNode):
            return Node([self.convert(item, depth + 1) for item in node.value], span)
        return Node(self.constructor.construct_object(node, deep=True), span)

    def mapping(self, node: yaml.MappingNode, span: Span, depth: int) -> Node:
        items: dict[str, Node] = {}
        keys: dict[str, Span] = {}
        for key_node, value_node in node.value:
            key_span = _yaml_span(self.source.name, key_node.start_mark)
            key = self.constructor.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                raise PolicySyntaxError(f"expected a string key, found {kind_name(key)}", span=key_span,
                                        source=self.source)
            key = str(key)
            if key in items:
                raise PolicySyntaxError(f"duplicate key {key!r}", span=key_span, source=self.source)
            items[key], keys[key] = self.convert(value_node, depth + 1), key_span
        return Node(items, span, keys)


# libyaml's composer is several times faster and records the same marks; PyYAML's is the fallback.
_COMPOSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str, filename: str) -> Doc:
    """Parse one YAML document into a ``Doc`` (an empty document is an empty mapping)."""
    source = SourceText(filename, text)
    with map_yaml_errors(source):
        try:
            root = yaml.compose(text, Loader=_COMPOSER)
        except yaml.YAMLError:
            # PyYAML's own scanner words its errors better ("expected ',' or ']', but got ':'").
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        if root is None:
            return Doc(Node({}, Span(filename, 1, 1)), source)
        return Doc(_YamlConverter(source).convert(root), source)


# ------------------------------------------------------------------------------------------ accessors


class Reader:
    """Typed access to a ``Doc``'s nodes; every mismatch raises with the node's position."""

    def __init__(self, doc: Doc) -> None:
        self.doc = doc
        self.warnings: list[str] = []

    def error(self, message: str, span: Span | None) -> PolicySyntaxError:
        return self.doc.error(message, span)

    def warn(self, message: str, span: Span | None) -> None:
        self.warnings.append(f"{span}: {message}" if span else message)

    def mapping(self, node: Node, what: str) -> dict[str, Node]:
        if not isinstance(node.value, dict):
            raise self.error(f"expected {what} to be a mapping, found {node.kind}", node.span)
        return node.value

    def seq(self, node: Node, what: str) -> list[Node]:
        if not isinstance(node.value, list):
            raise self.error(f"expected {what} to be a list, found {node.kind}", node.span)
        return node.value

    def string(self, node: Node, what: str) -> str:
        if not isinstance(node.value, str):
            raise self.error(f"expected {what} to be a string, found {node.kind}", node.span)
        return node.value

    def boolean(self, node: Node, what: str) -> bool:
        if not isinstance(node.value, bool):
            raise self.error(f"expected {what} to be true or false, found {node.kind}", node.span)
        return node.value

    def integer(self, node: Node, what: str, lo: int = 0, hi: int = (1 << 64) - 1) -> int:
        """An integer, also accepted as a decimal, hex (0x..), octal (0o..) or binary (0b..) string."""
        value = node.value
        if isinstance(value, str):
            value = _int_from_text(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.error(f"expected {what} to be an integer, found {node.kind} {node.value!r}", node.span)
        if not lo <= value <= hi:
            raise self.error(f"expected {what} to be between {lo} and {hi}, found {value}", node.span)
        return value

    def strings(self, node: Node, what: str) -> list[tuple[str, Span]]:
        """A list of strings (a single string is accepted as a one-item list)."""
        if isinstance(node.value, str):
            return [(node.value, node.span)]
        return [(self.string(item, f"each of {what}"), item.span) for item in self.seq(node, what)]

    def check_keys(self, node: Node, allowed: tuple[str, ...], what: str, *, strict: bool = True) -> None:
        """Unknown keys are errors (strict) or warnings (formats whose peers ignore them)."""
        for key in self.mapping(node, what):
            if key not in allowed:
                message = f"unknown key {key!r} in {what} (expected one of: {', '.join(allowed)})"
                if strict:
                    raise self.error(message, node.key_spans.get(key, node.span))
                self.warn(message + "; ignored", node.key_spans.get(key, node.span))

    def require(self, node: Node, key: str, what: str) -> Node:
        items = self.mapping(node, what)
        if key not in items:
            raise self.error(f"expected key {key!r} in {what}", node.span)
        return items[key]


def _int_from_text(text: str) -> int | str:
    try:
        return int(text.strip().replace("_", ""), 0)
    except ValueError:
        return text
