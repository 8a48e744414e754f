"""Rules builder: collected lists, macros and rules -> a checked, compiled ``Ruleset`` (Falco's rule compiler).

Order matters and follows Falco: lists first (an item naming an *earlier* list is expanded inline), then
every macro is parsed and its macro references checked against the macros visible to it (defined before its
last update), with reference loops reported; then each rule: exceptions appended as a condition suffix,
output format compiled, condition parsed and compiled with all macros visible. Afterwards unused macros and
lists are reported. Errors raise ``LoadIssue``; ``skip-if-unknown-filter`` turns an unknown field into a
``LOAD_UNKNOWN_FILTER`` warning and drops the rule.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from syswarden.errors import SyswardenError
from syswarden.rules.filter import ast
from syswarden.rules.loader.collector import Collector, MacroInfo, RuleInfo
from syswarden.rules.loader.rule_exceptions import apply_exceptions
from syswarden.rules.loader.result import ErrorCode, Issue, Location, LoadIssue, WarningCode
from syswarden.rules.output_format import OutputFormat
from syswarden.rules.passes.enter_dialect import reads_direction
from syswarden.rules.passes.errors import ListSizeError
from syswarden.rules.passes.expand_lists import expand_definitions
from syswarden.rules.passes.resolve_macros import MacroResolver, macro_refs
from syswarden.rules.ruleset import Rule, Ruleset
from syswarden.spans import SourceText, Span

MAX_EVTTYPES = 100
# Falco >= 0.42 deprecates these (enter events are gone); we warn the same way.
DEPRECATED_FIELDS = ("evt.dir", "evt.latency", "evt.latency.s", "evt.latency.ns", "evt.latency.human",
                     "evt.wait_latency")
CONTAINER_INFO = "%container.info"
_UNKNOWN_MARKERS = ("nonexistent field", "unknown field", "invalid formatting token", "unknown event type",
                    "unknown filter")


@dataclass(slots=True)
class BuildCache:
    """What one load's builders share: the content loaded so far is compiled again after every file (as in
    Falco, so each file gets its own verdict); conditions already parsed or compiled are not done twice."""

    parsed: dict[tuple[str, Span | None], ast.Expr] = field(default_factory=dict)
    compiled: dict[ast.Expr, Any] = field(default_factory=dict)
    codegen: bool = True          # False: closures only (same verdicts; for loads that never evaluate events)


@dataclass(slots=True)
class Builder:
    """Compiles one collector's content; ``warnings`` and ``skipped`` fill as it goes."""

    collector: Collector
    sources: dict[str, SourceText]
    cache: BuildCache = field(default_factory=BuildCache)
    warnings: list[Issue] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    lists: dict[str, list[str]] = field(default_factory=dict)
    macro_asts: dict[str, ast.Expr] = field(default_factory=dict)
    used_macros: set[str] = field(default_factory=set)
    used_lists: set[str] = field(default_factory=set)
    resolver: MacroResolver = field(default_factory=lambda: MacroResolver({}))

    def build(self) -> Ruleset:
        self.build_lists()
        self.build_macros()
        rules = [rule for info in self.collector.rules.values() if (rule := self.build_rule(info)) is not None]
        self.report_unused()
        return Ruleset(tuple(rules), len(self.collector.macros), len(self.collector.lists),
                       tuple(self.skipped))

    # -- lists ---------------------------------------------------------------------------------------
    def build_lists(self) -> None:
        """Each list once, in definition order (``expand_definitions``): an item naming a list defined before
        this list's last update is replaced by that list's items, as in Falco; anything else stays text."""
        infos = self.collector.lists
        try:
            lists, used = expand_definitions({name: info.items for name, info in infos.items()},
                                             sees=lambda name, ref: infos[ref].index < infos[name].visibility)
        except ListSizeError as err:
            raise LoadIssue(ErrorCode.LOAD_ERR_VALIDATE, err.message, infos[err.list_name].loc) from None
        self.lists = {name: [str(item) for item in items] for name, items in lists.items()}
        self.used_lists |= used

    # -- macros --------------------------------------------------------------------------------------
    def build_macros(self) -> None:
        infos = self.collector.macros
        for info in infos.values():
            origin = None if info.condition_appended else info.cond_span
            self.macro_asts[info.name] = self.parse(info.condition, origin, info.loc, info.cond_span)
        for info in infos.values():
            for ref in _macro_refs(self.macro_asts[info.name]):
                target = infos.get(ref.name)
                if target is None or target.index >= info.visibility:
                    raise self.undefined_macro(ref, info.loc)
                self.used_macros.add(ref.name)
            self.used_lists.update(_list_names(self.macro_asts[info.name], self.lists))
        acyclic: set[str] = set()
        for info in infos.values():
            self.check_loop(info, acyclic)
        self.resolver = MacroResolver(self.macro_asts)

    def check_loop(self, info: MacroInfo, acyclic: set[str]) -> None:
        """Falco's loop check, with an explicit stack (a chain of 5,000 macros is no recursion)."""
        if info.name in acyclic:
            return
        frames = [(info.name, iter(macro_refs(self.macro_asts[info.name])))]
        on_path, on_path_set = [info.name], {info.name}
        while frames:
            name, pending = frames[-1]
            for ref in pending:
                if ref.name in acyclic:
                    continue
                if ref.name in on_path_set:
                    raise LoadIssue(ErrorCode.LOAD_ERR_VALIDATE, f"reference loop in macro '{ref.name}'",
                                    self.collector.macros[on_path[0]].loc)
                frames.append((ref.name, iter(macro_refs(self.macro_asts[ref.name]))))
                on_path.append(ref.name)
                on_path_set.add(ref.name)
                break
            else:
                acyclic.add(name)
                frames.pop()
                on_path_set.discard(on_path.pop())

    def undefined_macro(self, ref: ast.MacroRef, loc: tuple[Location, ...]) -> LoadIssue:
        return LoadIssue(ErrorCode.LOAD_ERR_VALIDATE, f"Undefined macro '{ref.name}' used in filter.",
                         (*loc, Location("condition expression", "", ref.span)))

    def parse(self, text: str, origin: Span | None, loc: tuple[Location, ...], anchor: Span | None = None
              ) -> ast.Expr:
        """Parse a condition; ``origin`` maps positions into the file, ``anchor`` is its key when it cannot."""
        from syswarden.rules.filter.parser import parse

        key = (text, origin)
        found = self.cache.parsed.get(key)
        if found is not None:
            return found
        source = self.sources.get(origin.file) if origin else None
        try:
            expr = self.cache.parsed[key] = parse(text, origin=origin, source=source)
            return expr
        except SyswardenError as err:
            raise self.condition_error(ErrorCode.LOAD_ERR_COMPILE_CONDITION, err, loc, anchor or origin,
                                       text) from err

    def condition_error(self, code: ErrorCode, err: SyswardenError, loc: tuple[Location, ...],
                        anchor: Span | None, text: str = "") -> LoadIssue:
        """The error located in the file; a position inside a rewritten condition (appended, exceptions)
        is kept as a ``condition expression`` location named by the condition's start, as Falco does."""
        span = err.span if err.span and err.span.line > 0 else None
        if span is not None and span.file in self.sources:
            return LoadIssue(code, err.message, (*loc, Location("condition expression", "", span)))
        where: tuple[Location, ...] = ()
        if span is not None:
            where += (Location("condition expression", _condition_name(text), span),)
        if anchor is not None:
            where += (Location("condition expression", "", anchor),)
        return LoadIssue(code, err.message, (*loc, *where))

    # -- rules ---------------------------------------------------------------------------------------
    def build_rule(self, info: RuleInfo) -> Rule | None:
        if info.unknown_source:
            self.skipped.append((info.name, f"unknown source {info.source}"))
            return None
        output = info.output
        if CONTAINER_INFO in output:
            self.warn(WarningCode.LOAD_DEPRECATED_ITEM, "%container.info is deprecated and no more useful, and "
                      "will be dropped by Falco 1.0.0. The container plugin will automatically add required "
                      "fields to the output message.", info.loc)
            output = output.replace(CONTAINER_INFO, "")
        formatter = self.build_output(info, output)
        if formatter is None:
            return None
        compiled = self.build_condition(info)
        if compiled is None:
            return None
        evttypes = compiled.evttypes
        if info.warn_evttypes and info.source == "syscall" and (evttypes is None or len(evttypes) > MAX_EVTTYPES):
            self.warn(WarningCode.LOAD_NO_EVTTYPE, "Rule matches too many evt.type values. This has a significant "
                      "performance penalty.", info.loc)
        return Rule(
            name=info.name, desc=info.desc, condition=apply_exceptions(info.condition, info.exceptions),
            output=output, priority=info.priority, predicate=compiled.predicate, formatter=formatter,
            evttypes=evttypes, index=info.index, span=info.loc[-1].span, source=info.source,
            tags=frozenset(info.tags), enabled=info.enabled, capture=info.capture,
            capture_duration=info.capture_duration, expr=compiled.expr,
            reads_direction=reads_direction(compiled.expr))

    def build_output(self, info: RuleInfo, output: str) -> OutputFormat | None:
        oloc = (*info.loc, Location("rule output", "", info.output_span))
        try:
            formatter = OutputFormat(output)
        except SyswardenError as err:
            if info.skip_if_unknown_filter and _is_unknown(err.message):
                self.warn(WarningCode.LOAD_UNKNOWN_FILTER, err.message, oloc)
                self.skipped.append((info.name, err.message))
                return None
            raise LoadIssue(ErrorCode.LOAD_ERR_COMPILE_OUTPUT, err.message, oloc) from err
        for name in DEPRECATED_FIELDS:
            if any(f.key == name for f in formatter.fields):
                self.warn(WarningCode.LOAD_DEPRECATED_ITEM,
                          f"usage of deprecated field '{name}' has been detected in the rule output", oloc)
        return formatter

    def build_condition(self, info: RuleInfo) -> Any:
        from syswarden.rules.compiler import compile_condition

        # An appended condition no longer lines up with the file; report its errors at the condition key.
        origin = None if info.condition_appended else info.cond_span
        cloc = (*info.loc, Location("rule condition", "", info.cond_span))
        expr = self.parse(info.condition, origin, info.loc, info.cond_span)   # errors in the user's text, exact
        text = apply_exceptions(info.condition, info.exceptions)
        if info.exceptions:                         # Falco parses the condition again with the exceptions' suffix
            expr = self.parse(text, None, info.loc, info.cond_span)
        for ref in _macro_refs(expr):
            if ref.name not in self.macro_asts:
                raise self.undefined_macro(ref, info.loc)
        self.used_macros.update(ref.name for ref in _macro_refs(expr))
        self.used_lists.update(_list_names(expr, self.lists))
        try:
            compiled = compile_condition(expr, macros=self.resolver, lists=self.lists, cache=self.cache.compiled,
                                         codegen=self.cache.codegen)
        except SyswardenError as err:
            if info.skip_if_unknown_filter and _is_unknown(err.message):
                self.warn(WarningCode.LOAD_UNKNOWN_FILTER, err.message, cloc)
                self.skipped.append((info.name, err.message))
                return None
            raise self.condition_error(ErrorCode.LOAD_ERR_COMPILE_CONDITION, err, info.loc, info.cond_span,
                                       text) from err

        for name in DEPRECATED_FIELDS:
            if name in getattr(compiled, "fields", ()):
                self.warn(WarningCode.LOAD_DEPRECATED_ITEM,
                          f"usage of deprecated field '{name}' has been detected in the rule condition", cloc)
        return compiled

    # -- warnings ------------------------------------------------------------------------------------
    def warn(self, code: WarningCode, message: str, loc: tuple[Location, ...]) -> None:
        self.warnings.append(Issue(code, message, loc))

    def report_unused(self) -> None:
        for info in self.collector.macros.values():
            if info.name not in self.used_macros:
                self.warn(WarningCode.LOAD_UNUSED_MACRO, "Macro not referred to by any other rule/macro", info.loc)
        for linfo in self.collector.lists.values():
            if linfo.name not in self.used_lists:
                self.warn(WarningCode.LOAD_UNUSED_LIST, "List not referred to by any other rule/macro", linfo.loc)


