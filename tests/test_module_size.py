"""No Python module of the package grows past 400 lines (issue 15): a module that long holds more than one concept
and is split along them (docs/architecture.md says which package owns what)."""
from __future__ import annotations

from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "syswarden"
MAX_LINES = 400


def _line_count(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def test_the_package_has_modules() -> None:
    """The walk below finds the package (a moved tree would make the size test pass on nothing)."""
    assert len(list(SRC.rglob("*.py"))) > 100


def test_no_module_is_over_400_lines() -> None:
    sizes = {str(p.relative_to(SRC)): _line_count(p) for p in SRC.rglob("*.py")}
    over = {name: n for name, n in sorted(sizes.items()) if n > MAX_LINES}
    assert not over, f"modules over {MAX_LINES} lines (split them by concept): {over}"
