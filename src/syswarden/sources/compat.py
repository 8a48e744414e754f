"""Compat syscalls on x86_64: i386 calls (``int $0x80``, ``sysenter``, 32-bit code; the kernel's ``TS_COMPAT``)
and x32 numbers (``nr | X32_SYSCALL_BIT``) reported under the 64-bit event names, as Falco converts ia32
syscalls to their 64-bit events. Shared by the eBPF and ptrace sources so both name and shape them alike.

- Names: the i386 table's ``setuid32``, ``fcntl64`` ... are the events ``setuid``, ``fcntl`` ...
  (``COMPAT_EVENT_NAMES``); the old 16-bit id calls (i386 ``setuid`` = the kernel's ``setuid16``) keep their
  name, and their ids are widened as the kernel does (``low2highuid``: 0xffff becomes -1).
- ``socketcall(call, args*)`` is demultiplexed: the sub-call's words are read from user memory and the
  event is the sub-call's (``connect``, ``socket``...; ``send``/``recv`` are ``sendto``/``recvfrom`` without
  an address, as the kernel runs them).
- Arguments: the compat gate keeps the low 32 bits of each register; pointers are zero-extended, ints are
  sign-extended by the parameter recipes (``i`` in ``syscall_decode``). Structures in user memory use 32-bit
  pointers (argv arrays, ``msghdr``).
- Compat events carry the extra parameter ``abi`` (``"i386"`` or ``"x32"``); native events have none.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import cache

from syswarden.sources.syscall_decode import SPECS
from syswarden.syscalls import tables
from syswarden.syscalls.arch import X32_SYSCALL_BIT, Arch
from syswarden.syscalls.multiplexers import SOCKETCALL_CALLS


class Abi(enum.IntEnum):
    """The ABI a syscall arrived through (mirrors ABI_* of ``ebpf/probe.h``)."""

    X64 = 0
    I386 = 1
    X32 = 2
    SOCKETCALL = 3    # an i386 socketcall sub-call: the number is the SYS_* call, not a syscall number


ABI_LABELS: dict[Abi, str] = {Abi.I386: "i386", Abi.SOCKETCALL: "i386", Abi.X32: "x32"}
I386_NR_SOCKETCALL = 102
# how many 32-bit words each socketcall sub-call reads (the kernel's nargs[] in net/socket.c, in words)
SOCKETCALL_NARGS = (0, 3, 3, 3, 2, 3, 3, 3, 4, 4, 4, 6, 6, 2, 5, 5, 3, 3, 4, 5, 4)

# i386 names of calls whose event is named otherwise (the 32-bit-id and 64-bit-offset variants).
COMPAT_EVENT_NAMES: dict[str, str] = {
    "setuid32": "setuid", "setgid32": "setgid", "setreuid32": "setreuid", "setregid32": "setregid",
    "setresuid32": "setresuid", "setresgid32": "setresgid", "getuid32": "getuid", "getgid32": "getgid",
    "geteuid32": "geteuid", "getegid32": "getegid", "getresuid32": "getresuid", "getresgid32": "getresgid",
    "setfsuid32": "setfsuid", "setfsgid32": "setfsgid", "getgroups32": "getgroups", "setgroups32": "setgroups",
    "chown32": "chown", "lchown32": "lchown", "fchown32": "fchown", "fcntl64": "fcntl", "_llseek": "llseek",
    "_newselect": "select", "ugetrlimit": "getrlimit",
}
# i386 calls under their plain names whose id arguments are 16 bits wide (the kernel's *16 variants)
UID16_CALLS = frozenset({"setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid"})
# socketcall sub-calls without a syscall of their own
SOCKETCALL_EVENT_NAMES: dict[str, str] = {"send": "sendto", "recv": "recvfrom"}
# calls whose event is named otherwise in every ABI
EVENT_NAMES: dict[str, str] = {"pread64": "pread", "pwrite64": "pwrite"}


@dataclass(frozen=True, slots=True)
class CompatCall:
    """How one number of one ABI is decoded: the event name and whether its ids are 16 bits wide."""

    name: str
    uid16: bool = False


def _native_name(abi: Abi, raw: str) -> CompatCall:
    if abi is Abi.SOCKETCALL:
        return CompatCall(SOCKETCALL_EVENT_NAMES.get(raw, raw))
    if abi is Abi.I386:
        return CompatCall(COMPAT_EVENT_NAMES.get(raw, EVENT_NAMES.get(raw, raw)), raw in UID16_CALLS)
    return CompatCall(EVENT_NAMES.get(raw, raw))


@cache
def all_calls(abi: Abi) -> dict[int, CompatCall]:
    """Every number of ``abi`` (x32 numbers without the bit) with its event name."""
    if abi is Abi.SOCKETCALL:
        raw = {nr: name for name, nr in SOCKETCALL_CALLS.items()}
    else:
        arch = {Abi.X64: Arch.X86_64, Abi.I386: Arch.I386, Abi.X32: Arch.X32}[abi]
        raw = {nr & ~X32_SYSCALL_BIT: name for name, nr in tables.table(arch).items()}
    return {nr: _native_name(abi, name) for nr, name in raw.items()}


@cache
def decoded_calls(abi: Abi) -> dict[int, CompatCall]:
    """The numbers of ``abi`` whose event ``syscall_decode.SPECS`` can decode."""
    return {nr: call for nr, call in all_calls(abi).items() if call.name in SPECS}


def event_name(abi: Abi, nr: int) -> str | None:
    """The event name of number ``nr`` of ``abi``, or None if unassigned."""
    call = all_calls(abi).get(nr)
    return call.name if call else None


def abi_of(audit_arch: int, nr: int) -> Abi:
    """The ABI of a syscall from its ``AUDIT_ARCH_*`` value and number (ptrace's syscall info, seccomp_data)."""
    if audit_arch == Arch.I386.audit_arch:
        return Abi.I386
    return Abi.X32 if nr & X32_SYSCALL_BIT else Abi.X64


def numbers_for(abi: Abi, names: list[str] | frozenset[str]) -> dict[int, CompatCall]:
    """The numbers of ``abi`` that produce one of the events ``names``."""
    wanted = frozenset(names)
    return {nr: call for nr, call in decoded_calls(abi).items() if call.name in wanted}


def uid16(value: int) -> int:
    """An old 16-bit id as the kernel widens it (``low2highuid``): 0xffff (-1) stays -1."""
    value &= 0xFFFF
    return 0xFFFFFFFF if value == 0xFFFF else value


def compat_args(abi: Abi, call: CompatCall, args: tuple[int, ...]) -> tuple[int, ...]:
    """The arguments as the syscall sees them: i386 ones are the low 32 bits of the registers (16 bits for
    the old id calls); x32 calls take the 64-bit registers as x86_64 ones do."""
    if call.uid16:
        return tuple(uid16(a) for a in args)
    if abi in (Abi.I386, Abi.SOCKETCALL):
        return tuple(a & 0xFFFFFFFF for a in args)
    return args


def uses_32bit_pointers(abi: Abi) -> bool:
    """Whether structures in user memory (argv arrays, msghdr) hold 32-bit pointers."""
    return abi is not Abi.X64
