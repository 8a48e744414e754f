"""Bench: loading Docker's default profile with syswarden, against peers measured in the same run.

Prints the time of ``load_policy`` (positioned JSON parse + moby/runc resolution + name checks) as a ratio to
the stdlib ``json.loads`` of the same text (a parse with no positions and no checks), and to libseccomp 2.5.4
building and exporting the filter for the loaded policy. Usage: .venv/bin/python bench/policy_load.py [PROFILE]
"""
from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from syswarden.kernel import libseccomp
from syswarden.policy.load import load_policy

DEFAULT = Path(__file__).resolve().parents[1] / ".." / "shared" / "anchors" / "seccomp" / "docker-default.json"


def best_of(fn: Callable[[], object], rounds: int = 7, inner: int = 10) -> float:
    """Best mean seconds per call over ``rounds`` batches of ``inner`` calls."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        best = min(best, (time.perf_counter() - start) / inner)
    return best


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else DEFAULT
    text = path.read_text()
    ours = best_of(lambda: load_policy(text, fmt="docker"))
    stdlib = best_of(lambda: json.loads(text))
    print(f"profile: {path.name} ({len(text)} bytes)")
    print(f"syswarden load_policy     {ours * 1e3:8.2f} ms")
    print(f"json.loads (parse only)   {stdlib * 1e3:8.2f} ms   ratio ours/json = {ours / stdlib:6.1f}x")
    if libseccomp.available():
        policy = load_policy(text, fmt="docker")
        peer = best_of(lambda: libseccomp.from_policy(policy).export_bpf())
        print(f"libseccomp build+export   {peer * 1e3:8.2f} ms   ratio ours/libseccomp = {ours / peer:6.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
