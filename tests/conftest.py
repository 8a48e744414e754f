"""Suite-wide fixtures: keep what `syswarden run` writes (its filter cache) inside the test session's tmp dir."""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_filter_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """CLI children inherit XDG_CACHE_HOME: no test writes ~/.cache or /var/cache/syswarden."""
    saved = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
    yield
    if saved is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = saved
