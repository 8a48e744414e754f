"""pyproject.toml's mypy configuration says what it means (`make test` runs mypy with it; see README).

The strict packages are listed in one ``[[tool.mypy.overrides]]`` entry whose flags are mypy's ``--strict`` spelled
out, because ``strict = true`` in an override switches strict mode on for every module (python/mypy#11401). These
tests keep that spelling equal to what the pinned mypy's ``--strict`` turns on, and every package of the tree either
listed there or named below with the reason it is not strict yet.
"""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from mypy.main import process_options
from mypy.options import PER_MODULE_OPTIONS

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "syswarden"
# A package that cannot pass strict mode yet: its module pattern -> why (and it leaves the strict list).
NOT_YET_STRICT: dict[str, str] = {}


def _mypy_config() -> dict[str, Any]:
    config: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    return config


def _strict_override() -> dict[str, Any]:
    entries = [o for o in _mypy_config()["overrides"] if o.get("disallow_untyped_defs")]
    assert len(entries) == 1, "one override lists the strict packages"
    return entries[0]


def _strict_flags() -> dict[str, object]:
    """What the installed (pinned) mypy's ``--strict`` changes, read from mypy's own option parser."""
    _, plain = process_options(["--config-file", "", "x.py"])
    _, strict = process_options(["--config-file", "", "--strict", "x.py"])
    names = [n for n in dir(strict) if not n.startswith("_") and not callable(getattr(strict, n))]
    return {n: getattr(strict, n) for n in names if getattr(strict, n) != getattr(plain, n)}


def test_the_strict_override_spells_out_strict_mode() -> None:
    flags = _strict_flags()
    assert "disallow_untyped_defs" in flags and "strict" not in _strict_override()
    per_module = {name: value for name, value in flags.items() if name in PER_MODULE_OPTIONS}
    given = {name: value for name, value in _strict_override().items() if name != "module"}
    assert given == per_module
    global_only = {name: value for name, value in flags.items() if name not in PER_MODULE_OPTIONS}
    assert {name: _mypy_config().get(name) for name in global_only} == global_only


def _packages() -> set[str]:
    """Module patterns covering the tree: ``syswarden.<package>.*`` per package, each top-level module by name."""
    out = {"syswarden"}
    for path in SRC.iterdir():
        if path.is_dir() and (path / "__init__.py").is_file():
            out.add(f"syswarden.{path.name}.*")
        elif path.suffix == ".py" and path.name != "__init__.py":
            out.add(f"syswarden.{path.stem}")
    return out


def test_every_package_is_strict_or_says_why_not() -> None:
    packages = _packages()
    assert "syswarden.rules.*" in packages and "syswarden.errors" in packages
    listed = set(_strict_override()["module"])
    assert listed | set(NOT_YET_STRICT) == packages
    assert not listed & set(NOT_YET_STRICT)
