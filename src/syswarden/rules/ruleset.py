"""Ruleset: the compiled rules in definition order, bucketed by event type (Falco's evttype index).

A rule whose condition restricts ``evt.type`` lands only in the buckets of those types; a rule that can match
any type (``evttypes is None``) joins every bucket and the catch-all list. Each bucket keeps definition order,
because with ``rule_matching: first`` the earliest rule wins. Selection (``-D``/``-T``/``-t``, minimum
priority) returns a new Ruleset; the compiled rules are shared, never recompiled.
"""
from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from syswarden.errors import InputError
from syswarden.events.event import Event
from syswarden.rules.alert import Priority
from syswarden.spans import Span

if TYPE_CHECKING:
    from syswarden.rules.filter import ast
    from syswarden.rules.output_format import OutputFormat


@dataclass(frozen=True, slots=True)
class Rule:
    """One loaded, compiled rule."""

    name: str
    desc: str
    condition: str                                   # the final condition text (exceptions appended)
    output: str
    priority: Priority
    predicate: Callable[[Event], bool]
    formatter: OutputFormat
    evttypes: frozenset[str] | None                  # None: may match any event type
    index: int                                       # definition order
    span: Span
    source: str = "syscall"
    tags: frozenset[str] = frozenset()
    enabled: bool = True
    capture: bool = False
    capture_duration: int = 0
    expr: ast.Expr | None = field(default=None, compare=False, repr=False)   # the expanded condition, for analyses
    reads_direction: bool = False                    # reads evt.dir: an enter-dialect rule (passes/enter_dialect)

    def field_keys(self) -> list[str]:
        """Every field the rule reads, in its condition and in its output (with the extra fields and outputs of
        the run: ``append_output``), as ``name`` or ``name[arg]`` (``proc.aname[2]``, ``evt.arg.flags``)."""
        from syswarden.rules.filter import ast as filter_ast

        keys = [ref.name if ref.arg is None else f"{ref.name}[{ref.arg}]"
                for ref in filter_ast.field_refs(self.expr)] if self.expr is not None else []
        fmt = self.formatter
        keys += [tok.key for tok in fmt.fields]
        for extra in getattr(fmt, "extras", ()):
            if extra.token is not None:
                keys.append(extra.token.key)
            if extra.format is not None:
                keys += [tok.key for tok in extra.format.fields]
        return keys


@dataclass(frozen=True, slots=True)
class Selection:
    """Which rules run: Falco's ``-D NAME`` (substring or glob), ``-T TAG``, ``-t TAG``, ``-p PRIORITY``."""

    min_priority: Priority = Priority.DEBUG
    disable_names: tuple[str, ...] = ()
    disable_tags: tuple[str, ...] = ()
    only_tags: tuple[str, ...] = ()
    enable_all: bool = False                         # also run rules whose file says ``enabled: false``

    def __post_init__(self) -> None:
        # Falco refuses the mix too: -t keeps only tagged rules, so what -D/-T would remove is ambiguous.
        if (self.disable_names or self.disable_tags) and self.only_tags:
            raise InputError("You can not specify both disabled (-D/-T) and enabled (-t) rules")

    def keeps(self, rule: Rule) -> bool:
        if not (rule.enabled or self.enable_all) or rule.priority > self.min_priority:
            return False
        if any(_name_matches(pattern, rule.name) for pattern in self.disable_names):
            return False
        if rule.tags & set(self.disable_tags):
            return False
        return not self.only_tags or bool(rule.tags & set(self.only_tags))


def _name_matches(pattern: str, name: str) -> bool:
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(name, pattern)
    return pattern in name


@dataclass(frozen=True, slots=True)
class Ruleset:
    """All loaded rules (``rules``, including disabled ones) and the index of those that run (``active``)."""

    rules: tuple[Rule, ...]
    macro_count: int = 0
    list_count: int = 0
    skipped: tuple[tuple[str, str], ...] = ()        # (rule name, reason) for rules not loaded
    selection: Selection = Selection()
    active: tuple[Rule, ...] = field(init=False)
    buckets: dict[str, tuple[Rule, ...]] = field(init=False)
    catch_all: tuple[Rule, ...] = field(init=False)

    def __post_init__(self) -> None:
        active = tuple(r for r in self.rules if self.selection.keeps(r))
        object.__setattr__(self, "active", active)
        object.__setattr__(self, "catch_all", tuple(r for r in active if r.evttypes is None))
        object.__setattr__(self, "buckets", _bucket(active))

    def select(self, selection: Selection) -> Ruleset:
        """The same rules under another selection."""
        return replace(self, selection=selection)

    def rules_for(self, evttype: str) -> tuple[Rule, ...]:
        """The active rules that may match an event of this type, in definition order."""
        return self.buckets.get(evttype, self.catch_all)

    def event_types(self) -> frozenset[str] | None:
        """Event types the active rules need; None when some rule may match any type."""
        if self.catch_all:
            return None
        return frozenset(self.buckets)

    def by_name(self, name: str) -> Rule | None:
        return next((r for r in self.rules if r.name == name), None)


def _bucket(rules: Iterable[Rule]) -> dict[str, tuple[Rule, ...]]:
    """Event type -> rules, each bucket in definition order and holding the catch-all rules too."""
    rules = tuple(rules)
    types = {t for r in rules if r.evttypes is not None for t in r.evttypes}
    return {t: tuple(r for r in rules if r.evttypes is None or t in r.evttypes) for t in sorted(types)}
