"""docs/rule-coverage.md (issue 19): regenerated from the scenario tests' covers markers and
tools/rule_coverage_reasons.yaml, it must equal the committed file; every rule has exactly one live test or reason;
a marker naming no rule fails; the count of rules with a live test never drops below LIVE_FLOOR."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

TOOL = Path(__file__).resolve().parents[1] / "tools" / "gen_rule_coverage.py"
# Rules fired live (both sources, with a twin) when this floor was last raised. Raise it with every new live test;
# never lower it (13 before the table existed, main at 012639c).
LIVE_FLOOR = 85


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_rule_coverage", TOOL)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_rule_coverage"] = module
    spec.loader.exec_module(module)
    return module


gen = _load()
pytestmark = pytest.mark.skipif(not all(p.is_file() for _, p in gen.RULE_FILES),
                                reason=f"Falco's incubating and sandbox rules not found in {gen.ANCHORS}")


def test_committed_table_is_what_the_generator_writes(capsys: pytest.CaptureFixture[str]) -> None:
    """docs/rule-coverage.md is up to date (run tools/gen_rule_coverage.py after adding a covers marker)."""
    assert gen.OUT.read_text() == gen.render(gen.rows()), "run .venv/bin/python tools/gen_rule_coverage.py"
    assert gen.main(["--check"]) == 0
    assert gen.main(["--bogus"]) == 2 and "--check" in capsys.readouterr().err


def test_every_rule_has_one_row_and_the_live_count_only_goes_up() -> None:
    table = gen.rows()
    rules = gen.load_rules()
    assert [(r.file, r.name) for r in table] == [(f, n) for f, n, _ in rules]
    assert len({(f, n) for f, n, _ in rules}) == len(rules) > 90
    live = gen.live_count(table)
    assert live >= LIVE_FLOOR >= gen.BEFORE, f"live-tested rules fell to {live} (floor {LIVE_FLOOR})"
    assert all(r.what for r in table)


def _scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, test_source: str, reasons: str) -> None:
    """Point the generator at one scenario file and one reasons file of the test's own."""
    scen = tmp_path / "scenarios"
    scen.mkdir()
    (scen / "test_x.py").write_text(test_source)
    (tmp_path / "reasons.yaml").write_text(reasons)
    monkeypatch.setattr(gen, "SCENARIOS", scen)
    monkeypatch.setattr(gen, "REASONS", tmp_path / "reasons.yaml")


def _all_but(names: list[str], skip: set[str]) -> str:
    """A reasons file giving every rule but ``skip`` a reason (names quoted as YAML strings)."""
    return "cannot:\n" + "".join(f"  {gen.yaml.safe_dump(n).splitlines()[0]}: some reason\n"
                                 for n in names if n not in skip)


RULE = "Read sensitive file untrusted"
GOOD = f'''
import pytest
NAME = "{RULE}"
@pytest.mark.covers(NAME)
def test_it(source):
    assert fired(monitor(source, "cat /etc/shadow"), NAME)
'''


def test_a_marker_backed_by_its_test_makes_the_rule_live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    names = [n for _, n, _ in gen.load_rules()]
    _scenario(tmp_path, monkeypatch, GOOD, _all_but(names, {RULE}))
    row = next(r for r in gen.rows() if r.name == RULE)
    assert (row.status, row.what) == (gen.LIVE, "`tests/scenarios/test_x.py::test_it`")


@pytest.mark.parametrize(("source_text", "skip", "message"), [
    (GOOD, set(), f"{RULE!r} (falco_rules.yaml) has live and cannot"),
    (GOOD.replace("covers(NAME)", 'covers(NAME, "No such rule")'), {RULE}, "covers an unknown rule: 'No such rule'"),
    (GOOD, {RULE, "Run shell untrusted"}, "'Run shell untrusted' (falco_rules.yaml) has neither"),
    (GOOD.replace("def test_it(source)", "def test_it(tmp_path)"), {RULE}, "does not take the `source` fixture"),
    (GOOD.replace("), NAME)", '), "other")'), {RULE}, f"covers {RULE!r} but never names it in its body"),
    (GOOD.replace("covers(NAME)", "covers(UNBOUND)"), {RULE}, "is not a string or a module-level string constant"),
])
def test_inconsistencies_are_all_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source_text: str,
                                          skip: set[str], message: str) -> None:
    names = [n for _, n, _ in gen.load_rules()]
    _scenario(tmp_path, monkeypatch, source_text, _all_but(names, skip))
    with pytest.raises(gen.CoverageError) as info:
        gen.rows()
    assert message in str(info.value)


def test_bad_reasons_file_is_an_error_on_stderr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    _scenario(tmp_path, monkeypatch, GOOD, "cannot:\n  Some rule: '@undefined'\n")
    assert gen.main([]) == 2
    assert "refers to an undefined reason '@undefined'" in capsys.readouterr().err
    (tmp_path / "reasons.yaml").write_text("cannot: [unclosed\n")
    assert gen.main(["--check"]) == 2
    assert "gen_rule_coverage:" in capsys.readouterr().err
