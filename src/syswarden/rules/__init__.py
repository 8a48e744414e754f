"""Falco-compatible rules engine: load rules files, compile them, evaluate events.

Public API::

    result = load_rules(["falco_rules.yaml"])      # LoadResult: errors, warnings, ruleset
    ruleset = result.raise_for_errors()            # or RuleLoadError listing every error with its position
    engine = Engine(ruleset, min_priority=Priority.WARNING, rule_matching="first")
    alerts = engine.process(event)                 # list[Alert]
"""
from __future__ import annotations

from syswarden.rules.alert import Alert, Priority
from syswarden.rules.engine import Engine
from syswarden.rules.loader import ENGINE_VERSION, LoadResult, load_rules, load_texts, stock_rules_path
from syswarden.rules.ruleset import Rule, Ruleset, Selection

__all__ = ["load_rules", "load_texts", "stock_rules_path", "LoadResult", "Engine", "Ruleset", "Rule", "Selection",
           "Alert", "Priority", "ENGINE_VERSION"]
