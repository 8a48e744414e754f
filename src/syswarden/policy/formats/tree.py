"""The document tree every policy format reads first: JSON or YAML text -> ``Node``s that carry a ``Span``.

Formats never look at raw ``json``/``yaml`` objects; they walk ``Node``s with the typed accessors here, so a
wrong type or a missing key is reported at ``file:line:col`` with what was expected. The parsing itself, and
its limits (depth, aliases, numbers, size), is ``syswarden.doctree``'s, shared with rules files and
falco.yaml; here its errors are ``PolicySyntaxError``s.
"""
from __future__ import annotations

from syswarden import doctree
from syswarden.doctree import Node, kind_name
from syswarden.errors import PolicySyntaxError
from syswarden.spans import SourceText, Span

__all__ = ["Doc", "Node", "Reader", "kind_name", "parse_json", "parse_yaml"]


class Doc:
    """One parsed source: its root node and its text (for error snippets)."""

    def __init__(self, root: Node, source: SourceText) -> None:
        self.root = root
        self.source = source

    def error(self, message: str, span: Span | None, cls: type[PolicySyntaxError] = PolicySyntaxError
              ) -> PolicySyntaxError:
        return cls(message, span=span, source=self.source)


def parse_json(text: str, filename: str) -> Doc:
    """Parse JSON text into a ``Doc``; syntax errors raise ``PolicySyntaxError`` with the position."""
    source = SourceText(filename, text)
    return Doc(doctree.parse_json(source, PolicySyntaxError), source)


def parse_yaml(text: str, filename: str) -> Doc:
    """Parse one YAML document into a ``Doc`` (an empty document is an empty mapping)."""
    source = SourceText(filename, text)
    root = doctree.parse_yaml(source, PolicySyntaxError)
    if root.is_null and not root.text:
        root = Node({}, root.span, tag="map")
    return Doc(root, source)


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
