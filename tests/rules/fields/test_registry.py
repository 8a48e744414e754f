"""The field registry: lookups, suggestions, arguments, coverage of the stock rules, and the generated docs."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from syswarden.errors import RuleLoadError
from syswarden.rules.fields import registry
from syswarden.rules.fields.docs import render_markdown
from syswarden.rules.filter import ast
from syswarden.rules.filter.parser import parse

ROOT = Path(__file__).resolve().parents[3]
STOCK = ROOT / ".." / "shared" / "anchors" / "falco"


def test_lookup_plain_and_argument_forms() -> None:
    """`evt.arg.flags` and `evt.arg[flags]` are the same field; indexes bind."""
    assert registry.lookup("evt.arg.flags").arg == "flags"
    assert registry.lookup("evt.arg", "flags").display_name == "evt.arg.flags"
    assert registry.lookup("proc.aname", "2").display_name == "proc.aname[2]"
    assert registry.lookup("proc.aname").is_multi


def test_unknown_field_message() -> None:
    """Unknown names say Falco's words and suggest the closest field."""
    with pytest.raises(registry.UnknownFieldError) as info:
        registry.lookup("proc.nmae")
    assert info.value.message.startswith("unknown field 'proc.nmae' (filter_check called with nonexistent field")
    assert "did you mean 'proc.name'" in info.value.message
    assert isinstance(info.value, RuleLoadError)


def test_argument_errors() -> None:
    """A field that needs an argument rejects none, and vice versa."""
    with pytest.raises(registry.FieldArgumentError, match="requires an argument"):
        registry.lookup("container.mount.dest")
    with pytest.raises(registry.FieldArgumentError, match="does not take an argument"):
        registry.lookup("proc.name", "1")


def test_all_fields_are_unique_and_described() -> None:
    """Every field has a unique name, a class prefix and a description."""
    fields = registry.all_fields()
    names = [f.name for f in fields]
    assert len(names) == len(set(names)) > 100
    assert all(f.description and "." in f.name for f in fields)


def _stock_fields() -> set[tuple[str, str | None]]:
    found: set[tuple[str, str | None]] = set()
    for name in ("falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"):
        for item in yaml.safe_load((STOCK / name).read_text()):
            if "condition" in item:
                found.update((r.name, r.arg) for r in ast.field_refs(parse(item["condition"])))
            for m in re.finditer(r"%([a-z0-9_]+(?:\.[a-z0-9_]+)+)(?:\[([^\]]+)\])?", item.get("output", "") or ""):
                found.add((m.group(1), m.group(2)))
    return found


@pytest.mark.skipif(not STOCK.is_dir(), reason="shared Falco anchors not present")
def test_every_stock_field_exists() -> None:
    """Every field the three stock rules files use, in conditions or outputs, is in the registry."""
    fields = _stock_fields()
    missing = []
    for name, arg in sorted(fields, key=str):
        try:
            registry.lookup(name, arg)
        except RuleLoadError as exc:
            missing.append(f"{name}[{arg}]: {exc}")
    assert len(fields) >= 85
    assert missing == []


def test_docs_match_registry() -> None:
    """docs/fields.md is exactly what the registry renders (regenerate with python -m ...fields.docs)."""
    assert (ROOT / "docs" / "fields.md").read_text() == render_markdown()
