"""Output formats: a rule's ``output`` string with ``%field`` tokens, compiled once, rendered per alert.

Tokenising follows libsinsp's ``eventformatter``: after ``%`` come an optional decimal width and a field
name, optionally with ``[arg]``; the name is found *greedily by backing off* -- the longest prefix that
names a known field wins, so ``%fd.name"`` and ``%proc.cmdline)`` work and a trailing ``.`` stays text.
A missing value renders as ``<NA>`` (Falco prefixes every output with ``*``, so a missing value never
suppresses the line). ``render`` returns the text and the typed values for Falco's JSON ``output_fields``.

falco.yaml's ``append_output`` (Falco 0.39+) is ``AppendOutput``: for the rules it matches, ``extra_output``
is appended to the output string (after one space, as Falco's rule compiler does) and ``extra_fields`` become
extra ``output_fields`` that never show in the text: ``{key: format}`` gives the formatted text, a bare field
name gives the field's typed value. ``OutputFormat.extended`` builds the rule's new format once, at load time.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from syswarden.errors import InputError, SyswardenError, did_you_mean
from syswarden.events.event import Event
from syswarden.spans import Span

NA = "<NA>"
_NAME = re.compile(r"[A-Za-z0-9_.]+")
_ARG = re.compile(r"\[([^\]]*)\]")


class OutputFormatError(InputError):
    """An output string names a field that does not exist or ends with ``%``."""

    code = "output-format"


@dataclass(frozen=True, slots=True)
class FieldToken:
    """One ``%field`` occurrence: its key in ``output_fields`` and how to read and print it."""

    key: str                                    # "proc.name", "proc.aname[2]"
    extract: Callable[[Event], Any]
    format: Callable[[Any], str]
    json_value: Callable[[Any], Any]
    width: int = 0


Lookup = Callable[[str, "str | None"], Any]


def _default_lookup(name: str, arg: str | None) -> Any:
    from syswarden.rules.fields import registry

    return registry.lookup(name, arg)


@dataclass(frozen=True, slots=True)
class AppendOutput:
    """One ``append_output`` entry of falco.yaml.

    ``match`` conditions all have to hold (an empty match takes every rule): the rule's source equals
    ``source``, its tags include every one of ``tags``, its name equals ``rule``. ``extra_fields`` pairs a key
    with a format, or with None for a bare field name (then the key is the field and the value keeps its type).
    """

    source: str | None = None
    tags: frozenset[str] = frozenset()
    rule: str | None = None
    extra_output: str = ""
    extra_fields: tuple[tuple[str, str | None], ...] = ()
    span: Span | None = None

    def matches(self, name: str, source: str, tags: Iterable[str]) -> bool:
        return ((self.source is None or self.source == source) and self.tags <= frozenset(tags)
                and (self.rule is None or self.rule == name))


@dataclass(frozen=True, slots=True)
class ExtraField:
    """An ``extra_fields`` item compiled: a formatted string (``format``) or one raw field (``token``)."""

    key: str
    format: OutputFormat | None = None
    token: FieldToken | None = None

    def value(self, event: Event) -> Any:
        if self.token is not None:
            raw = self.token.extract(event)
            return None if raw is None else self.token.json_value(raw)
        assert self.format is not None
        return self.format.render(event)[0]


class OutputFormat:
    """A compiled output string. ``render(event) -> (text, output_fields)``."""

    __slots__ = ("text", "parts", "fields", "extras")

    def __init__(self, text: str, *, lookup: Lookup | None = None,
                 extra_fields: Sequence[tuple[str, str | None]] = ()) -> None:
        self.text = text
        self.parts: tuple[str | FieldToken, ...] = tuple(_tokenize(text, lookup or _default_lookup))
        self.fields = tuple(p for p in self.parts if isinstance(p, FieldToken))
        self.extras: tuple[ExtraField, ...] = tuple(_extra_field(key, fmt, lookup or _default_lookup)
                                                    for key, fmt in extra_fields)

    @classmethod
    def extended(cls, text: str, entries: Iterable[AppendOutput], *,
                 lookup: Lookup | None = None) -> OutputFormat:
        """The format of ``text`` with every entry's extra output appended and extra fields added, in order
        (a later entry's field replaces an earlier one with the same key, as in Falco's per-rule map)."""
        fields: dict[str, str | None] = {}
        for entry in entries:
            if entry.extra_output:
                text = f"{text} {entry.extra_output}"
            fields.update(entry.extra_fields)
        return cls(text, lookup=lookup, extra_fields=tuple(fields.items()))

    def render(self, event: Event) -> tuple[str, dict[str, Any]]:
        out: list[str] = []
        values: dict[str, Any] = {}
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = part.extract(event)
            if value is None:
                text = NA
                values[part.key] = None
            else:
                text = part.format(value)
                values[part.key] = part.json_value(value)
            out.append(text.ljust(part.width) if part.width else text)
        for extra in self.extras:
            # Falco sets the extra fields last, so one named like an output field replaces it.
            values[extra.key] = extra.value(event)
        return "".join(out), values


def _extra_field(key: str, fmt: str | None, lookup: Lookup) -> ExtraField:
    if fmt is not None:
        return ExtraField(key, format=OutputFormat(fmt, lookup=lookup))
    token, end = _field_at("%" + key, 1, lookup)
    if end != len(key) + 1:
        raise OutputFormatError(f"invalid extra field {key!r}: not a field name")
    return ExtraField(key, token=token)


def _tokenize(text: str, lookup: Lookup) -> list[str | FieldToken]:
    parts: list[str | FieldToken] = []
    literal: list[str] = []
    i = 0
    while i < len(text):
        if text[i] != "%":
            literal.append(text[i])
            i += 1
            continue
        if i + 1 >= len(text):
            raise OutputFormatError("invalid formatting syntax: formatting cannot end with a %")
        token, i = _field_at(text, i + 1, lookup)
        if literal:
            parts.append("".join(literal))
            literal = []
        parts.append(token)
    if literal:
        parts.append("".join(literal))
    return parts


def _field_at(text: str, start: int, lookup: Lookup) -> tuple[FieldToken, int]:
    """Resolve the field starting at ``start`` (just after ``%``) by greedy back-off; return it and the end."""
    width_match = re.match(r"[0-9]+", text[start:])
    width = int(width_match.group(0)) if width_match else 0
    pos = start + (width_match.end() if width_match else 0)
    match = _NAME.match(text, pos)
    candidate = match.group(0) if match else ""
    for end in range(len(candidate), 0, -1):
        name = candidate[:end]
        if not name[-1].isalnum() and name[-1] != "_":
            continue
        arg_match = _ARG.match(text, pos + end) if end == len(candidate) else None
        arg = arg_match.group(1) if arg_match else None
        fdef = _try_lookup(lookup, name, arg)
        if fdef is None and arg is not None:
            continue
        if fdef is not None:
            stop = arg_match.end() if arg_match else pos + end
            key = f"{name}[{arg}]" if arg is not None else name
            return FieldToken(key, fdef.extract, fdef.format, fdef.json_value, width), stop
    raise OutputFormatError(f"invalid formatting token {candidate or text[pos:pos + 20]}"
                            f"{_suggest(candidate, lookup)}")


def _suggest(candidate: str, lookup: Lookup) -> str:
    """Closest field names, for the registry's own lookup (a custom lookup knows its names itself)."""
    if not candidate or lookup is not _default_lookup:
        return ""
    from syswarden.rules.fields import registry

    return did_you_mean(candidate, registry.REGISTRY)


def _try_lookup(lookup: Lookup, name: str, arg: str | None) -> Any:
    try:
        return lookup(name, arg)
    except (SyswardenError, KeyError, ValueError, LookupError):
        return None
