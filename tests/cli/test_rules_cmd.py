"""syswarden rules validate / list / fields, run as a user runs them (a subprocess)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
STOCK = ROOT / "src" / "syswarden" / "rules" / "data" / "falco_rules.yaml"
BAD = ROOT / "tests" / "data" / "bad" / "rules"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "syswarden", *args], capture_output=True, text=True, timeout=120)


def count_items(path: Path) -> dict[str, int]:
    """Distinct rule/macro/list names, counted straight from the YAML (not through syswarden's loader)."""
    items = [it for doc in yaml.safe_load_all(path.read_text()) if isinstance(doc, list) for it in doc]
    return {kind: len({it[kind] for it in items if isinstance(it, dict) and kind in it})
            for kind in ("rule", "macro", "list")}


def test_validate_stock_rules_counts_match_the_file() -> None:
    """The stock file loads with no error, exit 0, and the printed counts equal the file's own."""
    res = run("rules", "validate", str(STOCK))
    assert res.returncode == 0, res.stdout + res.stderr
    header, row = res.stdout.splitlines()[:2]
    assert header.split() == ["FILE", "STATUS", "RULES", "MACROS", "LISTS", "ERRORS", "WARNINGS"]
    counts = count_items(STOCK)
    assert counts == {"rule": 25, "macro": 87, "list": 49}
    assert row.split()[1:] == ["Ok", str(counts["rule"]), str(counts["macro"]), str(counts["list"]), "0", "0"]
    assert "Loaded 25 rules (25 enabled), 87 macros, 49 lists; 0 rules skipped." in res.stdout


def test_validate_rejects_bad_file_with_location() -> None:
    """A malformed file exits 2 and prints the error with file:line:col and the rule name."""
    bad = BAD / "rule_invalid_priority.yaml"
    res = run("rules", "validate", str(STOCK), str(bad))
    assert res.returncode == 2
    assert "Invalid" in res.stdout
    row = next(line for line in res.stdout.splitlines() if "LOAD_ERR_YAML_VALIDATE" in line)
    assert row.split() == ["LOAD_ERR_YAML_VALIDATE", f"{bad}:6:13", "rule", "'bad", "prio'", "Invalid", "priority"]


def test_validate_reports_warnings_and_skipped_rules(tmp_path: Path) -> None:
    """Warnings (unused list, deprecated append, unknown source) are printed and loading still succeeds."""
    f = tmp_path / "local.yaml"
    f.write_text(
        "- list: unused_things\n  items: [a]\n"
        "- rule: Read sensitive file untrusted\n  condition: and proc.name != cat\n  append: true\n"
        "- rule: K8s thing\n  desc: d\n  condition: ka.verb = get\n  output: o\n  priority: INFO\n"
        "  source: k8s_audit\n")
    res = run("rules", "validate", str(STOCK), str(f))
    assert res.returncode == 0, res.stdout
    lines = res.stdout.splitlines()
    header = next(line for line in lines if line.strip().startswith("CODE"))
    row = next(line for line in lines if "LOAD_UNUSED_LIST" in line)
    assert row.split()[:4] == ["LOAD_UNUSED_LIST", f"{f}:1:3", "list", "'unused_things'"]
    assert row.index(f"{f}:1:3") == header.index("LOCATION")
    assert row.endswith("List not referred to by any other rule/macro")
    assert "LOAD_DEPRECATED_ITEM" in res.stdout and "LOAD_UNKNOWN_SOURCE" in res.stdout
    assert "skipped: K8s thing: unknown source k8s_audit" in res.stdout


def test_validate_json_is_falco_layout() -> None:
    """--json prints Falco's per-file result objects."""
    res = run("rules", "validate", "--json", str(BAD / "macro_loop.yaml"))
    assert res.returncode == 2
    doc = json.loads(res.stdout)["falco_load_results"][0]
    assert doc["successful"] is False
    err = doc["errors"][0]
    assert err["code"] == "LOAD_ERR_VALIDATE" and err["message"] == "reference loop in macro 'macro_a'"
    assert err["context"]["locations"][-1]["item_type"] == "macro"


def test_list_json_in_file_order() -> None:
    """rules list --json gives every rule in definition order, with event types."""
    res = run("rules", "list", "-r", str(STOCK), "--json")
    assert res.returncode == 0
    rules = json.loads(res.stdout)["rules"]
    names = [it["rule"] for it in yaml.safe_load(STOCK.read_text()) if "rule" in it]
    assert [r["name"] for r in rules] == names
    shadow = next(r for r in rules if r["name"] == "Read sensitive file untrusted")
    assert shadow["evttypes"] == ["open", "openat", "openat2"] and shadow["priority"] == "Warning"


def test_list_table_defaults_to_stock_rules() -> None:
    """Without -r the shipped stock rules are listed as an aligned table."""
    res = run("rules", "list")
    lines = res.stdout.splitlines()
    assert res.returncode == 0 and len(lines) == 26
    col = lines[0].index("PRIORITY")
    assert all(line[col - 2:col] == "  " for line in lines)


def test_fields_json() -> None:
    """rules fields --json lists the fields with types and descriptions."""
    res = run("rules", "fields", "--json")
    fields = {f["name"]: f for f in json.loads(res.stdout)}
    assert "proc.name" in fields and fields["proc.name"]["desc"]


def test_validate_a_directory(tmp_path: Path) -> None:
    """A directory stands for its YAML files in name order, as Falco's -r DIR."""
    (tmp_path / "a.yaml").write_text("- macro: m\n  condition: evt.type = open\n")
    (tmp_path / "b.yaml").write_text("- rule: R\n  desc: d\n  condition: m\n  output: o\n  priority: INFO\n")
    res = run("rules", "validate", str(tmp_path))
    assert res.returncode == 0, res.stdout
    assert [line.split()[0] for line in res.stdout.splitlines()[1:3]] == [str(tmp_path / "a.yaml"),
                                                                          str(tmp_path / "b.yaml")]
