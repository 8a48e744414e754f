"""Fixtures for the event-model tests: the shared Falco captures and sysdig as the oracle."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CAPTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "anchors" / "falco" / "captures"


@pytest.fixture(scope="session")
def sysdig_captures() -> list[Path]:
    """The shared .scap captures, skipping when sysdig or the captures are missing."""
    if shutil.which("sysdig") is None:
        pytest.skip("sysdig is not installed")
    files = sorted(p for p in CAPTURES.glob("*.scap") if "comments" not in p.name)
    if not files:
        pytest.skip(f"no captures in {CAPTURES}")
    return files
