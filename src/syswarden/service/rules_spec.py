"""A selected ruleset as what it was built from, so another process can build the very same one.

Compiled rules are Python code objects and closures: they cannot be pickled. A ``monitor --workers N`` worker
(``service/shard_worker.py``) gets a ``RulesSpec`` instead: the rules texts the parent read and checked, the
``append_output`` entries and the selection (``-p/-D/-T/-t``). ``build`` runs the same loader on the same texts,
so every worker judges with the rules the parent validated, even if the files change on disk meanwhile.

``load_selected`` is how ``monitor`` loads its rules (at start and on SIGHUP); ``SpecOf`` remembers which spec
made which ruleset, for the sharded engine's reload.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from syswarden.rules.loader import LoadResult, load_rules, load_texts
from syswarden.rules.output_format import AppendOutput
from syswarden.rules.ruleset import Ruleset, Selection
from syswarden.service.pipeline import apply_append_output
from syswarden.spans import SourceText


@dataclass(frozen=True, slots=True)
class RulesSpec:
    """Picklable: the texts (in load order), ``append_output`` entries and selection of a ruleset."""

    texts: tuple[SourceText, ...]
    append_output: tuple[AppendOutput, ...]
    selection: Selection

    def build(self) -> Ruleset:
        """The selected ruleset these texts give (``RuleLoadError`` if they do not load)."""
        ruleset = load_texts(self.texts).raise_for_errors()
        return apply_append_output(ruleset, self.append_output).select(self.selection)


def load_selected(paths: Iterable[str | Path], append_output: Sequence[AppendOutput], selection: Selection
                  ) -> tuple[Ruleset, LoadResult, RulesSpec]:
    """Load the rules files, apply ``append_output`` and the selection; the spec rebuilds the same ruleset."""
    result = load_rules(paths)
    ruleset = result.raise_for_errors()
    spec = RulesSpec(tuple(result.sources[name] for name in result.names), tuple(append_output), selection)
    return apply_append_output(ruleset, spec.append_output).select(selection), result, spec


class SpecOf:
    """Which spec built which ruleset (the latest few, kept alive with their rulesets)."""

    KEEP = 4

    def __init__(self) -> None:
        self._entries: list[tuple[Ruleset, RulesSpec]] = []

    def remember(self, ruleset: Ruleset, spec: RulesSpec) -> None:
        self._entries = [*self._entries[-(self.KEEP - 1):], (ruleset, spec)]

    def __call__(self, ruleset: Ruleset) -> RulesSpec:
        for known, spec in reversed(self._entries):
            if known is ruleset:
                return spec
        raise LookupError("no rules spec for this ruleset (it was not loaded by load_selected)")


__all__ = ["RulesSpec", "SpecOf", "load_selected"]
