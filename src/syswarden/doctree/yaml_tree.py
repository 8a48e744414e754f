"""YAML text -> ``Node``s from libyaml's event stream: iterative, depth- and size-bounded, aliases shared."""
from __future__ import annotations

import math
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import yaml

from syswarden.doctree import MAX_DEPTH, MAX_NODES, NO_KEYS, ErrorClass, Node
from syswarden.errors import SyswardenError
from syswarden.spans import SourceText, Span

MAX_INT_BITS = int(sys.get_int_max_str_digits() * math.log2(10)) if sys.get_int_max_str_digits() else 1 << 20
Duplicates = Literal["error", "first", "last"]

_TAGS = {"tag:yaml.org,2002:" + name: name for name in ("null", "bool", "int", "float", "str")}
_TAGS.update({"tag:yaml.org,2002:timestamp": "str", "tag:yaml.org,2002:merge": "str",
              "tag:yaml.org,2002:value": "str", "tag:yaml.org,2002:binary": "str", "!": "str"})
_COLLECTION_TAGS = {None, "!", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"}
_BOOLS = yaml.constructor.SafeConstructor.bool_values
_RESOLVER = yaml.resolver.Resolver()
# libyaml is several times faster and reports the same marks; PyYAML's parser words errors better, so a broken
# document is read again with it, up to this size.
_FAST = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_WORDING_LIMIT = 256 << 10
_UNCLOSED = {"while scanning a quoted scalar": "the quoted string", "while parsing a flow sequence": "the '['",
             "while parsing a flow mapping": "the '{'"}


def parse_yaml(source: SourceText, error: ErrorClass, *, typed: bool = True, duplicates: Duplicates = "error",
               max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES) -> Node:
    """The one document of ``source`` (an empty file is an empty mapping)."""
    docs = parse_yaml_all(source, error, typed=typed, duplicates=duplicates, max_depth=max_depth,
                          max_nodes=max_nodes, single=True)
    return docs[0] if docs else Node({}, Span(source.name, 1, 1), tag="map")


def parse_yaml_all(source: SourceText, error: ErrorClass, *, typed: bool = True, duplicates: Duplicates = "error",
                   max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES, single: bool = False) -> list[Node]:
    """Every document of ``source``, in order (an empty document is a null node)."""
    def build(loader: Any) -> list[Node]:
        return _Builder(source, error, typed, duplicates, max_depth, max_nodes, single).run(yaml.parse(
            source.text, Loader=loader))
    try:
        return build(_FAST)
    except yaml.YAMLError as first:
        # libyaml's error; PyYAML's own loader words errors better, so it is asked again on a small text. Where it
        # accepts what libyaml refused (they differ on a few flow forms, e.g. ``{a: b:}``), libyaml's error stands.
        exc: yaml.YAMLError = first
        if _FAST is not yaml.SafeLoader and len(source.text) <= _WORDING_LIMIT:
            try:
                build(yaml.SafeLoader)
            except yaml.YAMLError as better:
                exc = better
        raise yaml_error(exc, source, error) from None


def yaml_error(exc: yaml.YAMLError, source: SourceText, error: ErrorClass) -> SyswardenError:
    """PyYAML's error as ``error`` at file:line:col; an unclosed quote points where the quote opened."""
    if not isinstance(exc, yaml.MarkedYAMLError):
        return error(f"malformed YAML: {exc}", span=Span(source.name, 1, 1), source=source)
    problem = exc.problem or exc.context or "error"
    mark = exc.problem_mark or exc.context_mark
    unclosed = _UNCLOSED.get(exc.context or "")
    if unclosed and exc.context_mark is not None and "end" in problem:
        # The parser notices at the end of the file; the user needs to see where the quote or bracket opened.
        problem = f"{unclosed} opened here is never closed ({problem})"
        mark = exc.context_mark
    span = Span(source.name, mark.line + 1, mark.column + 1) if mark is not None else Span(source.name, 1, 1)
    return error(f"malformed YAML: {problem}", span=span, source=source)


@dataclass(slots=True)
class _Open:
    """A mapping or sequence being read: its items so far and what it will weigh once expanded."""

    span: Span
    anchor: str | None
    items: list[Node] | dict[str, Node]
    key_spans: dict[str, Span] | None = None
    key: tuple[str, Span] | None = None      # a mapping's key waiting for its value
    weight: int = 1


class _Builder:
    """Events -> nodes, iteratively; ``total`` is the stream's size so far with aliases expanded."""

    def __init__(self, source: SourceText, error: ErrorClass, typed: bool, duplicates: Duplicates,
                 max_depth: int, max_nodes: int, single: bool) -> None:
        self.source, self.name, self.error = source, source.name, error
        self.typed, self.duplicates, self.single = typed, duplicates, single
        self.max_depth, self.max_nodes = max_depth, max_nodes
        self.stack: list[_Open] = []
        self.root: Node | None = None
        self.anchors: dict[str, tuple[Node, int]] = {}
        self.total = 0

    def fail(self, message: str, span: Span) -> SyswardenError:
        return self.error(message, span=span, source=self.source)

    def span(self, event: yaml.Event) -> Span:
        start, end = event.start_mark, event.end_mark
        assert start is not None and end is not None      # PyYAML's parser marks every event it makes
        return Span(self.name, start.line + 1, start.column + 1, end.line + 1, end.column + 1)

    def run(self, events: Iterable[yaml.Event]) -> list[Node]:
        docs: list[Node] = []
        for event in events:
            if isinstance(event, yaml.ScalarEvent):
                self.add(self.scalar(event), 1, event.anchor, 1)
            elif isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                self.open(event, isinstance(event, yaml.MappingStartEvent))
            elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                self.close()
            elif isinstance(event, yaml.AliasEvent):
                self.alias(event)
            elif isinstance(event, yaml.DocumentStartEvent):
                if self.single and docs:
                    raise self.fail("expected a single YAML document, found another one", self.span(event))
                self.anchors.clear()          # the size limit holds for the whole stream, not per document
            elif isinstance(event, yaml.DocumentEndEvent):
                docs.append(self.root if self.root is not None else Node(None, self.span(event), tag="null"))
                self.root = None
        return docs

    def add(self, node: Node, weight: int, anchor: str | None, cost: int, at: Span | None = None) -> None:
        """Attach a finished node to the collection being read (or make it the document's root); ``weight``
        is what it stands for expanded, ``cost`` what it adds to the document (an alias adds its weight)."""
        self.total += cost
        if self.total > self.max_nodes:
            raise self.fail(f"the document holds more than {self.max_nodes:,} values once its aliases are "
                            "expanded", at or node.span)
        if anchor is not None:
            self.anchors[anchor] = (node, weight)
        if not self.stack:
            self.root = node
            return
        top = self.stack[-1]
        top.weight += weight
        if isinstance(top.items, list):
            top.items.append(node)
        elif top.key is None:
            top.key = (self.key_text(node), node.span)
        else:
            key, key_span = top.key
            top.key = None
            assert top.key_spans is not None
            if key in top.items:
                if self.duplicates == "error":
                    raise self.fail(f"duplicate key {key!r}", key_span)
                if self.duplicates == "first":
                    return
            top.items[key] = node
            top.key_spans[key] = key_span

    def key_text(self, node: Node) -> str:
        if node.text is None:
            raise self.fail(f"expected a plain key, found {node.kind}", node.span)
        return node.text

    def open(self, event: yaml.CollectionStartEvent, is_map: bool) -> None:
        span = self.span(event)
        if len(self.stack) >= self.max_depth:
            raise self.fail(f"expected at most {self.max_depth} levels of nesting", span)
        if self.typed and event.tag not in _COLLECTION_TAGS:
            raise self.fail(f"unsupported YAML tag {event.tag!r}", span)
        if is_map:
            self.stack.append(_Open(span, event.anchor, {}, {}))
        else:
            self.stack.append(_Open(span, event.anchor, []))

    def close(self) -> None:
        top = self.stack.pop()
        if isinstance(top.items, dict):
            node = Node(top.items, top.span, top.key_spans or NO_KEYS, tag="map")
        else:
            node = Node(top.items, top.span, tag="seq")
        self.add(node, top.weight, top.anchor, 1)     # its items were counted as they came

    def alias(self, event: yaml.AliasEvent) -> None:
        found = self.anchors.get(event.anchor) if event.anchor is not None else None
        if found is None:
            raise self.fail(f"unknown anchor {event.anchor!r}", self.span(event))
        node, weight = found
        self.add(node, weight, None, weight, self.span(event))      # an error names the alias, not the anchor

    def scalar(self, event: yaml.ScalarEvent) -> Node:
        text: str = event.value
        style = event.style or ""
        span = self.span(event)
        content = self.content_span(event, style) if style else None
        tag_text = event.tag
        if tag_text is None or tag_text == "!":
            tag_text = _RESOLVER.resolve(yaml.ScalarNode, text, event.implicit) if tag_text is None else "!"
        tag = _TAGS.get(tag_text)
        if tag is None:
            if self.typed:
                raise self.fail(f"unsupported YAML tag {tag_text!r}", span)
            tag = "str"
        value = _construct(tag, text, self, span) if self.typed else text
        return Node(value, span, text=text, tag=tag, style=style, content=content)

    def content_span(self, event: yaml.ScalarEvent, style: str) -> Span:
        start, end_mark = event.start_mark, event.end_mark
        assert start is not None and end_mark is not None   # PyYAML's parser marks every event it makes
        if style in "'\"":
            return Span(self.name, start.line + 1, start.column + 2)
        # A block scalar: its text begins after the indicator's line and any blank or indentation.
        offset = self.source.text.find("\n", start.index)
        offset = len(self.source.text) if offset < 0 else offset + 1
        end = end_mark.index
        while offset < end and self.source.text[offset] in " \t\r\n":
            offset += 1
        return self.source.span_at_offset(offset)


def _construct(tag: str, text: str, builder: _Builder, span: Span) -> Any:
    """A resolved scalar's value, YAML 1.1 as PyYAML's SafeLoader reads it, within Python's limits."""
    try:
        if tag == "null":
            return None
        if tag == "bool":
            return _BOOLS[text.lower()]
        if tag == "int":
            return _integer(text)
        if tag == "float":
            return _float(text)
    except _Limit as exc:
        raise builder.fail(str(exc), span) from None
    except (ValueError, KeyError, IndexError):
        raise builder.fail(f"{text[:40]!r} is not a valid {tag}", span) from None
    return text


class _Limit(ValueError):
    pass


def _integer(text: str) -> int:
    value = text.replace("_", "")
    sign = -1 if value[:1] == "-" else 1
    value = value.lstrip("+-")
    if ":" in value:
        digits = [int(part) for part in value.split(":")]
        number = 0
        for digit in digits:
            number = number * 60 + digit
            _check_int(number)
        return sign * number
    if len(value) > sys.get_int_max_str_digits() > 0:
        raise _Limit(f"an integer with more than {sys.get_int_max_str_digits()} digits is not supported")
    if value.startswith("0b"):
        number = int(value[2:], 2)
    elif value.startswith("0x"):
        number = int(value[2:], 16)
    elif value != "0" and value.startswith("0"):
        number = int(value, 8)
    else:
        number = int(value)
    return sign * _check_int(number)


def _check_int(number: int) -> int:
    if number.bit_length() > MAX_INT_BITS:
        raise _Limit(f"an integer of more than {MAX_INT_BITS} bits is not supported")
    return number


def _float(text: str) -> float:
    value = text.replace("_", "").lower()
    sign = -1.0 if value[:1] == "-" else 1.0
    value = value.lstrip("+-")
    if value == ".inf":
        return sign * math.inf
    if value == ".nan":
        return math.nan
    if ":" in value:
        number = 0.0
        for part in value.split(":"):
            number = number * 60 + float(part)
    else:
        number = float(value)
    if math.isinf(number):
        raise _Limit(f"the number {text[:40]} is out of the range of a 64-bit float")
    return sign * number
