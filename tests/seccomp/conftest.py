"""Fixtures for the seccomp tests: real profiles from ../shared/anchors, gcc-built bypass programs."""
from __future__ import annotations

from pathlib import Path

import pytest

from syswarden.policy.model import Policy

from .helpers import ANCHORS, build_c


@pytest.fixture(scope="session")
def docker_policy() -> Policy:
    load = pytest.importorskip("syswarden.policy.load")
    path = ANCHORS / "docker-default.json"
    if not path.exists():
        pytest.skip(f"{path} is missing (CI clones the repo next to shared/)")
    return load.load_policy(path)


@pytest.fixture(scope="session")
def bypass_exe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        return build_c("rawsys.c", tmp_path_factory.mktemp("bypass"))
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
