"""Multiplexed syscalls: on i386 ``socketcall(call, args*)`` and ``ipc(call, ...)`` reach the same kernel
operations as ``bind``, ``socket``, ``shmget``... The call number is argument 0, which a filter can read;
the operation's own arguments are not (socketcall passes them behind a pointer, and ipc's layout changes
per call and version), so a rule's argument conditions cannot be checked through the multiplexer.

Numbers are the kernel's ``SYS_*`` from ``include/uapi/linux/net.h`` and ``ipc/`` call numbers from
``include/uapi/linux/ipc.h``; ``ipc`` keeps a version in the high 16 bits of ``call`` (``call & 0xffff``).
"""
from __future__ import annotations

from dataclasses import dataclass

from syswarden.syscalls.arch import Arch

SOCKETCALL_CALLS: dict[str, int] = {
    "socket": 1, "bind": 2, "connect": 3, "listen": 4, "accept": 5, "getsockname": 6, "getpeername": 7,
    "socketpair": 8, "send": 9, "recv": 10, "sendto": 11, "recvfrom": 12, "shutdown": 13, "setsockopt": 14,
    "getsockopt": 15, "sendmsg": 16, "recvmsg": 17, "accept4": 18, "recvmmsg": 19, "sendmmsg": 20,
}

IPC_CALLS: dict[str, int] = {
    "semop": 1, "semget": 2, "semctl": 3, "semtimedop": 4,
    "msgsnd": 11, "msgrcv": 12, "msgget": 13, "msgctl": 14,
    "shmat": 21, "shmdt": 22, "shmget": 23, "shmctl": 24,
}

# SYS_SEND and SYS_RECV have no direct syscall: the kernel runs them as sendto/recvfrom without an address,
# so a rule on sendto/recvfrom governs them too.
ALIASES: dict[str, tuple[str, ...]] = {"sendto": ("send",), "recvfrom": ("recv",)}


@dataclass(frozen=True, slots=True)
class Multiplexer:
    """One multiplexing syscall: its name, the sub-call numbers by operation name, and the mask on arg 0."""

    name: str
    calls: dict[str, int]
    call_mask: int

    def sub_calls(self, operation: str) -> tuple[int, ...]:
        """The call numbers through which ``operation`` (a syscall name) can be reached (may be empty)."""
        names = (operation, *ALIASES.get(operation, ()))
        return tuple(self.calls[n] for n in names if n in self.calls)


SOCKETCALL = Multiplexer("socketcall", SOCKETCALL_CALLS, 0xFFFFFFFF)
IPC = Multiplexer("ipc", IPC_CALLS, 0xFFFF)

MULTIPLEXERS: dict[Arch, tuple[Multiplexer, ...]] = {
    Arch.I386: (SOCKETCALL, IPC),
    Arch.S390X: (SOCKETCALL, IPC),
    Arch.PPC64LE: (SOCKETCALL, IPC),
}


def multiplexers_for(arch: Arch) -> tuple[Multiplexer, ...]:
    """The multiplexing syscalls of ``arch`` (empty for x86_64, x32, aarch64...)."""
    return MULTIPLEXERS.get(arch, ())
