"""What a run asks its source to deliver, decided in one place.

A run judges events with something compiled from conditions: the selected rules (``monitor``) or a filter
expression (``capture``). Those say which event types they can match; the state engine needs its own types
whatever they say (process lifecycle, fd changes, a recording's accounts), or process and fd fields go wrong.
``select_events`` puts the union in ``SourceConfig.event_types``, and every source delivers exactly that set:
sources add nothing of their own. The kernel prefilter (issue 14) is decided here too, from the same inputs:
``SourceConfig.prefilter`` for a live run that judges rules (``service/prefilter.py``; docs/prefilter.md).

I/O buffers (issue 19) cost a copy per read or write, so a live source captures the ``data`` of a type only when
something judged reads it (``buffer_event_types``: ``evt.buffer``, ``evt.arg.data``, ``evt.rawarg.data``, the
data's ``evt.arg[N]``, or ``evt.args``/``evt.info`` which print it), up to ``SourceConfig.snaplen`` bytes
(``SourceConfig.buffer_types``; ``snaplen`` 0 captures none).

Errs on the loose side: a condition whose event types cannot be inferred (``evttypes`` None) asks for
every type (and every buffer); recording everything (nothing judged) keeps every buffer too.
"""
from __future__ import annotations

from dataclasses import replace

from functools import cache

from syswarden.events.types import event_spec
from syswarden.rules.compiler import CompiledFilter
from syswarden.rules.ruleset import Ruleset
from syswarden.sources.base import SourceConfig
from syswarden.sources.syscall_decode import MAX_SNAPLEN, SPECS, BufferKind
from syswarden.state import REQUIRED_EVENT_TYPES

#: The event types whose ``data`` parameter is an I/O buffer a live source can capture.
BUFFER_TYPES = frozenset(name for name, spec in SPECS.items() if spec.buffer is not BufferKind.NONE)
_SHOWS_DATA = frozenset({"evt.buffer", "evt.args", "evt.info", "evt.arg.data", "evt.rawarg.data", "evt.arg[data]",
                         "evt.rawarg[data]"})

Judged = Ruleset | CompiledFilter | None
"""What a run evaluates: the selected rules, a capture filter, or nothing (record every event)."""


def state_event_types() -> frozenset[str]:
    """Events the state engine needs whatever the rules say (clone, execve, close, ...)."""
    return REQUIRED_EVENT_TYPES


def matchable_event_types(judged: Judged) -> frozenset[str] | None:
    """The event types ``judged`` can match; None when it may match any (or when nothing is judged)."""
    if judged is None:
        return None
    if isinstance(judged, Ruleset):
        return judged.event_types()
    return judged.evttypes


def needed_event_types(judged: Judged) -> frozenset[str] | None:
    """The types a run needs from its source: those ``judged`` can match plus state's; None (= all) when it
    may match any type."""
    types = matchable_event_types(judged)
    return None if types is None else types | state_event_types()


@cache
def _buffer_keys(event_type: str) -> frozenset[str]:
    """The field keys that read the I/O buffer of ``event_type`` (its data parameter by position too)."""
    spec = event_spec(event_type, "<")
    index = spec.index("data") if spec is not None else -1
    by_index = {f"evt.arg[{index}]", f"evt.rawarg[{index}]"} if index >= 0 else set()
    return _SHOWS_DATA | by_index


def buffer_event_types(judged: Judged) -> frozenset[str]:
    """The types of ``BUFFER_TYPES`` whose I/O buffer ``judged`` reads: some active rule that may match the type
    reads it in its condition or output; a filter that reads it, on the types it may match; everything when
    nothing is judged (a recording keeps the buffers for what will judge it later)."""
    if judged is None:
        return BUFFER_TYPES
    if isinstance(judged, Ruleset):
        return frozenset(t for t in BUFFER_TYPES
                         if any(_buffer_keys(t) & set(rule.field_keys()) for rule in judged.rules_for(t)))
    types = BUFFER_TYPES if judged.evttypes is None else BUFFER_TYPES & judged.evttypes
    return frozenset(t for t in types if _buffer_keys(t) & judged.fields)


def select_events(config: SourceConfig, judged: Judged, *, kernel_filter: bool = True) -> SourceConfig:
    """``config`` (a copy) with what its source must deliver for a run that evaluates ``judged``.

    The one place the source's selection is computed: ``open_pipeline`` and the capture pipelines call it, so
    a new selection reaches every source alike. A live run (no ``config.path``) judging rules also gets the
    kernel prefilter, unless ``kernel_filter`` is off (``monitor --no-kernel-filter``).
    """
    types = needed_event_types(judged)
    if not 0 <= config.snaplen <= MAX_SNAPLEN:
        from syswarden.errors import InputError

        raise InputError(f"snaplen {config.snaplen} is out of range; expected 0..{MAX_SNAPLEN} bytes")
    buffers = buffer_event_types(judged) if config.snaplen and config.path is None else frozenset()
    prefilter = None
    if kernel_filter and isinstance(judged, Ruleset) and config.path is None:
        from syswarden.service.prefilter import kernel_prefilter

        prefilter = kernel_prefilter(judged, types)
    return replace(config, event_types=types, prefilter=prefilter, buffer_types=buffers)


__all__ = ["BUFFER_TYPES", "Judged", "state_event_types", "matchable_event_types", "needed_event_types",
           "buffer_event_types", "select_events"]
