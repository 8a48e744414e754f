"""Rules file items: the typed records the reader produces (one per YAML item) and scalar decoding helpers.

``RuleItem`` is a full definition; ``RuleUpdateItem`` an ``append``/``override`` update; ``RuleEnableItem`` the
deprecated standalone ``enabled``. Every record carries its chain of ``Location``s for error messages.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, TypeVar

from syswarden.rules.alert import Priority
from syswarden.rules.loader.result import Location
from syswarden.spans import Span

T = TypeVar("T")
_TRUE = frozenset(("y", "yes", "true", "on"))
_FALSE = frozenset(("n", "no", "false", "off"))


@dataclass(frozen=True, slots=True)
class EngineVersionItem:
    version: tuple[int, int, int]
    loc: tuple[Location, ...]


@dataclass(frozen=True, slots=True)
class PluginVersionsItem:
    alternatives: tuple[tuple[str, str], ...]      # (plugin name, version) -- any one satisfies
    loc: tuple[Location, ...]


@dataclass(frozen=True, slots=True)
class ListItem:
    name: str
    items: tuple[str, ...]
    append: bool
    loc: tuple[Location, ...]


@dataclass(frozen=True, slots=True)
class MacroItem:
    name: str
    condition: str
    cond_span: Span
    append: bool
    loc: tuple[Location, ...]


@dataclass(frozen=True, slots=True)
class ExceptionEntry:
    """A scalar or a (possibly nested) list, as exception ``fields``/``comps``/``values`` allow."""

    item: str = ""
    items: tuple[ExceptionEntry, ...] = ()
    is_list: bool = False


@dataclass(frozen=True, slots=True)
class ExceptionItem:
    name: str
    fields: ExceptionEntry | None
    comps: ExceptionEntry | None
    values: tuple[ExceptionEntry, ...]
    loc: tuple[Location, ...]


@dataclass(frozen=True, slots=True)
class RuleItem:
    """A full rule definition; defaults are Falco's."""

    name: str
    condition: str
    cond_span: Span
    output: str
    output_span: Span
    desc: str
    priority: Priority
    loc: tuple[Location, ...]
    source: str = "syscall"
    enabled: bool = True
    capture: bool = False
    capture_duration: int = 0
    warn_evttypes: bool = True
    skip_if_unknown_filter: bool = False
    tags: frozenset[str] = frozenset()
    exceptions: tuple[ExceptionItem, ...] = ()


@dataclass(frozen=True, slots=True)
class RuleUpdateItem:
    """``append: true`` or ``override:`` on a rule: only the keys in ``values`` change."""

    name: str
    mode: str                                       # "append" | "replace"
    source: str
    values: dict[str, Any]
    loc: tuple[Location, ...]
    cond_span: Span | None = None


@dataclass(frozen=True, slots=True)
class RuleEnableItem:
    """The deprecated standalone ``enabled:`` form."""

    name: str
    enabled: bool
    loc: tuple[Location, ...]


Item = (EngineVersionItem | PluginVersionsItem | ListItem | MacroItem | RuleItem | RuleUpdateItem
        | RuleEnableItem)


def parse_engine_version(text: str) -> tuple[int, int, int] | None:
    """An integer N is Falco's implicit ``0.N.0``; otherwise a strict ``x.y.z`` semver."""
    if re.fullmatch(r"[0-9]+", text):
        return (0, int(text), 0)
    match = re.fullmatch(r"([0-9]+)\.([0-9]+)\.([0-9]+)", text)
    if match is None:
        return None
    return (int(match[1]), int(match[2]), int(match[3]))


def to_bool(text: str) -> bool | None:
    low = text.lower()
    return True if low in _TRUE else False if low in _FALSE else None


def to_uint(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def or_default(value: T | None, default: T) -> T:
    return default if value is None else value
