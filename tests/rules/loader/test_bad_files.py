"""Every malformed rules file in tests/data/bad/rules gives exactly the error its first line announces."""
from __future__ import annotations

from pathlib import Path

import pytest

from syswarden.rules.loader import load_texts
from syswarden.spans import SourceText

BAD = Path(__file__).resolve().parents[2] / "data" / "bad" / "rules"
CASES = sorted(BAD.glob("*.yaml"))


def test_enough_cases() -> None:
    """The acceptance asks for at least 30 malformed files."""
    assert len(CASES) >= 30


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_bad_file_error(path: Path) -> None:
    """The first error (code, file:line:col, item, message) is the expected one and nothing is published."""
    text = path.read_text()
    first = text.splitlines()[0]
    assert first.startswith("# expect: ")
    expected = first[len("# expect: "):]
    result = load_texts([SourceText(path.name, text)])
    assert result.ruleset is None
    assert result.errors, "expected an error"
    err = result.errors[0]
    assert f"{err.code.name}: {err.one_line()}" == expected
