"""Syscall names as the audit tools spell them, over syswarden's tables (``syscalls/``).

libaudit names a few syscalls differently from the kernel and libseccomp (x86_64 ``pread``/``pwrite`` for
``pread64``/``pwrite64``, i386 ``sys_kexec_load``); auditctl accepts and lists its own spelling, so we accept
both and list libaudit's. Syscalls newer than libaudit's table are named from ours (auditctl would print their
numbers).
"""
from __future__ import annotations

from syswarden.syscalls import tables
from syswarden.syscalls.arch import AUDIT_ARCH, X32_SYSCALL_BIT, Arch

# libaudit spelling -> syswarden (libseccomp/kernel) spelling, per ABI.
AUDIT_SPELLING: dict[Arch, dict[str, str]] = {
    Arch.X86_64: {"pread": "pread64", "pwrite": "pwrite64"},
    Arch.I386: {"sys_kexec_load": "kexec_load", "sched_rr_get_interval64": "sched_rr_get_interval_time64"},
}
_LISTED: dict[Arch, dict[str, str]] = {arch: {v: k for k, v in names.items()} for arch, names in AUDIT_SPELLING.items()}


def number(arch: Arch, name: str) -> int | None:
    """The number of ``name`` (either spelling) on ``arch``, or None."""
    return tables.number(arch, AUDIT_SPELLING.get(arch, {}).get(name, name))


def audit_name(arch: Arch, nr: int) -> str | None:
    """The name auditctl and ausearch print for ``nr`` on ``arch`` (None when unassigned)."""
    name = tables.name(arch, nr)
    if name is None:
        return None
    return _LISTED.get(arch, {}).get(name, name)


def arch_of(audit_arch: int, nr: int = 0) -> Arch | None:
    """The ABI of an ``AUDIT_ARCH_*`` value (x32 when x86_64 and the syscall number has the x32 bit)."""
    if audit_arch == AUDIT_ARCH[Arch.X86_64] and nr & X32_SYSCALL_BIT:
        return Arch.X32
    return next((a for a, v in AUDIT_ARCH.items() if v == audit_arch and a is not Arch.X32), None)


def record_syscall_name(audit_arch: int, nr: int) -> str | None:
    """The name of the syscall a record's ``arch=`` and ``syscall=`` fields denote."""
    arch = arch_of(audit_arch, nr)
    return audit_name(arch, nr) if arch is not None else None
