"""Argument types from the kernel's prototypes (syscalls/data/args.tsv) and the widths derived from them."""
from __future__ import annotations

import pytest

from syswarden.syscalls import prototypes, tables
from syswarden.syscalls.arch import Arch


def test_every_row_names_a_known_syscall_with_at_most_six_arguments() -> None:
    rows = prototypes._prototypes()
    assert len(rows) > 1500
    for (arch, name), (entry, types) in rows.items():
        assert tables.number(arch, name) is not None, (arch, name)
        assert len(types) <= 6 and entry.startswith(("sys_", "compat_sys_")), (arch, name, entry)


@pytest.mark.parametrize("arch,name,index,width", [
    (Arch.X86_64, "socket", 0, 32), (Arch.X86_64, "ioctl", 1, 32), (Arch.X86_64, "ioctl", 2, 64),
    (Arch.X86_64, "openat", 3, 16), (Arch.X86_64, "read", 2, 64), (Arch.X86_64, "kill", 0, 32),
    (Arch.X86_64, "prctl", 0, 32), (Arch.X86_64, "prctl", 1, 64), (Arch.X86_64, "unshare", 0, 64),
    (Arch.X32, "ioctl", 2, 32),          # x32 ioctl enters compat_sys_ioctl: compat_ulong_t
    (Arch.X32, "read", 2, 64),           # ... but read is the native sys_read: size_t is 64 bits
    (Arch.I386, "chown", 1, 16),         # sys_chown16: old_uid_t
    (Arch.I386, "chown32", 1, 32), (Arch.I386, "mmap2", 0, 32),
    (Arch.AARCH64, "socket", 0, 32), (Arch.AARCH64, "fstat", 0, 32),
    (Arch.S390X, "socket", 0, 64),       # no entry table read for s390x: compared whole
    (Arch.X86_64, "mmap", 4, 64),        # arch-specific entry without a generic prototype
    (Arch.X86_64, "socket", 5, 64),      # past the prototype's arguments: the kernel reads nothing there
])
def test_widths(arch: Arch, name: str, index: int, width: int) -> None:
    assert prototypes.arg_width(arch, name, index) == width


def test_unknown_types_are_full_width() -> None:
    assert prototypes.type_width("struct foo", Arch.X86_64) == 64
    assert prototypes.type_width("char *", Arch.I386) == 32 and prototypes.type_width("char *", Arch.X86_64) == 64
