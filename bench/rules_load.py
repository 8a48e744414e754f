"""Bench: loading rules files, linear in their size, against a bare YAML parse measured in the same run.

For 2,000 / 4,000 / 8,000 / 10,000 generated trivial rules, prints the CPU time of ``load_rules`` (read, check,
compile), its cost per rule (constant when loading is linear) and its ratio to PyYAML's C ``yaml.load`` of the
same text (a parse with no positions and no checks). Then ``syswarden rules validate`` of the three stock files
(the shipped falco_rules.yaml and the incubating and sandbox files of shared/anchors) as a whole command: CPU
time of the child process, interpreter start and imports included.

CPU time (``time.process_time``, the child's rusage) is reported rather than wall time: these machines are
shared, and the wall clock measures the neighbours. Usage: .venv/bin/python bench/rules_load.py [SIZES...]
"""
from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from syswarden.rules.loader import load_rules

ROOT = Path(__file__).resolve().parents[1]
ANCHORS = ROOT.parent / "shared" / "anchors" / "falco"
if not ANCHORS.is_dir():
    ANCHORS = Path("/work/shared/anchors/falco")
STOCK = [ROOT / "src" / "syswarden" / "rules" / "data" / "falco_rules.yaml",
         ANCHORS / "falco-incubating_rules.yaml", ANCHORS / "falco-sandbox_rules.yaml"]
RULE = "- rule: r{i}\n  desc: d\n  condition: evt.type = open and proc.name = p{i}\n  output: o %proc.name\n" \
       "  priority: WARNING\n"


def cpu(fn: Callable[[], object], rounds: int = 3) -> float:
    """Best CPU seconds of ``rounds`` calls."""
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def child_cpu(args: list[str], rounds: int = 5) -> float:
    """Best CPU seconds (user + system) of a child process running ``args``."""
    best = float("inf")
    for _ in range(rounds):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(args, capture_output=True, check=False)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        best = min(best, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return best


def main(argv: list[str]) -> int:
    sizes = [int(a) for a in argv[1:]] or [2000, 4000, 8000, 10000]
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    print(f"{'rules':>7}  {'load_rules':>10}  {'per rule':>9}  {'yaml.load':>9}  {'ratio':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = Path(tmp) / f"r{n}.yaml"
            path.write_text("".join(RULE.format(i=i) for i in range(n)))
            text = path.read_text()
            ours = cpu(lambda path=path: load_rules([path]), rounds=2)
            peer = cpu(lambda text=text: yaml.load(text, Loader=loader))
            print(f"{n:>7}  {ours:>9.2f}s  {ours / n * 1e3:>7.3f}ms  {peer:>8.3f}s  {ours / peer:>5.1f}x")
    if all(p.is_file() for p in STOCK):
        command = [sys.executable, "-m", "syswarden", "rules", "validate", *map(str, STOCK)]
        bare = child_cpu([sys.executable, "-c", "pass"])
        whole = child_cpu(command)
        print(f"\nrules validate (3 stock files): {whole:.2f} s CPU, bare interpreter {bare:.2f} s "
              f"(ratio {whole / bare:.0f}x)")
        print(f"load_rules of the 3 stock files in process: {cpu(lambda: load_rules(STOCK)):.2f} s CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
