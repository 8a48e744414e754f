"""Syscall name <-> number, per architecture, read from the generated tables in ``syscalls/data/*.tsv``.

The tables are data generated from libseccomp by ``tools/gen_syscall_tables.py``; they are loaded lazily,
once per arch. x32 numbers include ``X32_SYSCALL_BIT`` (0x40000000), as the kernel presents them to seccomp.
"""
from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib import resources
from types import MappingProxyType

from syswarden.syscalls.arch import Arch


@cache
def table(arch: Arch) -> Mapping[str, int]:
    """Every syscall ``arch`` has, name -> number (read-only, cached)."""
    text = resources.files("syswarden.syscalls").joinpath("data", f"{arch.value}.tsv").read_text()
    rows: dict[str, int] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, nr = line.split("\t")
        rows[name] = int(nr)
    return MappingProxyType(rows)


@cache
def _by_number(arch: Arch) -> Mapping[int, str]:
    return MappingProxyType({nr: name for name, nr in table(arch).items()})


def number(arch: Arch, name: str) -> int | None:
    """The number of syscall ``name`` on ``arch``, or None if ``arch`` has no such syscall."""
    return table(arch).get(name)


def name(arch: Arch, nr: int) -> str | None:
    """The name of syscall number ``nr`` on ``arch``, or None if unassigned."""
    return _by_number(arch).get(nr)


def arches_knowing(syscall: str) -> tuple[Arch, ...]:
    """The supported arches that have ``syscall``, in ``Arch`` order."""
    return tuple(a for a in Arch if syscall in table(a))


@cache
def all_names() -> frozenset[str]:
    """Every syscall name some supported arch knows."""
    return frozenset(n for a in Arch for n in table(a))


def is_known(syscall: str) -> bool:
    """Whether any supported arch has ``syscall``."""
    return syscall in all_names()
