"""The public API of the ``syswarden`` package is pinned: every exported name resolves and nothing drifts."""
from __future__ import annotations

import subprocess
import sys

import syswarden

PINNED = {
    "__version__", "Event", "ThreadInfo", "FdInfo", "Policy", "SyswardenError",
    "load_policy", "dump_policy", "compile_policy", "run_filter",
    "load_rules", "Engine", "State",
}


def test_all_is_pinned() -> None:
    """``__all__`` lists exactly the pinned names."""
    assert set(syswarden.__all__) == PINNED


def test_every_export_resolves() -> None:
    """Every name in ``__all__`` imports to a real object."""
    for name in syswarden.__all__:
        assert getattr(syswarden, name) is not None, name


def test_unknown_attribute_raises() -> None:
    try:
        syswarden.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_import_is_lazy() -> None:
    """``import syswarden`` does not load the rules engine or the compiler (keeps CLI start-up cheap)."""
    code = "import sys, syswarden; print(sorted(m for m in sys.modules if m.startswith('syswarden.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "syswarden.rules" not in out and "syswarden.seccomp" not in out
