"""A cached `syswarden run` (issue 13 §7) loads none of the modules whose import cost more than the rest of the
launch: signal's enums (enum, functools), socket (selectors, array), the ctypes package."""
from __future__ import annotations

import os
from pathlib import Path

from tests.cli.launches import launch, loaded_modules

SLOW = {"enum", "functools", "signal", "socket", "selectors", "array", "ctypes", "typing", "re", "dataclasses"}


def test_cached_launch_loads_no_slow_module(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    args = ["run", "-q", "--profile", "docker-default", "--", "true"]
    first = launch(args, env, timeout=120)
    cached = launch(args, env)
    assert first.returncode == cached.returncode == 0, (first.stderr, cached.stderr)
    loaded = loaded_modules(cached)      # the atexit handlers of a cached launch run, as on a normal exit
    assert "syswarden.sandbox.supervisor" in loaded and "syswarden.seccomp.compiler" not in loaded
    assert not loaded & SLOW, sorted(loaded & SLOW)
