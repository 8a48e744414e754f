"""Fixtures for the scap tests: sysdig 0.29 as the oracle, its answers cached for the session."""
from __future__ import annotations

import shutil

import pytest
from .scap_oracle import Sysdig


@pytest.fixture(scope="session")
def sysdig(tmp_path_factory: pytest.TempPathFactory) -> Sysdig:
    if shutil.which("sysdig") is None:
        pytest.skip("sysdig is not installed (it is the oracle for scap files)")
    return Sysdig(tmp_path_factory.mktemp("sysdig-cache"))
