"""Symbolic argument values a policy may write instead of numbers (``value: CLONE_NEWUSER|CLONE_NEWNET``).

Only constants whose value is the same on every architecture syswarden supports are listed (clone flags,
address families, mmap protections, prctl options), so a symbolic policy means the same on x86_64 and
aarch64. Arch-dependent ones (``O_*``, ``MAP_*``, ioctl numbers such as ``TIOCSTI``) must be written as numbers.
"""
from __future__ import annotations

import re

CONSTANTS: dict[str, int] = {
    # include/uapi/linux/sched.h
    "CSIGNAL": 0x000000FF, "CLONE_VM": 0x00000100, "CLONE_FS": 0x00000200, "CLONE_FILES": 0x00000400,
    "CLONE_SIGHAND": 0x00000800, "CLONE_PIDFD": 0x00001000, "CLONE_PTRACE": 0x00002000,
    "CLONE_VFORK": 0x00004000, "CLONE_PARENT": 0x00008000, "CLONE_THREAD": 0x00010000,
    "CLONE_NEWNS": 0x00020000, "CLONE_SYSVSEM": 0x00040000, "CLONE_SETTLS": 0x00080000,
    "CLONE_PARENT_SETTID": 0x00100000, "CLONE_CHILD_CLEARTID": 0x00200000, "CLONE_DETACHED": 0x00400000,
    "CLONE_UNTRACED": 0x00800000, "CLONE_CHILD_SETTID": 0x01000000, "CLONE_NEWCGROUP": 0x02000000,
    "CLONE_NEWUTS": 0x04000000, "CLONE_NEWIPC": 0x08000000, "CLONE_NEWUSER": 0x10000000,
    "CLONE_NEWPID": 0x20000000, "CLONE_NEWNET": 0x40000000, "CLONE_IO": 0x80000000,
    "CLONE_NEWTIME": 0x00000080,
    # include/linux/socket.h
    "AF_UNSPEC": 0, "AF_UNIX": 1, "AF_LOCAL": 1, "AF_INET": 2, "AF_AX25": 3, "AF_IPX": 4, "AF_APPLETALK": 5,
    "AF_NETROM": 6, "AF_BRIDGE": 7, "AF_ATMPVC": 8, "AF_X25": 9, "AF_INET6": 10, "AF_ROSE": 11,
    "AF_DECnet": 12, "AF_NETBEUI": 13, "AF_SECURITY": 14, "AF_KEY": 15, "AF_NETLINK": 16, "AF_PACKET": 17,
    "AF_ASH": 18, "AF_ECONET": 19, "AF_ATMSVC": 20, "AF_RDS": 21, "AF_SNA": 22, "AF_IRDA": 23,
    "AF_PPPOX": 24, "AF_WANPIPE": 25, "AF_LLC": 26, "AF_IB": 27, "AF_MPLS": 28, "AF_CAN": 29, "AF_TIPC": 30,
    "AF_BLUETOOTH": 31, "AF_IUCV": 32, "AF_RXRPC": 33, "AF_ISDN": 34, "AF_PHONET": 35, "AF_IEEE802154": 36,
    "AF_CAIF": 37, "AF_ALG": 38, "AF_NFC": 39, "AF_VSOCK": 40, "AF_KCM": 41, "AF_QIPCRTR": 42, "AF_SMC": 43,
    "AF_XDP": 44, "AF_MCTP": 45,
    # include/uapi/asm-generic/mman-common.h (PROT_* are generic)
    "PROT_NONE": 0, "PROT_READ": 1, "PROT_WRITE": 2, "PROT_EXEC": 4, "PROT_SEM": 8,
    # include/uapi/linux/prctl.h (a few options policies restrict)
    "PR_SET_PDEATHSIG": 1, "PR_GET_DUMPABLE": 3, "PR_SET_DUMPABLE": 4, "PR_SET_NAME": 15, "PR_GET_NAME": 16,
    "PR_SET_SECCOMP": 22, "PR_CAPBSET_DROP": 24, "PR_SET_NO_NEW_PRIVS": 38, "PR_SET_PTRACER": 0x59616D61,
    # include/uapi/linux/personality.h
    "PER_LINUX": 0x0000, "ADDR_NO_RANDOMIZE": 0x0040000, "PER_LINUX32": 0x0008, "UNAME26": 0x0020000,
}

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def evaluate(text: str) -> int | None:
    """``"CLONE_NEWUSER|CLONE_NEWNET"`` or ``"0x10 | AF_INET"`` -> the OR of the parts; None if any part is
    neither a known constant nor a number."""
    total = 0
    for part in text.split("|"):
        word = part.strip()
        if _NAME.match(word):
            if word not in CONSTANTS:
                return None
            total |= CONSTANTS[word]
            continue
        try:
            total |= int(word.replace("_", ""), 0)
        except ValueError:
            return None
    return total
