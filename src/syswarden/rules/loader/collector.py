"""Rules collector: what a sequence of items means together -- define, append, override, enable.

The second stage of loading (Falco's ``rule_loader_collector``). Items arrive in file order across all files.
Each name keeps one entry; ``index`` is where it was first defined (it fixes evaluation order) and
``visibility`` is the position of its latest update (a macro sees only macros whose index is below its
visibility). A redefinition replaces the entry *in place*; ``append`` concatenates strings with one space,
unions tags and adds exception values; ``override`` appends or replaces per key. Semantic problems raise
``LoadIssue`` with ``LOAD_ERR_VALIDATE``; unknown sources become ``LOAD_UNKNOWN_SOURCE`` warnings.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from syswarden.rules.alert import Priority
from syswarden.rules.loader import items as r
from syswarden.rules.loader.result import ErrorCode, Issue, Location, LoadIssue, WarningCode
from syswarden.spans import Span

ENGINE_VERSION = (0, 63, 0)
ERROR_NO_PREVIOUS_MACRO = ("Macro uses 'append' or 'override.condition: append' but no macro by that name "
                           "already exists")
ERROR_NO_PREVIOUS_LIST = ("List uses 'append' or 'override.items: append' but no list by that name already "
                          "exists")
ERROR_NO_PREVIOUS_RULE_APPEND = ("Rule uses 'append' or 'override.<key>: append' but no rule by that name "
                                 "already exists")
ERROR_NO_PREVIOUS_RULE_REPLACE = ("An 'override.<key>: replace' to a rule was requested but no rule by that "
                                  "name already exists")
# Falco's parser::supported_operators(); list operators take a parenthesised list on the right.
OPERATORS = frozenset(("=", "==", "!=", "<=", ">=", "<", ">", "contains", "icontains", "bcontains", "startswith",
                       "bstartswith", "endswith", "glob", "iglob", "regex", "in", "intersects", "pmatch",
                       "exists"))
LIST_OPERATORS = frozenset(("in", "intersects", "pmatch"))
MODIFIABLE_OPERATORS = frozenset(("=", "==", "!=", "contains", "icontains", "bcontains", "startswith",
                                  "bstartswith", "endswith", "glob", "iglob", "regex"))
MODIFIERS = frozenset(("oneof", "anyof", "allof"))


def is_modifier_operator(op: str) -> bool:
    """``startswith oneof`` and friends (Falco 0.44)."""
    parts = op.split()
    return len(parts) == 2 and parts[0] in MODIFIABLE_OPERATORS and parts[1] in MODIFIERS


@dataclass(slots=True)
class ListInfo:
    name: str
    items: list[str]
    index: int
    visibility: int
    loc: tuple[Location, ...]


@dataclass(slots=True)
class MacroInfo:
    name: str
    condition: str
    cond_span: Span
    index: int
    visibility: int
    loc: tuple[Location, ...]
    condition_appended: bool = False


@dataclass(slots=True)
class RuleInfo:
    name: str
    condition: str
    cond_span: Span
    output: str
    output_span: Span
    desc: str
    priority: Priority
    source: str
    enabled: bool
    capture: bool
    capture_duration: int
    warn_evttypes: bool
    skip_if_unknown_filter: bool
    tags: set[str]
    exceptions: list[r.ExceptionItem]
    index: int
    visibility: int
    loc: tuple[Location, ...]
    unknown_source: bool = False
    # True once an append changed the condition text: spans inside it no longer map 1:1 to the file.
    condition_appended: bool = False


def _fail(message: str, loc: tuple[Location, ...]) -> LoadIssue:
    return LoadIssue(ErrorCode.LOAD_ERR_VALIDATE, message, loc)


@dataclass(slots=True)
class Collector:
    """Accumulates items from every file; ``lists``/``macros``/``rules`` are in definition (index) order."""

    sources: frozenset[str] = frozenset({"syscall"})
    is_valid_field: Callable[[str], bool] = lambda name: True
    lists: dict[str, ListInfo] = field(default_factory=dict)
    macros: dict[str, MacroInfo] = field(default_factory=dict)
    rules: dict[str, RuleInfo] = field(default_factory=dict)
    warnings: list[Issue] = field(default_factory=list)
    required_engine_version: tuple[int, int, int] = (0, 0, 0)
    required_plugins: list[tuple[tuple[str, str], ...]] = field(default_factory=list)
    _next: int = 0

    def _tick(self) -> int:
        self._next += 1
        return self._next - 1

    def add(self, item: r.Item) -> None:
        """Apply one item read from a file."""
        handler = getattr(self, f"_add_{type(item).__name__}")
        handler(item)

    # -- versions ------------------------------------------------------------------------------------
    def _add_EngineVersionItem(self, item: r.EngineVersionItem) -> None:  # named _add_<item type>: dispatch by type
        need = item.version
        if need[0] != ENGINE_VERSION[0] or need > ENGINE_VERSION:
            raise _fail(f"Rules require engine version {_ver(need)}, but engine version is {_ver(ENGINE_VERSION)}",
                        item.loc)
        self.required_engine_version = max(self.required_engine_version, need)

    def _add_PluginVersionsItem(self, item: r.PluginVersionsItem) -> None:
        seen: set[str] = set()
        for name, version in item.alternatives:
            if r.parse_engine_version(version) is None or version.isdigit():
                raise _fail(f"Invalid required version '{version}' for plugin '{name}'", item.loc)
            if name in seen:
                raise _fail(f"Defined multiple alternative version requirements for plugin '{name}'", item.loc)
            seen.add(name)
        self.required_plugins.append(item.alternatives)

    # -- lists and macros ----------------------------------------------------------------------------
    def _add_ListItem(self, item: r.ListItem) -> None:
        prev = self.lists.get(item.name)
        if item.append:
            if prev is None:
                raise _fail(ERROR_NO_PREVIOUS_LIST, item.loc)
            prev.items.extend(item.items)
            prev.visibility = self._tick()
            return
        idx = self._tick()
        # Assigning an existing dict key keeps its slot: a redefinition stays at its first position.
        self.lists[item.name] = ListInfo(item.name, list(item.items), prev.index if prev else idx, idx, item.loc)

    def _add_MacroItem(self, item: r.MacroItem) -> None:
        prev = self.macros.get(item.name)
        if item.append:
            if prev is None:
                raise _fail(ERROR_NO_PREVIOUS_MACRO, item.loc)
            prev.condition += " " + item.condition
            prev.condition_appended = True
            prev.visibility = self._tick()
            return
        idx = self._tick()
        self.macros[item.name] = MacroInfo(item.name, item.condition, item.cond_span,
                                           prev.index if prev else idx, idx, item.loc)

    # -- rules ---------------------------------------------------------------------------------------
    def _find_prev_rule(self, name: str, source: str, loc: tuple[Location, ...]) -> RuleInfo | None:
        prev = self.rules.get(name)
        if prev and prev.source and source and prev.source != source:
            raise _fail("Rule has been re-defined with a different source", loc)
        return prev

    def _add_RuleItem(self, item: r.RuleItem) -> None:
        prev = self._find_prev_rule(item.name, item.source, item.loc)
        unknown = item.source not in self.sources
        if unknown:
            self.warnings.append(Issue(WarningCode.LOAD_UNKNOWN_SOURCE, f"Unknown source {item.source}, skipping",
                                       item.loc))
        for ex in item.exceptions:
            if ex.fields is None:
                raise _fail("Rule exception item must have fields property with a list of fields", ex.loc)
        exceptions = [self._validate_exception(ex, check_fields=not unknown) for ex in item.exceptions]
        idx = self._tick()
        info = RuleInfo(
            name=item.name, condition=item.condition, cond_span=item.cond_span, output=item.output,
            output_span=item.output_span, desc=item.desc, priority=item.priority, source=item.source,
            enabled=item.enabled, capture=item.capture, capture_duration=item.capture_duration,
            warn_evttypes=item.warn_evttypes, skip_if_unknown_filter=item.skip_if_unknown_filter,
            tags=set(item.tags), exceptions=exceptions, index=prev.index if prev else idx, visibility=idx,
            loc=item.loc, unknown_source=unknown)
        self.rules[item.name] = info

    def _add_RuleUpdateItem(self, item: r.RuleUpdateItem) -> None:
        if item.mode == "override":
            values: dict[str, Any] = item.values["values"]
            modes: dict[str, str] = item.values["modes"]
            appends = {k: v for k, v in values.items() if modes[k] == "append"}
            replaces = {k: v for k, v in values.items() if modes[k] == "replace"}
            if appends:
                self._append_rule(item, appends)
            if replaces:
                self._replace_rule(item, replaces)
        else:
            self._append_rule(item, item.values)

    def _append_rule(self, item: r.RuleUpdateItem, values: dict[str, Any]) -> None:
        prev = self._find_prev_rule(item.name, item.source, item.loc)
        if prev is None:
            raise _fail(ERROR_NO_PREVIOUS_RULE_APPEND, item.loc)
        if not values:
            raise _fail("Appended rule must have exceptions or condition property", item.loc)
        for key in ("condition", "output", "desc"):
            text = values.get(key)
            if text:
                setattr(prev, key, f"{getattr(prev, key)} {text}")
                prev.condition_appended |= key == "condition"
        prev.tags |= set(values.get("tags", ()))
        for ex in values.get("exceptions", ()):
            self._append_exception(prev, ex)
        prev.visibility = self._tick()

    def _append_exception(self, rule: RuleInfo, ex: r.ExceptionItem) -> None:
        for i, old in enumerate(rule.exceptions):
            if old.name == ex.name:
                if ex.fields is not None:
                    raise _fail("Can not append exception fields to existing exception, only values", ex.loc)
                if ex.comps is not None:
                    raise _fail("Can not append exception comps to existing exception, only values", ex.loc)
                rule.exceptions[i] = dataclasses.replace(old, values=old.values + ex.values)
                return
        if ex.fields is None:
            raise _fail("Rule exception must have fields property with a list of fields", ex.loc)
        if not ex.values:
            raise _fail("Rule exception must have values property with a list of values", ex.loc)
        rule.exceptions.append(self._validate_exception(ex, check_fields=not rule.unknown_source))

    def _replace_rule(self, item: r.RuleUpdateItem, values: dict[str, Any]) -> None:
        prev = self._find_prev_rule(item.name, item.source, item.loc)
        if prev is None:
            raise _fail(ERROR_NO_PREVIOUS_RULE_REPLACE, item.loc)
        for key, value in values.items():
            attr = key.replace("-", "_")
            if key == "tags":
                value = set(value)
            elif key == "exceptions":
                value = [self._validate_exception(ex, check_fields=not prev.unknown_source) for ex in value]
            elif key == "condition":
                prev.cond_span = item.cond_span or prev.cond_span
                prev.condition_appended = False
            setattr(prev, attr, value)
        prev.visibility = self._tick()

    def _add_RuleEnableItem(self, item: r.RuleEnableItem) -> None:
        prev = self.rules.get(item.name)
        if prev is None:
            raise _fail("Rule has 'enabled' key but no rule by that name already exists", item.loc)
        prev.enabled = item.enabled

    # -- exceptions ----------------------------------------------------------------------------------
    def _validate_exception(self, ex: r.ExceptionItem, *, check_fields: bool) -> r.ExceptionItem:
        """Falco's ``validate_exception_info``: default comps, equal lengths, known operators and fields."""
        fields, comps = ex.fields, ex.comps
        assert fields is not None
        if fields.is_list:
            if comps is None:
                comps = r.ExceptionEntry(items=tuple(r.ExceptionEntry("=") for _ in fields.items), is_list=True)
            if not comps.is_list or len(fields.items) != len(comps.items):
                raise _fail("Fields and comps lists must have equal length", ex.loc)
            comps = dataclasses.replace(comps, items=tuple(r.ExceptionEntry(c.item.strip()) for c in comps.items))
            for comp in comps.items:
                if comp.item not in OPERATORS and not is_modifier_operator(comp.item):
                    raise _fail(f"'{comp.item}' is not a supported comparison operator", ex.loc)
            names = [f.item for f in fields.items]
        else:
            comps = comps or r.ExceptionEntry("in")
            if comps.is_list:
                raise _fail("Fields and comps must both be strings", ex.loc)
            comps = r.ExceptionEntry(comps.item.strip())
            if comps.item not in LIST_OPERATORS and not is_modifier_operator(comps.item):
                raise _fail("When fields is a single value, comps must be one of (in, pmatch, intersects) or a "
                            "modifier operator (e.g. startswith oneof)", ex.loc)
            names = [fields.item]
        for name in names if check_fields else ():
            if not self.is_valid_field(name):
                raise _fail(f"'{name}' is not a supported filter field", ex.loc)
        return dataclasses.replace(ex, comps=comps)


def _ver(v: tuple[int, int, int]) -> str:
    return ".".join(map(str, v))
