"""Fixtures for the policy tests: where the shared reference profiles live."""
from __future__ import annotations

from pathlib import Path

import pytest

ANCHORS = Path(__file__).resolve().parents[2] / ".." / "shared" / "anchors" / "seccomp"


@pytest.fixture(scope="session")
def anchors() -> Path:
    """The directory of reference seccomp profiles (Docker, Podman, go-seccomp-bpf)."""
    if not ANCHORS.is_dir():
        pytest.skip("shared/anchors/seccomp not present next to the repo")
    return ANCHORS
