"""Decoding the values of one rules-file item as Falco's reader does (``decode_val``, ``decode_seq``, overrides),
with the chain of locations every issue carries. ``Reader`` (``reader.py``) builds the items on top of it.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from syswarden.doctree import Node
from syswarden.rules.loader.items import to_bool
from syswarden.rules.loader.result import ErrorCode, Issue, Location, LoadIssue, WarningCode
from syswarden.spans import SourceText, Span

WARNING_APPEND = ("'append' key is deprecated. Add an 'append' entry (e.g. 'condition: append') under "
                  "'override' instead.")
T = TypeVar("T")


def value_span(node: Node) -> Span:
    """Where the text of a scalar starts: block scalars (``>``/``|``) begin on a line after the indicator."""
    return node.text_span if node.style in ("|", ">") else node.span


def is_scalar(node: Node) -> bool:
    return node.text is not None


class ItemMap:
    """A YAML mapping node with lookup by key (the first of duplicate keys wins, as before)."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.entries: dict[str, Node] = node.value

    def __contains__(self, key: str) -> bool:
        return key in self.entries

    def get(self, key: str) -> Node | None:
        return self.entries.get(key)

    def keys(self) -> list[str]:
        return list(self.entries)



class Decoder:
    """Typed access to one file's item values; ``warnings`` collects what does not stop loading."""

    def __init__(self, source: SourceText) -> None:
        self.source = source
        self.name = source.name
        self.warnings: list[Issue] = []
        self.root = Location("rules content", "", Span(self.name, 0, 0))

    # -- locations and issues --------------------------------------------------------------------------
    def loc(self, parent: tuple[Location, ...], node: Node, item_type: str, item_name: str = ""
            ) -> tuple[Location, ...]:
        return (*parent, Location(item_type, item_name, node.span))

    def fail(self, message: str, loc: tuple[Location, ...]) -> LoadIssue:
        return LoadIssue(ErrorCode.LOAD_ERR_YAML_VALIDATE, message, loc)

    def warn(self, code: WarningCode, message: str, loc: tuple[Location, ...]) -> None:
        self.warnings.append(Issue(code, message, loc))

    # -- scalar decoding (Falco's decode_val) ---------------------------------------------------------
    def scalar(self, item: ItemMap, key: str, loc: tuple[Location, ...], *, optional: bool = False,
               can_be_empty: bool = False) -> tuple[str, Node] | None:
        """The text of ``item[key]`` with Falco's checks, or None when optional/empty and absent."""
        node = item.get(key)
        if node is None:
            if optional:
                return None
            raise self.fail(f"Item has no mapping for key '{key}'", loc)
        if node.is_null:
            if can_be_empty:
                return None
            raise self.fail(f"Mapping for key '{key}' is empty", loc)
        vloc = self.loc(loc, node, "value for", key)
        if node.text is None:
            raise self.fail("Value is not a scalar value", vloc)
        if node.text == "":
            if can_be_empty:
                return None
            raise self.fail("Value must be non-empty", vloc)
        return node.text, node

    def string(self, item: ItemMap, key: str, loc: tuple[Location, ...], **kw: bool) -> str | None:
        got = self.scalar(item, key, loc, **kw)
        return got[0] if got else None

    def typed(self, item: ItemMap, key: str, loc: tuple[Location, ...], convert: Callable[[str], T | None],
              *, optional: bool = False) -> T | None:
        got = self.scalar(item, key, loc, optional=optional)
        if got is None:
            return None
        value = convert(got[0])
        if value is None:
            raise self.fail("Can't decode YAML scalar value", self.loc(loc, got[1], "value for", key))
        return value

    def boolean(self, item: ItemMap, key: str, loc: tuple[Location, ...], *, optional: bool = True) -> bool | None:
        return self.typed(item, key, loc, to_bool, optional=optional)

    def sequence(self, item: ItemMap, key: str, loc: tuple[Location, ...]) -> tuple[str, ...]:
        node = item.get(key)
        if node is None:
            raise self.fail(f"Item has no mapping for key '{key}'", loc)
        vloc = self.loc(loc, node, "value for", key)
        if not isinstance(node.value, list):
            raise self.fail("Value is not a sequence", vloc)
        values = []
        for child in node.value:
            if child.text is None:
                raise self.fail("sequence value is not scalar", self.loc(vloc, child, "list item"))
            values.append(child.text)
        return tuple(values)

    def deprecated_append(self, item: ItemMap, loc: tuple[Location, ...]) -> bool:
        append = bool(self.boolean(item, "append", loc))
        if append:
            self.warn(WarningCode.LOAD_DEPRECATED_ITEM, WARNING_APPEND, loc)
        return append

    def overrides(self, item: ItemMap, appendable: set[str], replaceable: set[str], loc: tuple[Location, ...]
                  ) -> tuple[set[str], set[str]]:
        """Decode ``override: {key: append|replace}`` against the keys this item kind allows."""
        node = item.get("override")
        appends: set[str] = set()
        replaces: set[str] = set()
        if node is None:
            return appends, replaces
        oloc = self.loc(loc, item.node, "overrides")
        if not isinstance(node.value, dict):
            raise self.fail("Value is not a map", self.loc(oloc, node, "value for", "override"))
        for key, op_node in node.value.items():
            op = op_node.text or ""
            kloc = (*oloc, Location("overrides", key, node.key_spans[key]))
            if op == "append":
                if key not in appendable:
                    raise self.fail(f"Key '{key}' cannot be appended to, use 'replace' instead", kloc)
                appends.add(key)
            elif op == "replace":
                if key not in replaceable:
                    raise self.fail(f"Key '{key}' cannot be replaced", kloc)
                replaces.add(key)
            else:
                allowed = ("append " if key in appendable else "") + ("replace " if key in replaceable else "")
                raise self.fail(f"Invalid override operation for key '{key}': '{op}'. Allowed values are: "
                                f"{allowed}", self.loc(oloc, op_node, "value for", key))
        return appends, replaces

    def warn_unknown_keys(self, item: ItemMap, expected: set[str] | frozenset[str], loc: tuple[Location, ...]) -> None:
        for key in item.keys():
            if key not in expected:
                self.warn(WarningCode.LOAD_UNKNOWN_KEY, f"Unknown key '{key}'. The key will be ignored.", loc)
