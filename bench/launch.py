"""Launch overhead: wall time of `syswarden run --profile docker-default -- /bin/true` against bare /bin/true,
the interpreter alone, bubblewrap and firejail doing the same, all measured in this run; printed as medians and
ratios (interleaved rounds, so load changes hit every command alike). syswarden runs with a private, warmed
filter cache (what every launch after the first one sees) and
with ``--no-cache`` (what the first launch, or a changed policy, costs).

Usage: .venv/bin/python bench/launch.py [--runs N]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SYSWARDEN = str(ROOT / ".venv" / "bin" / "syswarden")
FIREJAIL = "firejail --noprofile --seccomp"


def commands() -> dict[str, list[str]]:
    cmds = {
        "bare /bin/true": ["/bin/true"],
        "python3 -c pass (interpreter floor)": [sys.executable, "-c", "pass"],
        "python3 -c 'import click' (CLI floor)": [sys.executable, "-c", "import click"],
        "syswarden run --profile docker-default": [SYSWARDEN, "run", "-q", "--profile", "docker-default", "--",
                                                   "/bin/true"],
        "syswarden run --exec --profile docker-default": [SYSWARDEN, "run", "-q", "--exec", "--profile",
                                                          "docker-default", "--", "/bin/true"],
        "syswarden run --no-cache --profile docker-default": [SYSWARDEN, "run", "-q", "--no-cache", "--profile",
                                                              "docker-default", "--", "/bin/true"],
    }
    if shutil.which("bwrap"):
        cmds["bwrap --bind / / (no seccomp)"] = ["bwrap", "--bind", "/", "/", "/bin/true"]
    if shutil.which("firejail"):
        cmds[FIREJAIL] = ["firejail", "--quiet", "--noprofile", "--seccomp", "/bin/true"]
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
    with tempfile.TemporaryDirectory(prefix="syswarden-bench-") as cache:
        ENV["XDG_CACHE_HOME"] = cache  # the first (check) run of each command fills it
        results = measure_all(args.runs)
    report(results, args.runs)


def measure_all(runs: int) -> dict[str, float]:
    """Median wall time per command. Rounds are interleaved (every command once per round, in turn), so a
    change in the machine's load during the bench weighs on every command alike and the ratios stay fair."""
    argvs: dict[str, list[str]] = {}
    for name, argv in commands().items():
        check = subprocess.run(argv, capture_output=True, text=True, env=ENV)
        if check.returncode != 0:
            print(f"skip {name}: exit {check.returncode} {check.stderr.strip()[:120]}", file=sys.stderr)
            continue
        measure(argv, 2)  # warm caches
        argvs[name] = argv
    times: dict[str, list[float]] = {name: [] for name in argvs}
    for _ in range(runs):
        for name, argv in argvs.items():
            times[name] += measure(argv, 1)
    print(f"measured {len(argvs)} commands x {runs} interleaved rounds", file=sys.stderr)
    return {name: statistics.median(values) for name, values in times.items()}


def report(results: dict[str, float], runs: int) -> None:
    peers = {"x bare": "bare /bin/true", "x python": "python3 -c pass (interpreter floor)",
             "x firejail": FIREJAIL, "x syswarden": "syswarden run --profile docker-default"}
    width = max(len(n) for n in results)
    print(f"{'command'.ljust(width)}  {'median ms':>9}" + "".join(f"  {h:>11}" for h in peers))
    for name, value in results.items():
        cells = [f"{value / results[p]:11.2f}" if p in results else f"{'-':>11}" for p in peers.values()]
        print(f"{name.ljust(width)}  {value * 1000:9.2f}  " + "  ".join(cells))
    print(f"({runs} runs each, kernel {os.uname().release}, load average {os.getloadavg()[0]:.2f})")
    cached, firejail = results.get("syswarden run --profile docker-default"), results.get(FIREJAIL)
    if cached and firejail:
        print(f"cached launch / firejail: {cached / firejail:.2f} (issue 13 target: at most 1.20)")


if __name__ == "__main__":
    main()
