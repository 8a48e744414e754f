"""`syswarden` started as its console entry point is, in a fresh interpreter that reports on exit which modules
the run loaded (the cached-launch tests: what a cache hit imports). A process killed by a signal runs no atexit
hook and reports nothing."""
from __future__ import annotations

import subprocess
import sys
import textwrap

PY = sys.executable
_REPORTING_ENTRY = textwrap.dedent("""
    import atexit, sys
    atexit.register(lambda: print("MODULES", " ".join(sys.modules), file=sys.stderr))
    sys.argv = ["syswarden", *sys.argv[1:]]
    from syswarden.cli.entry import main
    main()
""")


def launch(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """One ``syswarden ARGS`` run; its stderr ends with the ``MODULES`` line when it exits normally."""
    return subprocess.run([PY, "-c", _REPORTING_ENTRY, *args], capture_output=True, text=True, timeout=timeout,
                          env=env)


def loaded_modules(result: subprocess.CompletedProcess[str]) -> set[str]:
    """The modules a run reported; fails the test when it reported none (no normal exit)."""
    assert "MODULES" in result.stderr, "the run's atexit handlers did not run (as on a normal exit)"
    return set(result.stderr.split("MODULES", 1)[1].split())
