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
from syswarden.rules.loader.exceptions import apply_exceptions
from syswarden.rules.loader.result import ErrorCode, Issue, Location, LoadIssue, WarningCode
from syswarden.rules.output_format import OutputFormat
from syswarden.rules.passes.enter_dialect import reads_direction
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
class Builder:
    """Compiles one collector's content; ``warnings`` and ``skipped`` fill as it goes."""

    collector: Collector
    sources: dict[str, SourceText]
    warnings: list[Issue] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    lists: dict[str, list[str]] = field(default_factory=dict)
    macro_asts: dict[str, ast.Expr] = field(default_factory=dict)
    used_macros: set[str] = field(default_factory=set)
    used_lists: set[str] = field(default_factory=set)

    def build(self) -> Ruleset:
        self.build_lists()
        self.build_macros()
        rules = [rule for info in self.collector.rules.values() if (rule := self.build_rule(info)) is not None]
        self.report_unused()
        return Ruleset(tuple(rules), len(self.collector.macros), len(self.collector.lists),
                       tuple(self.skipped))

    # -- lists ---------------------------------------------------------------------------------------
    def build_lists(self) -> None:
        infos = self.collector.lists
        for info in infos.values():
            items: list[str] = []
            for item in info.items:
                ref = infos.get(item)
                if ref is not None and ref.index < info.visibility:
                    self.used_lists.add(ref.name)
                    items.extend(ref.items)
                else:
                    items.append(item)
            self.lists[info.name] = items

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
            self.check_loop(info, [], acyclic)

    def check_loop(self, info: MacroInfo, stack: list[str], acyclic: set[str]) -> None:
        if info.name in acyclic:
            return
        if info.name in stack:
            raise LoadIssue(ErrorCode.LOAD_ERR_VALIDATE, f"reference loop in macro '{info.name}'",
                            self.collector.macros[stack[0]].loc)
        for ref in _macro_refs(self.macro_asts[info.name]):
            self.check_loop(self.collector.macros[ref.name], [*stack, info.name], acyclic)
        acyclic.add(info.name)

    def undefined_macro(self, ref: ast.MacroRef, loc: tuple[Location, ...]) -> LoadIssue:
        return LoadIssue(ErrorCode.LOAD_ERR_VALIDATE, f"Undefined macro '{ref.name}' used in filter.",
                         (*loc, Location("condition expression", "", ref.span)))

    def parse(self, text: str, origin: Span | None, loc: tuple[Location, ...], anchor: Span | None = None
              ) -> ast.Expr:
        """Parse a condition; ``origin`` maps positions into the file, ``anchor`` is its key when it cannot."""
        from syswarden.rules.filter.parser import parse

        source = self.sources.get(origin.file) if origin else None
        try:
            return parse(text, origin=origin, source=source)
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
        self.parse(info.condition, origin, info.loc, info.cond_span)   # errors in the user's text, exact spans
        text = apply_exceptions(info.condition, info.exceptions)
        expr = self.parse(text, None if info.exceptions else origin, info.loc, info.cond_span)
        for ref in _macro_refs(expr):
            if ref.name not in self.macro_asts:
                raise self.undefined_macro(ref, info.loc)
        self.used_macros.update(ref.name for ref in _macro_refs(expr))
        self.used_lists.update(_list_names(expr, self.lists))
        try:
            compiled = compile_condition(expr, macros=self.macro_asts, lists=self.lists)
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
    yield node
    if isinstance(node, (ast.And, ast.Or)):
        for child in node.children:
            yield from _walk(child)
    elif isinstance(node, ast.Not):
        yield from _walk(node.child)
    elif isinstance(node, ast.Check):
        yield from _walk(node.rhs)
    elif isinstance(node, ast.ListValue):
        yield from node.items


def _macro_refs(expr: ast.Expr) -> list[ast.MacroRef]:
    return [n for n in _walk(expr) if isinstance(n, ast.MacroRef)]


def _list_names(expr: ast.Expr, lists: dict[str, list[str]]) -> set[str]:
    """Names of lists referenced in list literals or as bare list operands (Falco substitutes both)."""
    names = set()
    for node in _walk(expr):
        if isinstance(node, ast.ListRef) and node.name in lists:
            names.add(node.name)
        elif isinstance(node, ast.Value) and not node.quoted and node.text in lists:
            names.add(node.text)
    return names
