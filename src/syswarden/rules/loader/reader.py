"""Rules file reader: YAML text -> typed items (lists, macros, rules, updates) with the span of every key.

This is the first stage of loading (Falco's ``rule_loader_reader``): it checks the *structure* of each item
(required keys, scalar vs sequence, override keys) and decodes it into one of the ``*Item`` records below,
in file order. What the items *mean* together (append, override, redefinition) is the collector's job.
A structural problem raises ``LoadIssue`` with ``LOAD_ERR_YAML_VALIDATE`` and the chain of locations;
recoverable oddities (unknown keys, deprecated ``append``) are added to ``warnings`` and reading goes on.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from syswarden import doctree
from syswarden.doctree import Node
from syswarden.errors import RuleLoadError
from syswarden.rules.alert import Priority
from syswarden.rules.loader.decode import WARNING_APPEND, Decoder, ItemMap, is_scalar, value_span
from syswarden.rules.loader.items import (
    EngineVersionItem, ExceptionEntry, ExceptionItem, Item, ListItem, MacroItem, PluginVersionsItem, RuleEnableItem,
    RuleItem, RuleUpdateItem, or_default, parse_engine_version, to_uint,
)
from syswarden.rules.loader.result import ErrorCode, Issue, Location, LoadIssue, WarningCode
from syswarden.spans import SourceText

RGX_IDENTIFIER = r"([a-zA-Z]+[a-zA-Z0-9_]*)"
RGX_BARESTR = r"""([^()"'[:space:]=,]+)"""
_IDENTIFIER = re.compile(r"[a-zA-Z]+[a-zA-Z0-9_]*")
_BARESTR = re.compile(r"""[^()"'\s=,]+""")
WARNING_ENABLED = ("The standalone 'enabled' key usage is deprecated. The correct approach requires also a "
                   "'replace' entry under the 'override' key (i.e. 'enabled: replace').")
ERROR_OVERRIDE_APPEND = ("Keys 'override' and 'append: true' cannot be used together. Add an 'append' entry "
                         "(e.g. 'condition: append') under 'override' instead.")
RULE_APPENDABLE = ("condition", "output", "desc", "tags", "exceptions")
RULE_REPLACEABLE = ("condition", "output", "desc", "priority", "capture", "capture_duration", "tags",
                    "exceptions", "enabled", "warn_evttypes", "skip-if-unknown-filter")
RULE_KEYS = frozenset(("rule", "condition", "output", "desc", "priority", "source", "enabled", "capture",
                       "capture_duration", "warn_evttypes", "skip-if-unknown-filter", "tags", "exceptions",
                       "override", "append"))
__all__ = ["ERROR_OVERRIDE_APPEND", "WARNING_APPEND", "WARNING_ENABLED", "Reader", "read_items", "value_span"]


class Reader(Decoder):
    """Reads one rules file into items, in file order; raises ``LoadIssue`` on the first structural error."""

    # -- documents -------------------------------------------------------------------------------------
    def read(self) -> Iterator[Item]:
        """Yield the items of every YAML document in order; raise ``LoadIssue`` on the first error."""
        for doc in self._documents():
            if doc.is_null:
                continue
            if is_scalar(doc):
                raise self.fail("Rules content is not yaml", (self.root,))
            if not isinstance(doc.value, list):
                raise self.fail("Rules content is not yaml array of objects", (self.root,))
            for node in doc.value:
                if not node.is_null:
                    yield from self.read_item(node)

    def _documents(self) -> list[Node]:
        try:
            return doctree.parse_yaml_all(self.source, RuleLoadError, typed=False, duplicates="first")
        except RuleLoadError as err:
            span = err.span if err.span is not None else self.root.span
            raise LoadIssue(ErrorCode.LOAD_ERR_YAML_PARSE, err.message,
                            (Location("rules content", "", span),)) from None

    def read_item(self, node: Node) -> Iterator[Item]:
        if not isinstance(node.value, dict):
            raise self.fail("Unexpected element type. Each element should be a yaml associative array.",
                            self.loc((self.root,), node, "rules content item"))
        item = ItemMap(node)
        parent = (self.root,)
        if "required_engine_version" in item:
            yield self.read_engine_version(item, parent)
        elif "required_plugin_versions" in item:
            yield from self.read_plugin_versions(item, parent)
        elif "list" in item:
            yield self.read_list(item, parent)
        elif "macro" in item:
            yield self.read_macro(item, parent)
        elif "rule" in item:
            yield self.read_rule(item, parent)
        else:
            self.warn(WarningCode.LOAD_UNKNOWN_ITEM, "Unknown top level item",
                      self.loc(parent, node, "rules content item"))

    # -- items ---------------------------------------------------------------------------------------
    def read_engine_version(self, item: ItemMap, parent: tuple[Location, ...]) -> EngineVersionItem:
        loc = self.loc(parent, item.node, "required_engine_version")
        text = self.string(item, "required_engine_version", loc) or ""
        version = parse_engine_version(text)
        if version is None:
            raise self.fail(f"Unable to parse engine version '{text}' as a semver string. Expected \"x.y.z\" "
                            "semver format.", loc)
        self.warn_unknown_keys(item, {"required_engine_version"}, loc)
        return EngineVersionItem(version, loc)

    def read_plugin_versions(self, item: ItemMap, parent: tuple[Location, ...]) -> Iterator[PluginVersionsItem]:
        node = item.get("required_plugin_versions")
        assert node is not None
        loc = self.loc(parent, node, "required plugin versions")
        if not isinstance(node.value, list):
            raise self.fail("Value of required_plugin_versions must be a sequence", loc)
        for entry in node.value:
            if not isinstance(entry.value, dict):
                raise self.fail("Plugin version must be a mapping",
                                self.loc(loc, entry, "required plugin versions entry"))
            plugin = ItemMap(entry)
            name = self.string(plugin, "name", self.loc(loc, entry, "required plugin versions entry")) or ""
            ploc = self.loc(loc, entry, "required plugin versions entry", name)
            alternatives = [(name, self.string(plugin, "version", ploc) or "")]
            alts = plugin.get("alternatives")
            if alts is not None:
                if not isinstance(alts.value, list):
                    raise self.fail("Value of plugin version alternatives must be a sequence", ploc)
                for alt in alts.value:
                    aloc = self.loc(ploc, alt, "required plugin versions alternative")
                    if not isinstance(alt.value, dict):
                        raise self.fail("Plugin version alternative must be a mapping", aloc)
                    amap = ItemMap(alt)
                    alt_name = self.string(amap, "name", aloc) or ""
                    aloc = self.loc(ploc, alt, "required plugin versions alternative", alt_name)
                    alternatives.append((alt_name, self.string(amap, "version", aloc) or ""))
            yield PluginVersionsItem(tuple(alternatives), ploc)
        self.warn_unknown_keys(item, {"required_plugin_versions"}, self.loc(parent, item.node,
                                                                             "required plugin versions"))

    def read_list(self, item: ItemMap, parent: tuple[Location, ...]) -> ListItem:
        name = self.string(item, "list", self.loc(parent, item.node, "list")) or ""
        loc = self.loc(parent, item.node, "list", name)
        if not _BARESTR.fullmatch(name):
            self.warn(WarningCode.LOAD_INVALID_LIST_NAME, "List has an invalid name. List names should match "
                      f"a regular expression: {RGX_BARESTR}", loc)
        items = self.sequence(item, "items", loc)
        append = self.deprecated_append(item, loc)
        appends, replaces = self.overrides(item, {"items"}, {"items"}, loc)
        if append and (appends or replaces):
            raise self.fail(ERROR_OVERRIDE_APPEND, loc)
        self.warn_unknown_keys(item, {"list", "items", "append", "override"}, loc)
        return ListItem(name, items, append or "items" in appends, loc)

    def read_macro(self, item: ItemMap, parent: tuple[Location, ...]) -> MacroItem:
        name = self.string(item, "macro", self.loc(parent, item.node, "macro")) or ""
        loc = self.loc(parent, item.node, "macro", name)
        if not _IDENTIFIER.fullmatch(name):
            self.warn(WarningCode.LOAD_INVALID_MACRO_NAME, "Macro has an invalid name. Macro names should match "
                      f"a regular expression: {RGX_IDENTIFIER}", loc)
        cond, cond_node = self.scalar(item, "condition", loc) or ("", item.node)
        append = self.deprecated_append(item, loc)
        appends, replaces = self.overrides(item, {"condition"}, {"condition"}, loc)
        if append and (appends or replaces):
            raise self.fail(ERROR_OVERRIDE_APPEND, loc)
        self.warn_unknown_keys(item, {"macro", "condition", "append", "override"}, loc)
        return MacroItem(name, cond, value_span(cond_node), append or "condition" in appends, loc)

    # -- rules ---------------------------------------------------------------------------------------
    def read_rule(self, item: ItemMap, parent: tuple[Location, ...]) -> Item:
        name = self.string(item, "rule", self.loc(parent, item.node, "rule")) or ""
        loc = self.loc(parent, item.node, "rule", name)
        source = self.string(item, "source", loc, optional=True, can_be_empty=True) or ""
        append = self.deprecated_append(item, loc)
        appends, replaces = self.overrides(item, set(RULE_APPENDABLE), set(RULE_REPLACEABLE), loc)
        if append and (appends or replaces):
            raise self.fail(ERROR_OVERRIDE_APPEND, loc)
        result: Item
        if appends or replaces:
            result = self.read_rule_overrides(item, name, source, appends, replaces, loc)
        elif append:
            values: dict[str, Any] = {}
            if "condition" in item:
                values["condition"] = self.string(item, "condition", loc)
            if "exceptions" in item:
                values["exceptions"] = self.exceptions(item, loc, append=True)
            cond = item.get("condition")
            result = RuleUpdateItem(name, "append", source, values, loc,
                                    value_span(cond) if cond is not None else None)
        elif not any(k in item for k in ("condition", "output", "desc", "priority")):
            enabled = self.boolean(item, "enabled", loc, optional=False)
            self.warn(WarningCode.LOAD_DEPRECATED_ITEM, WARNING_ENABLED, loc)
            result = RuleEnableItem(name, bool(enabled), loc)
        else:
            result = self.read_full_rule(item, name, loc)
        self.warn_unknown_keys(item, RULE_KEYS, loc)
        return result

    def read_full_rule(self, item: ItemMap, name: str, loc: tuple[Location, ...]) -> RuleItem:
        cond, cond_node = self.scalar(item, "condition", loc) or ("", item.node)
        output, output_node = self.scalar(item, "output", loc) or ("", item.node)
        desc = self.string(item, "desc", loc) or ""
        prio_text, prio_node = self.scalar(item, "priority", loc) or ("", item.node)
        priority = Priority.parse(prio_text)
        if priority is None:
            raise self.fail("Invalid priority", self.loc(loc, prio_node, "rule priority"))
        return RuleItem(
            name=name, condition=cond, cond_span=value_span(cond_node), output=output.strip(),
            output_span=value_span(output_node), desc=desc, priority=priority, loc=loc,
            source=self.string(item, "source", loc, optional=True) or "syscall",
            enabled=or_default(self.boolean(item, "enabled", loc), True),
            capture=or_default(self.boolean(item, "capture", loc), False),
            capture_duration=or_default(self.typed(item, "capture_duration", loc, to_uint, optional=True), 0),
            warn_evttypes=or_default(self.boolean(item, "warn_evttypes", loc), True),
            skip_if_unknown_filter=or_default(self.boolean(item, "skip-if-unknown-filter", loc), False),
            tags=frozenset(self.sequence(item, "tags", loc)) if "tags" in item else frozenset(),
            exceptions=self.exceptions(item, loc, append=False),
        )

    def read_rule_overrides(self, item: ItemMap, name: str, source: str, appends: set[str], replaces: set[str],
                            loc: tuple[Location, ...]) -> RuleUpdateItem:
        expected = {k for k in (*RULE_APPENDABLE, *RULE_REPLACEABLE) if k in item}
        for mode, keys in (("append", appends), ("replace", replaces)):
            for key in sorted(keys):
                if key not in expected:
                    raise self.fail(f"An {mode} override for '{key}' was specified but '{key}' is not defined",
                                    loc)
                expected.discard(key)
        for key in sorted(expected):
            node = item.get(key) or item.node
            raise self.fail(f"Unexpected key '{key}': no corresponding entry under 'override' is defined.",
                            self.loc(loc, node, "overrides", key))
        # One item may both append and replace; the collector applies the appends first, as Falco does.
        values: dict[str, Any] = {}
        for key in sorted(appends | replaces):
            values[key] = self.rule_value(item, key, loc, append=key in appends)
        modes = {k: ("append" if k in appends else "replace") for k in values}
        cond = item.get("condition")
        return RuleUpdateItem(name, "override", source, {"values": values, "modes": modes}, loc,
                              value_span(cond) if cond is not None else None)

    def rule_value(self, item: ItemMap, key: str, loc: tuple[Location, ...], *, append: bool) -> Any:
        if key == "tags":
            return frozenset(self.sequence(item, "tags", loc))
        if key == "exceptions":
            return self.exceptions(item, loc, append=append)
        if key in ("enabled", "capture", "warn_evttypes", "skip-if-unknown-filter"):
            return self.boolean(item, key, loc, optional=False)
        if key == "capture_duration":
            return self.typed(item, key, loc, to_uint)
        if key == "priority":
            text, node = self.scalar(item, "priority", loc) or ("", item.node)
            priority = Priority.parse(text)
            if priority is None:
                raise self.fail("Invalid priority", self.loc(loc, node, "rule priority"))
            return priority
        text = self.string(item, key, loc) or ""
        return text.strip() if key == "output" else text

    # -- exceptions ----------------------------------------------------------------------------------
    def exceptions(self, item: ItemMap, loc: tuple[Location, ...], *, append: bool) -> tuple[ExceptionItem, ...]:
        node = item.get("exceptions")
        if node is None or node.is_null:
            return ()
        eloc = self.loc(loc, node, "exceptions")
        if not isinstance(node.value, list):
            raise self.fail("Rule exceptions must be a sequence", eloc)
        out: list[ExceptionItem] = []
        for ex_node in node.value:
            tmp = self.loc(eloc, ex_node, "exception")
            if not isinstance(ex_node.value, dict):
                raise self.fail("Rule exception must be a mapping", tmp)
            ex = ItemMap(ex_node)
            name = self.string(ex, "name", tmp) or ""
            xloc = self.loc(loc, ex_node, "exception", name)
            if any(prev.name == name for prev in out):
                self.warn(WarningCode.LOAD_EXCEPTION_NAME_NOT_UNIQUE,
                          f"Multiple definitions of exception '{name}' in the same rule", xloc)
            fields = self.entry(ex.get("fields"), "fields", xloc, optional=append)
            comps = self.entry(ex.get("comps"), "comps", xloc, optional=True)
            values: list[ExceptionEntry] = []
            vals = ex.get("values")
            if vals is not None:
                vloc = self.loc(xloc, vals, "exception values")
                if not isinstance(vals.value, list):
                    raise self.fail("Rule exception values must be a sequence", vloc)
                for v in vals.value:
                    values.append(self.entry(v, "", self.loc(vloc, v, "exception value"), optional=False)
                                  or ExceptionEntry())
            elif append:
                self.warn(WarningCode.LOAD_APPEND_NO_VALUES, "Overriding/appending with no values", xloc)
            out.append(ExceptionItem(name, fields, comps, tuple(values), xloc))
        return tuple(out)

    def entry(self, node: Node | None, key: str, loc: tuple[Location, ...], *, optional: bool
              ) -> ExceptionEntry | None:
        if node is None:
            if optional:
                return None
            raise self.fail(f"Item has no mapping for key '{key}'", loc)
        vloc = self.loc(loc, node, "value for", key)
        if node.text is not None:
            if node.text == "":
                raise self.fail("Value must be non-empty", vloc)
            return ExceptionEntry(item=node.text)
        if isinstance(node.value, list):
            items = tuple(self.entry(v, "", self.loc(vloc, v, "exception"), optional=False) or ExceptionEntry()
                          for v in node.value)
            return ExceptionEntry(items=items, is_list=True)
        raise self.fail("Value is not a scalar or a sequence", vloc)


def read_items(source: SourceText) -> tuple[list[Item], list[Issue]]:
    """All items of one file and the reader's warnings; raises ``LoadIssue`` on the first structural error."""
    reader = Reader(source)
    items = list(reader.read())
    return items, reader.warnings
