"""The seccomp(2) kernel ABI: operations, filter flags, return-action constants and ``struct sock_fprog``.

Bottom layer: ``seccomp()`` is reached through libc's ``syscall()`` (glibc has no wrapper in Debian 12);
``OSError`` is translated to ``KernelError`` by the callers' ``kernel_errors`` context.
"""
from __future__ import annotations

import ctypes
import errno
import os

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

# The C library the interpreter already links (find_library would run ldconfig at every start-up).
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]


def nr_seccomp() -> int:
    machine = os.uname().machine   # platform.machine(), without importing platform at every launch
    if machine not in _NR_SECCOMP:
        raise OSError(errno.ENOSYS, f"seccomp(2) number unknown on {machine}")
    return _NR_SECCOMP[machine]


def seccomp(operation: int, flags: int, args: ctypes.c_void_p | None) -> int:
    """Raw ``seccomp(operation, flags, args)``; raises ``OSError`` with the kernel's errno."""
    rc = _libc.syscall(ctypes.c_long(nr_seccomp()), ctypes.c_uint(operation), ctypes.c_uint(flags), args)
    if rc < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return int(rc)


def set_mode_filter(image: bytes, flags: int) -> int:
    """Attach the ``struct sock_filter[]`` image ``image`` to the calling thread (or all threads with TSYNC)."""
    count = len(image) // ctypes.sizeof(SockFilter)
    array = (SockFilter * count).from_buffer_copy(image)
    prog = SockFprog(count, ctypes.cast(array, ctypes.POINTER(SockFilter)))
    return seccomp(SECCOMP_SET_MODE_FILTER, flags, ctypes.cast(ctypes.pointer(prog), ctypes.c_void_p))


def set_mode_strict() -> None:
    """Enter strict mode: only read, write, _exit and sigreturn remain (anything else is SIGKILL)."""
    seccomp(SECCOMP_SET_MODE_STRICT, 0, None)


def action_available(action_value: int) -> bool:
    """Whether the kernel knows the return action (SECCOMP_GET_ACTION_AVAIL)."""
    value = ctypes.c_uint32(action_value & SECCOMP_RET_ACTION_FULL)
    try:
        seccomp(SECCOMP_GET_ACTION_AVAIL, 0, ctypes.cast(ctypes.pointer(value), ctypes.c_void_p))
    except OSError:
        return False
    return True
