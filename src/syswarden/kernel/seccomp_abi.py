"""The seccomp(2) kernel ABI: operations, filter flags, return-action constants and ``struct sock_fprog``.

Bottom layer: ``seccomp()`` is reached through libc's ``syscall()`` (glibc has no wrapper in Debian 12), bound by
``kernel/libc.py`` without the ctypes package (this module is on every launch's start-up path); ``OSError`` is
translated to ``KernelError`` by the callers' ``kernel_errors`` context.
"""
from __future__ import annotations

import errno
import os
from _struct import calcsize, pack

from syswarden.kernel import libc

SECCOMP_SET_MODE_STRICT = 0
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_GET_ACTION_AVAIL = 2
SECCOMP_GET_NOTIF_SIZES = 3

SECCOMP_FILTER_FLAG_TSYNC = 1 << 0
SECCOMP_FILTER_FLAG_LOG = 1 << 1
SECCOMP_FILTER_FLAG_SPEC_ALLOW = 1 << 2
SECCOMP_FILTER_FLAG_NEW_LISTENER = 1 << 3
SECCOMP_FILTER_FLAG_TSYNC_ESRCH = 1 << 4
SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV = 1 << 5

FLAG_BY_NAME: dict[str, int] = {
    "tsync": SECCOMP_FILTER_FLAG_TSYNC,
    "log": SECCOMP_FILTER_FLAG_LOG,
    "spec_allow": SECCOMP_FILTER_FLAG_SPEC_ALLOW,
    "new_listener": SECCOMP_FILTER_FLAG_NEW_LISTENER,
    "tsync_esrch": SECCOMP_FILTER_FLAG_TSYNC_ESRCH,
    "wait_killable_recv": SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
}

SECCOMP_RET_ACTION_FULL = 0xFFFF0000
SECCOMP_RET_DATA = 0x0000FFFF

# __NR_seccomp per native arch (asm/unistd.h).
_NR_SECCOMP: dict[str, int] = {"x86_64": 317, "i386": 354, "i686": 354, "aarch64": 277, "armv7l": 383,
                               "riscv64": 277, "s390x": 348, "ppc64le": 358}

INSN_SIZE = 8           # struct sock_filter {u16 code; u8 jt, jf; u32 k}
_FPROG = "@HP"          # struct sock_fprog {unsigned short len; struct sock_filter *filter}, native alignment


class Fprog:
    """A ``struct sock_fprog`` in C memory, pointing at a copy of a filter image (kept alive with it). Its
    ``address`` is fixed from creation: the launcher names it in an exemption before the image is known."""

    __slots__ = ("_mem", "_image")

    def __init__(self) -> None:
        self._mem = libc.Buffer(calcsize(_FPROG))
        self._image: libc.Buffer | None = None

    @property
    def address(self) -> int:
        return self._mem.address

    def point_at(self, image: bytes) -> None:
        self._image = libc.Buffer(len(image), image)
        self._mem.write(pack(_FPROG, len(image) // INSN_SIZE, self._image.address))


def nr_seccomp() -> int:
    machine = os.uname().machine   # platform.machine(), without importing platform at every launch
    if machine not in _NR_SECCOMP:
        raise OSError(errno.ENOSYS, f"seccomp(2) number unknown on {machine}")
    return _NR_SECCOMP[machine]


def seccomp(operation: int, flags: int, address: int = 0) -> int:
    """Raw ``seccomp(operation, flags, args)`` (``address``: where the argument is, 0 for NULL); raises
    ``OSError`` with the kernel's errno."""
    rc = libc.syscall(nr_seccomp(), operation, flags, address)
    if rc < 0:
        err = libc.errno()
        raise OSError(err, os.strerror(err))
    return rc


def set_mode_filter(image: bytes, flags: int) -> int:
    """Attach the ``struct sock_filter[]`` image ``image`` to the calling thread (or all threads with TSYNC)."""
    prog = Fprog()
    prog.point_at(image)
    return seccomp(SECCOMP_SET_MODE_FILTER, flags, prog.address)


def set_mode_strict() -> None:
    """Enter strict mode: only read, write, _exit and sigreturn remain (anything else is SIGKILL)."""
    seccomp(SECCOMP_SET_MODE_STRICT, 0)


def action_available(action_value: int) -> bool:
    """Whether the kernel knows the return action (SECCOMP_GET_ACTION_AVAIL)."""
    value = libc.Buffer(4, pack("=I", action_value & SECCOMP_RET_ACTION_FULL))
    try:
        seccomp(SECCOMP_GET_ACTION_AVAIL, 0, value.address)
    except OSError:
        return False
    return True
