"""What a field is: its name, Falco type, argument rules and how it reads a value from an event.

A ``FieldSpec`` describes a field class member (``proc.aname``); ``FieldSpec.bind(arg)`` gives a ``FieldDef``
with the argument resolved once (``proc.aname[2]``), whose ``extract`` is a plain closure over the event. A
value of ``None`` is Falco's ``<NA>``: the field does not apply to this event. Multi-valued fields
(``proc.aname`` without an index) extract a tuple; a check on them is true when any value passes.
"""
from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from syswarden.events.event import Event, ThreadInfo
from syswarden.rules.fields import formatting

Extractor = Callable[[Event], Any]
#: Builds the extractor for one argument (None when the field is used without one).
Maker = Callable[[str | None], Extractor]


def thread_field(fn: Callable[[ThreadInfo], Any]) -> Maker:
    """A field read from the calling thread (``<NA>`` when state attached none); the argument is ignored."""
    def make(_arg: str | None) -> Extractor:
        def extract(event: Event) -> Any:
            thread = event.thread
            return fn(thread) if thread is not None else None
        return extract
    return make


class FieldType(enum.Enum):
    """Falco's ``PT_*`` value types, as far as comparisons and formatting need them."""

    CHARBUF = "string"
    FSPATH = "fspath"
    BYTEBUF = "bytebuf"
    INT64 = "int64"
    INT32 = "int32"
    INT16 = "int16"
    UINT64 = "uint64"
    UINT32 = "uint32"
    PORT = "port"
    BOOL = "bool"
    IPADDR = "ipaddr"
    IPNET = "ipnet"
    RELTIME = "reltime"
    ABSTIME = "abstime"
    DYN = "dynamic"           # evt.rawarg: a number or a string depending on the parameter

    @property
    def is_numeric(self) -> bool:
        return self in _NUMERIC

    @property
    def is_string(self) -> bool:
        return self in (FieldType.CHARBUF, FieldType.FSPATH)


_NUMERIC = frozenset({
    FieldType.INT64, FieldType.INT32, FieldType.INT16, FieldType.UINT64, FieldType.UINT32, FieldType.PORT,
    FieldType.RELTIME, FieldType.ABSTIME,
})


class ArgKind(enum.Enum):
    """Whether a field takes an argument, and of which kind."""

    NONE = "none"
    INDEX_OPTIONAL = "optional index"      # proc.aname, proc.aname[2]
    INDEX_REQUIRED = "index"
    KEY_REQUIRED = "key"                   # evt.arg[N] / evt.arg.NAME, container.mount.dest[/path]
    KEY_OPTIONAL = "optional key"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of a field class, unbound."""

    name: str
    type: FieldType
    description: str
    make: Maker = field(repr=False, compare=False)
    arg: ArgKind = ArgKind.NONE
    filter_only: bool = False
    multi_without_arg: bool = False       # extracts a tuple when used without an argument
    #: The same value as a Python expression over the event ``e`` (no argument), for generated code; must
    #: equal ``make(None)(e)`` on every event (a test checks it). ``@X`` calls the extractor itself, so a
    #: template can inline the common case and fall back for the rest.
    inline: str | None = field(default=None, compare=False)

    def bind(self, arg: str | None) -> FieldDef:
        """The field with ``arg`` applied. Raises ValueError when the argument does not fit."""
        _check_arg(self, arg)
        return FieldDef(self, arg, self.make(arg))


def _check_arg(spec: FieldSpec, arg: str | None) -> None:
    kind = spec.arg
    if arg is None and kind in (ArgKind.INDEX_REQUIRED, ArgKind.KEY_REQUIRED):
        raise ValueError(f"field '{spec.name}' requires an argument")
    if arg is not None and kind is ArgKind.NONE:
        raise ValueError(f"field '{spec.name}' does not take an argument")
    if arg is not None and kind in (ArgKind.INDEX_OPTIONAL, ArgKind.INDEX_REQUIRED) and not arg.isdigit():
        raise ValueError(f"field '{spec.name}' expects a numeric index argument, got '{arg}'")


@dataclass(frozen=True, slots=True)
class FieldDef:
    """A field ready to use: ``extract(event)`` -> value or None, ``format(value)``, ``json_value(value)``."""

    spec: FieldSpec
    arg: str | None
    extract: Extractor = field(repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def type(self) -> FieldType:
        return self.spec.type

    @property
    def description(self) -> str:
        return self.spec.description

    @property
    def takes_arg(self) -> bool:
        return self.spec.arg is not ArgKind.NONE

    @property
    def filter_only(self) -> bool:
        return self.spec.filter_only

    @property
    def is_multi(self) -> bool:
        return self.spec.multi_without_arg and self.arg is None

    @property
    def display_name(self) -> str:
        """``proc.aname[2]`` / ``evt.arg.flags`` as written in outputs."""
        if self.arg is None:
            return self.name
        if self.name in ("evt.arg", "evt.rawarg") and not self.arg.isdigit():
            return f"{self.name}.{self.arg}"
        return f"{self.name}[{self.arg}]"

    def format(self, value: Any) -> str:
        """The text Falco prints for ``%field`` (``<NA>`` for None)."""
        return formatting.format_value(value)

    def json_value(self, value: Any) -> Any:
        """The typed value Falco puts in JSON ``output_fields`` (None becomes null)."""
        return formatting.json_value(value)
