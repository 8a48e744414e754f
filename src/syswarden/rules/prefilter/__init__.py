"""The rules analysis behind the kernel prefilter (issue 14): each active rule's condition weakened, per event
type, to what the probe can test (``events/prefilter.py``), and what the rules ask of state.

``analyse(ruleset, types)`` is the entry point (``analysis.py``); ``atoms.py`` maps one check, ``dnf.py`` a
condition, ``boxes.py`` is the box algebra (meet, hull, fit into ``MAX_BOXES``). docs/prefilter.md.
"""
from __future__ import annotations

from syswarden.rules.prefilter.analysis import GATEABLE, RulesAnalysis, TypeAnalysis, analyse

__all__ = ["GATEABLE", "RulesAnalysis", "TypeAnalysis", "analyse"]
