"""The one front door for YAML and JSON documents: a file -> checked text -> a tree of positioned ``Node``s.

Rules files, policies and falco.yaml all enter here, so every limit holds for all of them:

* ``read_source`` refuses what is not a regular file (a FIFO would block, ``/dev/zero`` never ends) and files
  over ``MAX_BYTES``; it opens with ``O_NONBLOCK`` so even the open of a FIFO cannot hang. Text that is not
  UTF-8 is an error at the ``file:line:col`` of the first bad byte.
* YAML is read from libyaml's *event stream*, not through PyYAML's composer: the composer recurses once per
  nesting level in C and 100,000 ``[`` overflow the stack; the event loop below is iterative and stops at
  ``MAX_DEPTH`` with a positioned error before anything deeper is built.
* An alias is the anchored ``Node`` itself, shared, never a copy; each node counts what it stands for once
  expanded, and a document that expands past ``MAX_NODES`` (billion laughs) is refused at the alias that
  crosses the line. Whoever walks the tree is bounded by the same count.
* Integers longer than Python can print (4,300 digits) and numbers that overflow a double (``1.0e999``) are
  positioned errors, not ``ValueError`` tracebacks or a silent ``inf``.

Errors are raised as the caller's class (``error=``), a ``SyswardenError`` subclass, carrying the span and the
source so the CLI can quote the line. ``typed=False`` keeps every scalar as the text written, as Falco's rules
reader (yaml-cpp) sees it.

Modules: ``files`` (reading), ``yaml_tree`` (YAML events -> nodes), ``json_tree`` (JSON with positions).
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from syswarden.errors import SyswardenError
from syswarden.input_file import MAX_DOCUMENT_BYTES
from syswarden.spans import Span

MAX_BYTES = MAX_DOCUMENT_BYTES  # the largest document file read (input_file: also the cached run's bound)
MAX_DEPTH = 256               # nesting levels of mappings and sequences
MAX_NODES = 500_000           # nodes of a file with every alias expanded (40,000 trivial rules; ~150 MB at most)
NO_KEYS: Mapping[str, Span] = MappingProxyType({})
ErrorClass = type[SyswardenError]


@dataclass(frozen=True, slots=True)
class Node:
    """A value with its position. Mappings hold ``dict[str, Node]`` (and ``key_spans``), sequences
    ``list[Node]``; a scalar holds its typed value (or its text, when read untyped) and ``text`` as written."""

    value: Any
    span: Span
    key_spans: Mapping[str, Span] = field(default_factory=lambda: NO_KEYS, compare=False)
    text: str | None = None       # a scalar's text after quotes and escapes; None for mappings and sequences
    tag: str = ""                 # null bool int float str | seq map
    style: str = ""               # "" plain, "'" or '"' quoted, "|" or ">" block
    content: Span | None = None   # where a quoted or block scalar's text starts (after the quote/indicator line)

    @property
    def kind(self) -> str:
        return kind_name(self.value)

    @property
    def is_null(self) -> bool:
        return self.tag == "null"

    @property
    def text_span(self) -> Span:
        """Where the scalar's first character is in the file (block scalars start on a later line)."""
        return self.content or self.span


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


def walk(node: Node) -> Iterator[Node]:
    """Every node under ``node`` (itself first), aliases visited as often as they are used, iteratively."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if isinstance(current.value, dict):
            stack.extend(reversed(current.value.values()))
        elif isinstance(current.value, list):
            stack.extend(reversed(current.value))


from syswarden.doctree.files import decode, read_source  # noqa: E402  (they use Node's module constants)
from syswarden.doctree.json_tree import parse_json  # noqa: E402
from syswarden.doctree.yaml_tree import parse_yaml, parse_yaml_all, yaml_error  # noqa: E402

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_NODES", "Node", "decode", "kind_name", "parse_json", "parse_yaml",
           "parse_yaml_all", "read_source", "walk", "yaml_error"]
