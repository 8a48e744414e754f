"""Bench: hostile documents through the CLI, each in a child process with a 3 GiB address-space limit and a
60 s timeout; prints the outcome (exit code or signal), the child's CPU time and peak memory, beside a bare
interpreter measured in the same run. Before doctree (issue 13), 100,000 ``[`` crashed with SIGSEGV, the
billion laughs and ``/dev/zero`` ran out of memory or time and a FIFO hung.

Usage: .venv/bin/python bench/input_bombs.py
"""
from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

LIMIT = 3 << 30


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))


def measure(args: list[str], timeout: float = 60) -> tuple[str, float, int]:
    """(outcome, CPU seconds, peak RSS in MB) of one child running ``args`` (its own rusage, from wait4)."""
    child = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_limit)
    timer = threading.Timer(timeout, child.kill)
    timer.start()
    _, status, usage = os.wait4(child.pid, 0)
    expired = not timer.is_alive()
    timer.cancel()
    child.returncode = os.waitstatus_to_exitcode(status)
    if expired:
        outcome = f"timeout {timeout:.0f}s"
    else:
        outcome = f"exit {child.returncode}" if child.returncode >= 0 else f"signal {-child.returncode}"
    return outcome, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024


def bombs(tmp: Path) -> list[tuple[str, list[str]]]:
    def write(name: str, text: str) -> str:
        (tmp / name).write_text(text)
        return str(tmp / name)
    laughs = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'] + [
        f"{c}: &{c} [" + ",".join([f"*{p}"] * 9) + "]" for p, c in zip("abcdefgh", "bcdefghi")]
    rule = "- rule: r\n  desc: d\n  condition: evt.type=open and {}\n  output: o\n  priority: INFO\n"
    fifo = tmp / "fifo.yaml"
    os.mkfifo(fifo)
    return [
        ("rules: 100,000 [", ["rules", "validate", write("deep.yaml", "- list: x\n  items: " + "[" * 100_000)]),
        ("policy: 100,000 [", ["compile", write("deep-p.yaml", "default: allow\nrules: " + "[" * 100_000)]),
        ("policy: billion laughs", ["compile", write("laughs.yaml", "\n".join(laughs) + "\ndefault: allow\n")]),
        ("rules: /dev/zero", ["rules", "validate", "/dev/zero"]),
        ("rules: FIFO", ["rules", "validate", str(fifo)]),
        ("rules: 2**60 lists", ["rules", "validate", write("lists.yaml", "- list: l0\n  items: [a, b]\n" + "".join(
            f"- list: l{j}\n  items: [l{j - 1}, l{j - 1}]\n" for j in range(1, 60))
            + rule.format("proc.name in (l59)"))]),
        ("rules: 5,000 macros", ["rules", "validate", write("macros.yaml", "- macro: m0\n  condition: proc.name=a\n" +
            "".join(f"- macro: m{j}\n  condition: m{j - 1}\n" for j in range(1, 5000)) + rule.format("m4999"))]),
        ("rules: 1e999999", ["rules", "validate", write("float.yaml", rule.format("fd.num=1e999999"))]),
    ]


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        outcome, cpu, peak = measure([sys.executable, "-c", "pass"])
        print(f"{'input':24}  {'outcome':12}  {'CPU':>7}  {'peak':>7}")
        print(f"{'(bare interpreter)':24}  {outcome:12}  {cpu:6.2f}s  {peak:5d}MB")
        for name, args in bombs(Path(tmp)):
            outcome, cpu, peak = measure([sys.executable, "-m", "syswarden", *args])
            print(f"{name:24}  {outcome:12}  {cpu:6.2f}s  {peak:5d}MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
