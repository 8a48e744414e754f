"""Launch overhead: wall time of `syswarden run --profile docker-default -- /bin/true` against bare /bin/true,
bubblewrap and firejail doing the same, all measured in this run; printed as medians and ratios.

Usage: .venv/bin/python bench/launch.py [--runs N]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SYSWARDEN = str(ROOT / ".venv" / "bin" / "syswarden")


def commands() -> dict[str, list[str]]:
    cmds = {
        "bare /bin/true": ["/bin/true"],
        "python3 -c pass (interpreter floor)": [sys.executable, "-c", "pass"],
        "syswarden run --profile docker-default": [SYSWARDEN, "run", "-q", "--profile", "docker-default", "--",
                                                   "/bin/true"],
        "syswarden run --exec --profile docker-default": [SYSWARDEN, "run", "-q", "--exec", "--profile",
                                                          "docker-default", "--", "/bin/true"],
    }
    if shutil.which("bwrap"):
        cmds["bwrap --bind / / (no seccomp)"] = ["bwrap", "--bind", "/", "/", "/bin/true"]
    if shutil.which("firejail"):
        cmds["firejail --noprofile --seccomp"] = ["firejail", "--quiet", "--noprofile", "--seccomp", "/bin/true"]
    return cmds


# As an installed package runs: with bytecode cached (this environment may set PYTHONDONTWRITEBYTECODE).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def measure(argv: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, env=ENV)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    results: dict[str, float] = {}
    for name, argv in commands().items():
        check = subprocess.run(argv, capture_output=True, text=True, env=ENV)
        if check.returncode != 0:
            print(f"skip {name}: exit {check.returncode} {check.stderr.strip()[:120]}", file=sys.stderr)
            continue
        measure(argv, 2)  # warm caches
        results[name] = statistics.median(measure(argv, args.runs))
        print(f"measured {name}", file=sys.stderr)
    bare = results["bare /bin/true"]
    ours = results.get("syswarden run --profile docker-default")
    width = max(len(n) for n in results)
    print(f"{'command'.ljust(width)}  {'median ms':>9}  {'x bare':>8}  {'x syswarden':>11}")
    for name, value in results.items():
        rel = f"{value / ours:11.2f}" if ours else "          -"
        print(f"{name.ljust(width)}  {value * 1000:9.2f}  {value / bare:8.1f}  {rel}")
    print(f"({args.runs} runs each, kernel {os.uname().release})")


if __name__ == "__main__":
    main()
