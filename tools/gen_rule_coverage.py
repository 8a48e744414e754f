"""Generate docs/rule-coverage.md: for every rule of the shipped stock file and of the incubating and sandbox
files of shared/anchors/falco, the live scenario test that fires it (on both live sources, eBPF and ptrace, with a
harmless twin that does not), or why it has none.

The tests say what they cover: a scenario test (``tests/scenarios/test_*.py``) marked
``@pytest.mark.covers("Rule name", ...)`` (string literals, or names of module-level string constants) and taking
the ``source`` fixture (which runs it once per live source); each covered rule's name must appear in the test's
body (where it asserts the alert). Rules without one are in ``tools/rule_coverage_reasons.yaml``: under
``cannot`` with why this machine cannot exercise them, or under ``untested`` with how a scenario could (not yet
written). Every rule has exactly one of the three; ``tests/test_rule_coverage.py`` regenerates the table,
compares it with docs/rule-coverage.md and holds the live-tested count to a floor that only goes up.

Usage: .venv/bin/python tools/gen_rule_coverage.py [--check]
  (no option)  write docs/rule-coverage.md
  --check      exit 1 if docs/rule-coverage.md differs from what would be written
Inconsistent markers or reasons are listed on stderr with exit 2.
"""
from __future__ import annotations

import ast
import difflib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
ANCHORS = REPO / ".." / "shared" / "anchors" / "falco"
RULE_FILES = (("falco_rules.yaml", REPO / "src" / "syswarden" / "rules" / "data" / "falco_rules.yaml"),
              ("falco-incubating_rules.yaml", ANCHORS / "falco-incubating_rules.yaml"),
              ("falco-sandbox_rules.yaml", ANCHORS / "falco-sandbox_rules.yaml"))
SCENARIOS = REPO / "tests" / "scenarios"
REASONS = REPO / "tools" / "rule_coverage_reasons.yaml"
OUT = REPO / "docs" / "rule-coverage.md"
# The live-tested count on main before this table existed (commit 012639c: the 13 rules of
# tests/scenarios/test_live_rules.py); stated in the table's header.
BEFORE = 13

LIVE, CANNOT, UNTESTED = "live", "cannot", "untested"
STATUS_TEXT = {LIVE: "live", CANNOT: "not here", UNTESTED: "no test yet"}


class CoverageError(Exception):
    """Markers, reasons and rules disagree; the message lists every problem, one a line."""


@dataclass(frozen=True)
class RuleRow:
    file: str
    name: str
    enabled: bool
    status: str                     # LIVE, CANNOT or UNTESTED
    what: str                       # the covering tests, or the reason


def load_rules() -> list[tuple[str, str, bool]]:
    """(file label, rule name, enabled by default) of every rule, in file order."""
    out = []
    for label, path in RULE_FILES:
        for item in yaml.safe_load(path.read_text()) or []:
            if isinstance(item, dict) and "rule" in item and "condition" in item:
                out.append((label, str(item["rule"]), item.get("enabled", True) is not False))
    return out


def _constants(module: ast.Module) -> dict[str, str]:
    """Module-level ``NAME = "text"`` assignments (a covers marker may name its rule through one)."""
    out = {}
    for node in module.body:
        if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)):
            out.update({t.id: node.value.value for t in node.targets if isinstance(t, ast.Name)})
    return out


def _string(node: ast.expr, constants: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    return None


def _is_covers(decorator: ast.expr) -> bool:
    return (isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute)
            and decorator.func.attr == "covers")


def _test_covers(path: Path, node: ast.FunctionDef, constants: dict[str, str], problems: list[str]) -> list[str]:
    """The rules one test function's covers markers name; what is wrong with them goes to ``problems``."""
    where = f"tests/scenarios/{path.name}:{node.lineno}: {node.name}"
    names: list[str] = []
    for decorator in node.decorator_list:
        if not _is_covers(decorator):
            continue
        assert isinstance(decorator, ast.Call)
        for arg in [*decorator.args, *(k.value for k in decorator.keywords)]:
            name = _string(arg, constants) if not isinstance(arg, ast.Starred) else None
            if name is None:
                problems.append(f"{where}: a covers argument is not a string or a module-level string constant")
            else:
                names.append(name)
    if names and "source" not in {a.arg for a in node.args.args}:
        problems.append(f"{where}: covers rules but does not take the `source` fixture (both live sources)")
    body = {s for stmt in node.body for n in ast.walk(stmt) if isinstance(n, ast.expr)
            for s in [_string(n, constants)] if s}
    problems += [f"{where}: covers {n!r} but never names it in its body (where is the assertion?)"
                 for n in names if n not in body]
    return names


def scenario_tests(problems: list[str]) -> dict[str, list[str]]:
    """Rule name -> the scenario tests (``tests/scenarios/FILE.py::FUNCTION``) covering it."""
    covered: dict[str, list[str]] = {}
    for path in sorted(SCENARIOS.glob("test_*.py")):
        module = ast.parse(path.read_text(), filename=str(path))
        constants = _constants(module)
        for node in module.body:
            if isinstance(node, ast.FunctionDef):
                for name in _test_covers(path, node, constants, problems):
                    covered.setdefault(name, []).append(f"tests/scenarios/{path.name}::{node.name}")
    return covered


