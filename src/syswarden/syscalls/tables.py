"""Syscall name <-> number, per architecture, read from the generated tables in ``syscalls/data/*.tsv``.

The tables are data generated from libseccomp by ``tools/gen_syscall_tables.py``, plus the syscalls newer
than libseccomp 2.5.4 (rows marked ``kernel``, numbers from the kernel's syscall tables); they are loaded
lazily, once per arch. x32 numbers include ``X32_SYSCALL_BIT`` (0x40000000), as the kernel presents them to seccomp.
"""
from __future__ import annotations

from collections.abc import Mapping
import os
from functools import cache
from types import MappingProxyType

from syswarden.syscalls.arch import Arch


def _data_text(name: str) -> str:
    """A data file of this package; read from the directory when it is one (importlib.resources costs ~10 ms
    of imports at start-up), through importlib.resources otherwise (a zipped install)."""
    path = os.path.join(os.path.dirname(__file__), "data", name)
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    from importlib import resources
    return resources.files("syswarden.syscalls").joinpath("data", name).read_text()


@cache
def _rows(arch: Arch) -> tuple[tuple[str, int, str], ...]:
    text = _data_text(f"{arch.value}.tsv")
    rows = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, nr, *origin = line.split("\t")
        rows.append((name, int(nr), origin[0] if origin else "libseccomp"))
    return tuple(rows)


@cache
def table(arch: Arch) -> Mapping[str, int]:
    """Every syscall ``arch`` has, name -> number (read-only, cached)."""
    return MappingProxyType({name: nr for name, nr, _ in _rows(arch)})


@cache
def newer_than_libseccomp(arch: Arch) -> frozenset[str]:
    """The names on ``arch`` taken from the kernel's tables because libseccomp 2.5.4 lacks them."""
    return frozenset(name for name, _, origin in _rows(arch) if origin == "kernel")


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