def _condition_name(text: str) -> str:
    """Falco names a condition context by its first characters."""
    short = text if len(text) <= 20 else text[:17] + "..."
    return '"' + short.replace("\n", " ").replace("\r", " ") + '"'


def _is_unknown(message: str) -> bool:
    return any(marker in message for marker in _UNKNOWN_MARKERS)


def _walk(node: object) -> Iterator[object]:
    """Every node of a condition, without recursion (conditions nest up to the parser's 1,000 levels)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if isinstance(current, (ast.And, ast.Or)):
            stack.extend(reversed(current.children))
        elif isinstance(current, ast.Not):
            stack.append(current.child)
        elif isinstance(current, ast.Check):
            stack.append(current.rhs)
        elif isinstance(current, ast.ListValue):
            stack.extend(reversed(current.items))


def _macro_refs(expr: ast.Expr) -> list[ast.MacroRef]:
    return list(macro_refs(expr))


def _list_names(expr: ast.Expr, lists: dict[str, list[str]]) -> set[str]:
    """Names of lists referenced in list literals or as bare list operands (Falco substitutes both)."""
    names = set()
    for node in _walk(expr):
        if isinstance(node, ast.ListRef) and node.name in lists:
            names.add(node.name)
        elif isinstance(node, ast.Value) and not node.quoted and node.text in lists:
            names.add(node.text)
    return names
