"""Benchmark: syswarden's seccomp filters against libseccomp's for the same real profiles.

For Docker's default profile, Podman's, firejail's default drop list, a systemd ``@system-service`` allow list
and Elastic Beats' allow list, print per filter: total instructions, mean and max instructions executed per
syscall over the x86_64 syscall table (emulated, arguments 0), and ns per ``getppid`` in a tight loop under
the filter (a small C program compiled here installs the filter and times the loop), plus ns per call of
syscall number 1000 (outside every table: the kernel's constant-action cache never covers it, so the filter
runs in full every time), all measured in this run, with ratios syswarden/libseccomp and filter/no-filter.

    .venv/bin/python bench/seccomp_filters.py [--calls N] [--repeat R]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from syswarden.kernel import libseccomp
from syswarden.policy import profiles
from syswarden.policy.model import ALLOW, Action, ActionKind, Policy, SyscallRule
from syswarden.seccomp.compiler import compile_policy
from syswarden.seccomp.emulator import Emulator, SeccompData
from syswarden.seccomp.insn import Program
from syswarden.syscalls import groups, tables
from syswarden.syscalls.arch import Arch

LOOP_C = r"""
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    long n = atol(argv[1]), nr = atol(argv[2]);
    if (argc > 3) {
        static struct sock_filter insns[4096];
        FILE *f = fopen(argv[3], "rb");
        size_t count = fread(insns, sizeof insns[0], 4096, f);
        fclose(f);
        struct sock_fprog prog = { .len = (unsigned short)count, .filter = insns };
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog)) {
            perror("seccomp");
            return 1;
        }
    }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++)
        syscall(nr);
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%.2f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n);
    return 0;
}
"""

ARCH = Arch.X86_64


@dataclass
class Row:
    profile: str
    compiler: str
    insns: int
    mean: float
    max: int
    ns: float
    ns_eval: float


def systemd_service() -> Policy:
    names = tuple(n for n in groups.expand("@system-service") if tables.number(ARCH, n) is not None)
    return Policy(Action(ActionKind.ERRNO, 1), (SyscallRule(names, ALLOW, comment="@system-service"),),
                  name="systemd @system-service")


def load_profiles() -> dict[str, Policy]:
    return {"docker-default": profiles.load("docker-default"), "podman-default": profiles.load("podman-default"),
            "firejail-default": profiles.load("firejail-default"), "systemd @system-service": systemd_service(),
            "beats": profiles.load("beats")}


def executed(program: Program) -> tuple[float, int]:
    emu = Emulator(program)
    counts = [emu.run(SeccompData(ARCH.audit_arch, nr)).executed for nr in tables.table(ARCH).values()]
    return statistics.fmean(counts), max(counts)


GETPPID = tables.number(ARCH, "getppid") or 110
UNCACHED = 1000


def time_loops(exe: Path, configs: list[tuple[Path | None, int]], calls: int, repeat: int) -> list[float]:
    """Best ns/call of each (filter image or None, syscall nr); rounds interleave configs so drift in machine
    load hits all of them alike."""
    best = [float("inf")] * len(configs)
    for _ in range(repeat):
        for i, (image, nr) in enumerate(configs):
            argv = [str(exe), str(calls), str(nr)] + ([str(image)] if image else [])
            out = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=True).stdout
            best[i] = min(best[i], float(out))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    opts = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="swbench-"))
    exe = work / "getppid_loop"
    (work / "loop.c").write_text(LOOP_C)
    subprocess.run(["gcc", "-O2", "-o", str(exe), str(work / "loop.c")], check=True)
    jit = Path("/proc/sys/net/core/bpf_jit_enable").read_text().strip()
    print(f"kernel {Path('/proc/sys/kernel/osrelease').read_text().strip()}, bpf_jit_enable={jit}, "
          f"libseccomp {'.'.join(map(str, libseccomp.version()))}, {opts.calls} getppid calls, best of "
          f"{opts.repeat}", file=sys.stderr)
    measured: list[tuple[str, str, Program, Path]] = []
    for name, policy in load_profiles().items():
        print(f"compiling {name} ...", file=sys.stderr)
        programs = {"syswarden": compile_policy(policy).program,
                    "libseccomp": Program.from_bytes(libseccomp.from_policy(policy).export_bpf())}
        for compiler, program in programs.items():
            image = work / f"{name.replace(' ', '_')}-{compiler}.bpf"
            image.write_bytes(program.to_bytes())
            measured.append((name, compiler, program, image))
    configs: list[tuple[Path | None, int]] = [(None, GETPPID), (None, UNCACHED)]
    for *_, image in measured:
        configs += [(image, GETPPID), (image, UNCACHED)]
    print("timing ...", file=sys.stderr)
    times = time_loops(exe, configs, opts.calls, opts.repeat)
    bare, bare_eval = times[0], times[1]
    rows = []
    for i, (name, compiler, program, _) in enumerate(measured):
        mean, worst = executed(program)
        rows.append(Row(name, compiler, len(program), mean, worst, times[2 + 2 * i], times[3 + 2 * i]))
    print_table(rows, bare, bare_eval)


def print_table(rows: list[Row], bare: float, bare_eval: float) -> None:
    head = ("profile", "compiler", "insns", "mean exec", "max exec", "ns/getppid", "vs none", "ns/nr1000",
            "vs none", "insns ratio", "mean ratio", "getppid ratio", "nr1000 ratio")
    lines = [head]
    by_key = {(r.profile, r.compiler): r for r in rows}
    for r in rows:
        ref = by_key[(r.profile, "libseccomp")]
        lines.append((r.profile, r.compiler, str(r.insns), f"{r.mean:.1f}", str(r.max), f"{r.ns:.1f}",
                      f"{r.ns / bare:.2f}x", f"{r.ns_eval:.1f}", f"{r.ns_eval / bare_eval:.2f}x",
                      f"{r.insns / ref.insns:.2f}", f"{r.mean / ref.mean:.2f}", f"{r.ns / ref.ns:.2f}",
                      f"{r.ns_eval / ref.ns_eval:.2f}"))
    lines.append(("(no filter)", "-", "-", "-", "-", f"{bare:.1f}", "1.00x", f"{bare_eval:.1f}", "1.00x", "-", "-",
                  "-", "-"))
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    for line in lines:
        print("  ".join(cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths))))
    print("ratios: syswarden/libseccomp for the same profile (libseccomp rows are 1.00); x86_64 table, args 0")


if __name__ == "__main__":
    main()
