"""A cached `syswarden run` (issue 13 §7) loads none of the modules whose import cost more than the rest of the
launch: signal's enums (enum, functools), socket (selectors, array), the ctypes package."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

PY = sys.executable
SLOW = {"enum", "functools", "signal", "socket", "selectors", "array", "ctypes", "typing", "re", "dataclasses"}


def test_cached_launch_loads_no_slow_module(tmp_path: Path) -> None:
    code = textwrap.dedent("""
        import atexit, sys
        atexit.register(lambda: print("MODULES", " ".join(sys.modules), file=sys.stderr))
        sys.argv = ["syswarden", *sys.argv[1:]]
        from syswarden.cli.entry import main
        main()
    """)
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    args = ["run", "-q", "--profile", "docker-default", "--", "true"]
    first = subprocess.run([PY, "-c", code, *args], capture_output=True, text=True, timeout=120, env=env)
    cached = subprocess.run([PY, "-c", code, *args], capture_output=True, text=True, timeout=60, env=env)
    assert first.returncode == cached.returncode == 0, (first.stderr, cached.stderr)
    assert "MODULES" in cached.stderr, "the atexit handlers of a cached launch run (as on a normal exit)"
    loaded = set(cached.stderr.split("MODULES", 1)[1].split())
    assert "syswarden.sandbox.supervisor" in loaded and "syswarden.seccomp.compiler" not in loaded
    assert not loaded & SLOW, sorted(loaded & SLOW)
