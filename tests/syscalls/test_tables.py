"""The generated syscall tables agree with libseccomp, the peer they were generated from."""
from __future__ import annotations

import pytest

from syswarden.kernel import libseccomp
from syswarden.syscalls import tables
from syswarden.syscalls.arch import X32_SYSCALL_BIT, Arch

pytestmark = pytest.mark.skipif(not libseccomp.available(), reason="libseccomp.so.2 not installed")

# libseccomp resolves these names to negative pseudo numbers on arches where it treats them as multiplexed
# through socketcall(2)/ipc(2); the tables keep the kernel's direct numbers instead.
MULTIPLEXED_ARCHES = {Arch.I386, Arch.S390X, Arch.PPC64LE}


@pytest.mark.parametrize("arch", list(Arch), ids=lambda a: a.value)
def test_every_number_resolves_back_to_its_name(arch: Arch) -> None:
    """For every row, libseccomp names the number exactly as the table does."""
    rows = tables.table(arch)
    assert len(rows) > 250
    newer = tables.newer_than_libseccomp(arch)
    for name, nr in rows.items():
        if name not in newer:
            assert libseccomp.resolve_num(arch, nr) == name, (arch, name, nr)
        assert tables.name(arch, nr) == name


@pytest.mark.parametrize("arch", list(Arch), ids=lambda a: a.value)
def test_every_name_resolves_to_its_number(arch: Arch) -> None:
    """For every name any arch knows, the number equals libseccomp's (or libseccomp's pseudo number marks it)."""
    for name in sorted(tables.all_names()):
        ours = tables.number(arch, name)
        raw = libseccomp._lib().seccomp_syscall_resolve_name_arch(libseccomp.ARCH_TOKEN[arch], name.encode())
        if name in tables.newer_than_libseccomp(arch):
            assert raw == libseccomp.NR_SCMP_ERROR and ours is not None
        elif raw >= 0:
            assert ours == raw, (arch, name)
        elif ours is not None:
            assert arch in MULTIPLEXED_ARCHES and libseccomp.resolve_num(arch, ours) == name, (arch, name)


def test_x32_numbers_carry_the_x32_bit() -> None:
    """x32 numbers are presented with X32_SYSCALL_BIT set, as the kernel hands them to seccomp."""
    assert all(nr & X32_SYSCALL_BIT for nr in tables.table(Arch.X32).values())
    assert tables.number(Arch.X32, "read") == X32_SYSCALL_BIT


def test_well_known_numbers() -> None:
    """A few numbers every Linux developer knows, independent of libseccomp."""
    assert tables.number(Arch.X86_64, "openat") == 257
    assert tables.number(Arch.I386, "socket") == 359
    assert tables.number(Arch.AARCH64, "openat") == 56
    assert tables.number(Arch.AARCH64, "open") is None
    assert tables.name(Arch.X86_64, 59) == "execve"
    assert tables.name(Arch.X86_64, 100000) is None


def test_arches_knowing_and_all_names() -> None:
    """``open`` exists on the legacy ABIs but not on the generic-syscall arches."""
    knowing = tables.arches_knowing("open")
    assert Arch.X86_64 in knowing and Arch.AARCH64 not in knowing and Arch.RISCV64 not in knowing
    assert tables.arches_knowing("no_such_call") == ()
    assert {"open", "openat", "socketcall"} <= tables.all_names()
    assert tables.table(Arch.X86_64) is tables.table(Arch.X86_64)


@pytest.mark.parametrize("arch", list(Arch), ids=lambda a: a.value)
def test_newer_syscalls_fill_only_free_numbers(arch: Arch) -> None:
    """Kernel-table rows take numbers libseccomp leaves unassigned, one number per name."""
    newer = tables.newer_than_libseccomp(arch)
    assert "mseal" in newer
    for name in newer:
        assert libseccomp.resolve_num(arch, tables.table(arch)[name]) is None, (arch, name)
    assert len(set(tables.table(arch).values())) == len(tables.table(arch))


def _enosys_in_child(numbers: list[int]) -> list[int]:
    """Call each number with null arguments in a child; return those the kernel answers with ENOSYS."""
    import ctypes
    import errno
    import os
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.syscall.restype = ctypes.c_long
            bad = []
            for nr in numbers:
                rc = libc.syscall(ctypes.c_long(nr), *([ctypes.c_long(0)] * 6))
                if rc == -1 and ctypes.get_errno() == errno.ENOSYS:
                    bad.append(nr)
            os.write(write_fd, ",".join(map(str, bad)).encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    out = os.read(read_fd, 4096).decode()
    os.close(read_fd)
    os.waitpid(pid, 0)
    return [int(n) for n in out.split(",") if n]


@pytest.mark.kernel
def test_running_kernel_has_the_newer_numbers() -> None:
    """The running kernel implements the kernel-table numbers (not ENOSYS), up to its version."""
    import platform
    if Arch.native() is not Arch.X86_64:
        pytest.skip("checks x86_64 numbers")
    release = tuple(int(p) for p in platform.release().split(".")[:2])
    if release < (6, 17):
        pytest.skip("kernel older than the newest table entries")
    # uretprobe outside a uretprobe trampoline raises SIGILL; listns (470) is newer than 6.18.
    names = sorted(tables.newer_than_libseccomp(Arch.X86_64) - {"uretprobe", "listns"})
    numbers = [tables.table(Arch.X86_64)[n] for n in names]
    assert _enosys_in_child(numbers) == []
