"""``syswarden syscalls``: look up syscall numbers per arch, the syscall behind a number, or a group."""
from __future__ import annotations

from collections.abc import Sequence

import click

from syswarden.cli.convert_cmd import parse_arch, printable
from syswarden.cli.table import render_table
from syswarden.errors import UnknownSyscallError, did_you_mean
from syswarden.syscalls import groups, tables
from syswarden.syscalls.arch import X32_SYSCALL_BIT, Arch

OVERVIEW_ARCHES = (Arch.X86_64, Arch.I386, Arch.X32, Arch.AARCH64)


def _nr(arch: Arch, name: str) -> str:
    nr = tables.number(arch, name)
    return "-" if nr is None else str(nr)


def _by_name(names: Sequence[str], arches: Sequence[Arch]) -> str:
    rows = [[n, *(_nr(a, n) for a in arches)] for n in names]
    return render_table(["NAME", *(a.value for a in arches)], rows, frozenset(range(1, len(arches) + 1)))


def _by_number(nr: int, arches: Sequence[Arch]) -> str:
    # x32 numbers carry X32_SYSCALL_BIT; accept them with or without it.
    numbers = [nr | X32_SYSCALL_BIT if a is Arch.X32 else nr for a in arches]
    rows = [[a.value, str(n), tables.name(a, n) or "-"] for a, n in zip(arches, numbers)]
    return render_table(["ARCH", "NR", "NAME"], rows, frozenset({1}))


@click.command("syscalls")
@click.argument("query", required=False)
@click.option("--arch", help="Show only this arch (x86_64, i386, x32, aarch64, arm, riscv64, s390x, ppc64le).")
def syscalls(query: str | None, arch: str | None) -> None:
    """Look up QUERY: a syscall NAME, a NUMBER, or an @GROUP (all syscalls when omitted).

    \b
    Examples:
      syswarden syscalls openat
      syswarden syscalls 59 --arch x86_64
      syswarden syscalls @network-io --arch aarch64
    """
    chosen = parse_arch(arch)
    arches: tuple[Arch, ...] = (chosen,) if chosen else OVERVIEW_ARCHES
    if query is None:
        names = sorted({n for a in arches for n in tables.table(a)})
        click.echo(_by_name(names, arches))
    elif groups.is_group(query):
        group = groups.groups().get(query)
        members = [n for n in groups.expand(query) if tables.is_known(n)]
        click.echo(f"{query}: {group.description if group else ''} ({len(members)} syscalls)")
        click.echo(_by_name(members, arches))
    elif query.strip().lstrip("-").isdigit() or query.lower().startswith("0x"):
        click.echo(_by_number(int(query, 0), (chosen,) if chosen else tuple(Arch)))
    else:
        if not tables.is_known(query):
            hint = did_you_mean(printable(query), tables.all_names(), cutoff=0.75)
            raise UnknownSyscallError(f"unknown syscall {printable(query)!r}: no supported architecture has it{hint}")
        click.echo(_by_name([query], (chosen,) if chosen else tuple(Arch)))
