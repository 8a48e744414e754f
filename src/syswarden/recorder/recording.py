"""What one or more runs of a program did, as the recorder keeps it: per ABI and syscall, how often it was
called and how often it failed; for the syscalls whose arguments decide safety (``safety.py``), the argument
values seen; for Landlock, the files touched and the TCP ports bound and connected.

Syscalls are named as the *filter* sees them (the syscall table of their ABI: i386 ``mmap2``, ``fcntl64``,
``socketcall`` sub-calls under their direct names ``socket``, ``bind``... which a policy rule governs through
the multiplexer). Backends fill a ``Recording`` through ``add_call``; ``merged`` unites runs.
"""
from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from syswarden.syscalls import tables
from syswarden.syscalls.arch import X32_SYSCALL_BIT, Arch
from syswarden.syscalls.multiplexers import IPC_CALLS, SOCKETCALL_CALLS

I386_NR_SOCKETCALL = 102
I386_NR_IPC = 117
_SOCKETCALL_NAMES = {nr: {"send": "sendto", "recv": "recvfrom"}.get(name, name)
                     for name, nr in SOCKETCALL_CALLS.items()}
_IPC_NAMES = {nr: name for name, nr in IPC_CALLS.items()}


class Access(enum.Flag):
    """What a run did to a file or directory (collapsed into Landlock rights by ``landlock.py``)."""

    READ = enum.auto()
    WRITE = enum.auto()
    EXECUTE = enum.auto()
    LIST = enum.auto()          # read a directory's entries
    CREATE = enum.auto()        # created or removed an entry (file, link, fifo) in this directory
    MAKE_DIR = enum.auto()      # created a directory in this directory
    REMOVE_DIR = enum.auto()    # removed a directory from this directory
    TRUNCATE = enum.auto()
    DEVICE = enum.auto()        # a character or block device opened (its ioctls need Landlock's ioctl_dev)


@dataclass(slots=True)
class CallCount:
    calls: int = 0
    errors: int = 0


@dataclass(slots=True)
class Recording:
    """Observations of runs. Keys are (arch, syscall name as the arch's table spells it)."""

    calls: dict[tuple[Arch, str], CallCount] = field(default_factory=dict)
    # (arch, name) -> distinct tuples of the safety-deciding argument values seen (``safety.SAFETY_ARGS``)
    arg_values: dict[tuple[Arch, str], set[tuple[int, ...]]] = field(default_factory=dict)
    unknown: dict[tuple[Arch, int], int] = field(default_factory=dict)   # numbers no table names
    files: dict[str, Access] = field(default_factory=dict)
    bind_ports: set[int] = field(default_factory=set)
    connect_ports: set[int] = field(default_factory=set)
    commands: list[tuple[str, ...]] = field(default_factory=list)

    def count(self, arch: Arch, name: str, calls: int = 1, errors: int = 0) -> None:
        entry = self.calls.get((arch, name))
        if entry is None:
            entry = self.calls[(arch, name)] = CallCount()
        entry.calls += calls
        entry.errors += errors

    def add_values(self, arch: Arch, name: str, values: tuple[int, ...]) -> None:
        self.arg_values.setdefault((arch, name), set()).add(values)

    def touch(self, path: str, access: Access) -> None:
        self.files[path] = self.files.get(path, Access(0)) | access

    def arches(self) -> list[Arch]:
        """The ABIs the run used, in ``Arch`` order."""
        seen = {arch for arch, _ in self.calls}
        return [a for a in Arch if a in seen]

    def names(self, arch: Arch) -> list[str]:
        return sorted(name for a, name in self.calls if a is arch)

    def total_calls(self) -> int:
        return sum(c.calls for c in self.calls.values())

    def merged(self, other: Recording) -> Recording:
        """A new recording holding both runs."""
        out = Recording()
        for rec in (self, other):
            for (arch, name), c in rec.calls.items():
                out.count(arch, name, c.calls, c.errors)
            for key, values in rec.arg_values.items():
                out.arg_values.setdefault(key, set()).update(values)
            for number, n in rec.unknown.items():
                out.unknown[number] = out.unknown.get(number, 0) + n
            for path, access in rec.files.items():
                out.touch(path, access)
            out.bind_ports |= rec.bind_ports
            out.connect_ports |= rec.connect_ports
            out.commands.extend(rec.commands)
        return out


@dataclass(frozen=True, slots=True)
class SyscallId:
    """A syscall as a filter names it: its arch and its name there."""

    arch: Arch
    name: str


def identify(arch: Arch, nr: int, arg0: int = 0) -> SyscallId | None:
    """Name number ``nr`` of ``arch`` (x32 numbers with or without X32_SYSCALL_BIT). An i386 ``socketcall`` or
    ``ipc`` is named by its sub-call (``arg0``), which is how a policy rule governs it; None if unassigned."""
    if arch is Arch.X32:
        nr |= X32_SYSCALL_BIT
    elif arch is Arch.I386:
        nr &= 0xFFFFFFFF
        if nr == I386_NR_SOCKETCALL and (arg0 & 0xFFFFFFFF) in _SOCKETCALL_NAMES:
            return _sub_call(_SOCKETCALL_NAMES[arg0 & 0xFFFFFFFF], "socketcall")
        if nr == I386_NR_IPC and (arg0 & 0xFFFF) in _IPC_NAMES:
            return _sub_call(_IPC_NAMES[arg0 & 0xFFFF], "ipc")
    name = tables.name(arch, nr)
    return None if name is None else SyscallId(arch, name)


def _sub_call(name: str, multiplexer: str) -> SyscallId:
    """A multiplexed operation as its direct i386 syscall; the multiplexer itself (its call number is then a
    safety argument, ``safety.py``) for the few without one (``accept``, ``semtimedop``)."""
    return SyscallId(Arch.I386, name if tables.number(Arch.I386, name) is not None else multiplexer)


def recording_from_counts(counts: Mapping[tuple[Arch, str], tuple[int, int]],
                          values: Iterable[tuple[Arch, str, tuple[int, ...]]] = ()) -> Recording:
    """A recording from aggregated counts ((arch, name) -> (calls, errors)) and argument values."""
    rec = Recording()
    for (arch, name), (calls, errors) in counts.items():
        rec.count(arch, name, calls, errors)
    for arch, name, vals in values:
        rec.add_values(arch, name, vals)
    return rec


def arch_from_audit(audit_arch: int, nr: int) -> Arch | None:
    """The ABI of a syscall from its ``AUDIT_ARCH_*`` value (ptrace's syscall info) and number: x32 shares
    x86_64's value and sets X32_SYSCALL_BIT in the number."""
    if audit_arch == Arch.X86_64.audit_arch:
        return Arch.X32 if nr & X32_SYSCALL_BIT else Arch.X86_64
    return next((a for a in Arch if a.audit_arch == audit_arch and a is not Arch.X32), None)
