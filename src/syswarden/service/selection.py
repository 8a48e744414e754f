"""What a run asks its source to deliver, decided in one place.

A run judges events with something compiled from conditions: the selected rules (``monitor``) or a filter
expression (``capture``). Those say which event types they can match; the state engine needs its own types
whatever they say (process lifecycle, fd changes, a recording's accounts), or process and fd fields go wrong.
``select_events`` puts the union in ``SourceConfig.event_types``, and every source delivers exactly that set:
sources add nothing of their own. The kernel prefilter (issue 14) is decided here too, from the same inputs:
``SourceConfig.prefilter`` for a live run that judges rules (``service/prefilter.py``; docs/prefilter.md).

Errs on the loose side: a condition whose event types cannot be inferred (``evttypes`` None) asks for
every type.
"""
from __future__ import annotations

from dataclasses import replace

from syswarden.rules.compiler import CompiledFilter
from syswarden.rules.ruleset import Ruleset
from syswarden.sources.base import SourceConfig
from syswarden.state import REQUIRED_EVENT_TYPES

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


def select_events(config: SourceConfig, judged: Judged, *, kernel_filter: bool = True) -> SourceConfig:
    """``config`` (a copy) with what its source must deliver for a run that evaluates ``judged``.

    The one place the source's selection is computed: ``open_pipeline`` and the capture pipelines call it, so
    a new selection reaches every source alike. A live run (no ``config.path``) judging rules also gets the
    kernel prefilter, unless ``kernel_filter`` is off (``monitor --no-kernel-filter``).
    """
    types = needed_event_types(judged)
    prefilter = None
    if kernel_filter and isinstance(judged, Ruleset) and config.path is None:
        from syswarden.service.prefilter import kernel_prefilter

        prefilter = kernel_prefilter(judged, types)
    return replace(config, event_types=types, prefilter=prefilter)


__all__ = ["Judged", "state_event_types", "matchable_event_types", "needed_event_types", "select_events"]