def load_reasons(path: Path | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """(cannot, untested): rule name -> reason text, with ``@key`` references to the shared ``reasons`` expanded."""
    path = path or REASONS
    doc: Any = yaml.safe_load(path.read_text()) or {}
    if not isinstance(doc, dict) or set(doc) - {"reasons", CANNOT, UNTESTED}:
        raise CoverageError(f"{path}: expected a mapping with keys reasons, {CANNOT}, {UNTESTED}")
    shared = doc.get("reasons") or {}
    out: list[dict[str, str]] = []
    for key in (CANNOT, UNTESTED):
        section = doc.get(key) or {}
        if not isinstance(section, dict):
            raise CoverageError(f"{path}: `{key}` must map rule names to reasons")
        texts = {}
        for rule, text in section.items():
            text = str(text).strip()
            if text.startswith("@"):
                if text[1:] not in shared:
                    raise CoverageError(f"{path}: {rule!r} refers to an undefined reason {text!r}")
                text = str(shared[text[1:]])
            texts[str(rule)] = " ".join(text.split())
        out.append(texts)
    return out[0], out[1]


def rows() -> list[RuleRow]:
    """One row per rule; raises CoverageError naming every inconsistency (none, two, or unknown entries)."""
    problems: list[str] = []
    rules = load_rules()
    tests = scenario_tests(problems)
    cannot, untested = load_reasons()
    names = {name for _, name, _ in rules}
    problems += [f"covers an unknown rule: {n!r} ({', '.join(tests[n])})" for n in sorted(set(tests) - names)]
    problems += [f"{REASONS.name}: a reason for an unknown rule: {n!r}"
                 for n in sorted((set(cannot) | set(untested)) - names)]
    out = []
    for label, name, enabled in rules:
        entries = [(LIVE, ", ".join(f"`{t}`" for t in tests[name])) if name in tests else None,
                   (CANNOT, cannot[name]) if name in cannot else None,
                   (UNTESTED, untested[name]) if name in untested else None]
        found = [e for e in entries if e is not None]
        if len(found) != 1:
            kinds = " and ".join(k for k, _ in found) or "neither a live test nor a reason"
            problems.append(f"{name!r} ({label}) has {kinds}"
                            + (f" (a rule with a live test leaves {REASONS.name})" if found else ""))
            continue
        out.append(RuleRow(label, name, enabled, *found[0]))
    if problems:
        raise CoverageError("\n".join(problems))
    return out


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|")


def _table(header: list[str], body: list[list[str]]) -> list[str]:
    """A Markdown table with every column padded to its widest cell."""
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"
    return [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *(line(r) for r in body)]


def counts(table: list[RuleRow], label: str | None = None) -> dict[str, int]:
    """Rules per status (of one file, or all)."""
    picked = [r for r in table if label is None or r.file == label]
    return {status: sum(1 for r in picked if r.status == status) for status in STATUS_TEXT}


def live_count(table: list[RuleRow]) -> int:
    return counts(table)[LIVE]


def render(table: list[RuleRow]) -> str:
    total = counts(table)
    lines = ["# Rule coverage: which Falco rules fire live here", "",
             "Generated by `tools/gen_rule_coverage.py` and checked by `tests/test_rule_coverage.py` (do not edit by",
             "hand). Every rule of the shipped stock file and of the incubating and sandbox files of",
             "`shared/anchors/falco` has exactly one of:", "",
             "- **live**: the scenario test that fires it on both live sources (eBPF and ptrace: the test runs once",
             "  per source), checked against a harmless twin that must not fire (`@pytest.mark.covers`). Rules",
             "  disabled by default are enabled by their scenario;",
             "- **not here**: why it cannot fire here (it reads what only a container runtime, Kubernetes or DNS",
             "  tracking would supply, or can never fire as shipped);",
             "- **no test yet**: it could be exercised here, and how; a scenario is still to be written.", "",
             f"Before this table (main at 012639c) {BEFORE} rules had a live test; now {total[LIVE]} do. The count of",
             "live-tested rules only goes up (a floor in `tests/test_rule_coverage.py`).", ""]
    summary = [[label, str(c[LIVE]), str(c[CANNOT]), str(c[UNTESTED]), str(sum(c.values()))]
               for label, _ in RULE_FILES for c in [counts(table, label)]]
    summary.append(["**total**", *(f"**{total[s]}**" for s in STATUS_TEXT), f"**{len(table)}**"])
    lines += _table(["rules file", "live", "not here", "no test yet", "rules"], summary)
    for label, _ in RULE_FILES:
        c = counts(table, label)
        lines += ["", f"## {label}", "",
                  f"{c[LIVE]} live, {c[CANNOT]} not exercisable here, {c[UNTESTED]} without a test yet.", ""]
        body = [[_cell(r.name), "on" if r.enabled else "off", STATUS_TEXT[r.status], _cell(r.what)]
                for r in table if r.file == label]
        lines += _table(["rule", "default", "status", "live scenario, or why not"], body)
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if set(argv) - {"--check"}:
        print(__doc__.split("Usage: ")[1].strip(), file=sys.stderr)
        return 2
    missing = [str(p) for _, p in RULE_FILES if not p.is_file()]
    if missing:
        print(f"gen_rule_coverage: rules file not found: {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        table = rows()
    except (CoverageError, yaml.YAMLError, SyntaxError) as exc:
        print(f"gen_rule_coverage: {exc}", file=sys.stderr)
        return 2
    text = render(table)
    if "--check" in argv:
        old = OUT.read_text() if OUT.is_file() else ""
        if old != text:
            sys.stderr.writelines(difflib.unified_diff(old.splitlines(True), text.splitlines(True),
                                                       str(OUT.relative_to(REPO)), "generated"))
            print(f"{OUT.relative_to(REPO)} is out of date: run tools/gen_rule_coverage.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    c = counts(table)
    print(f"wrote {OUT.relative_to(REPO)}: {c[LIVE]} live, {c[CANNOT]} not exercisable here, "
          f"{c[UNTESTED]} without a test yet ({len(table)} rules)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
