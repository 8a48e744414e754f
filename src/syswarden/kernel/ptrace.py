"""ctypes binding of ptrace(2) and process_vm_readv(2): seize, restart, syscall info, event messages, and
reading a tracee's memory. The only module that issues these calls; ``sources/ptrace/tracer.py`` drives it.
"""
from __future__ import annotations

import ctypes
import errno
import os
import struct
from dataclasses import dataclass

from syswarden.errors import KernelError

PTRACE_CONT = 7
PTRACE_SYSCALL = 24
PTRACE_SETOPTIONS = 0x4200
PTRACE_GETEVENTMSG = 0x4201
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207
PTRACE_LISTEN = 0x4208
PTRACE_GET_SYSCALL_INFO = 0x420E

PTRACE_O_TRACESYSGOOD = 0x1
PTRACE_O_TRACEFORK = 0x2
PTRACE_O_TRACEVFORK = 0x4
PTRACE_O_TRACECLONE = 0x8
PTRACE_O_TRACEEXEC = 0x10
PTRACE_O_EXITKILL = 0x100000
TRACE_OPTIONS = (PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE
                 | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL)

PTRACE_EVENT_FORK, PTRACE_EVENT_VFORK, PTRACE_EVENT_CLONE, PTRACE_EVENT_EXEC = 1, 2, 3, 4
PTRACE_EVENT_STOP = 128
SYSCALL_INFO_ENTRY, SYSCALL_INFO_EXIT = 1, 2
_INFO = struct.Struct("<B3xIQQ7Q")  # op, arch, ip, sp, then the union (entry: nr + 6 args / exit: rval, is_error)

_libc = ctypes.CDLL(None, use_errno=True)
_libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
_libc.ptrace.restype = ctypes.c_long


class _IOVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


_libc.process_vm_readv.argtypes = [ctypes.c_int, ctypes.POINTER(_IOVec), ctypes.c_ulong,
                                   ctypes.POINTER(_IOVec), ctypes.c_ulong, ctypes.c_ulong]
_libc.process_vm_readv.restype = ctypes.c_ssize_t


class TraceeGoneError(KernelError):
    """The tracee is no longer in a ptrace stop: SIGKILL (from any process, e.g. the traced program killing its
    own child) wakes a stopped tracee, and every ptrace request on it then fails with ESRCH until the tracer
    reaps its exit. The tracer skips the stop; the exit arrives through waitpid."""


def _call(request: int, pid: int, addr: int | None, data: int | None) -> int:
    rc = int(_libc.ptrace(request, pid, addr, data))
    if rc == -1:
        err = ctypes.get_errno()
        if err:
            kind = TraceeGoneError if err == errno.ESRCH else KernelError
            raise kind(f"ptrace(0x{request:x}, {pid}) failed: {os.strerror(err)}")
    return rc


def seize(pid: int, options: int = TRACE_OPTIONS) -> None:
    """Attach without stopping the tracee (``PTRACE_SEIZE``) with the given options."""
    _call(PTRACE_SEIZE, pid, 0, options)


def interrupt(pid: int) -> None:
    _call(PTRACE_INTERRUPT, pid, 0, 0)


def resume_syscall(pid: int, signal: int = 0) -> bool:
    """Restart until the next syscall stop, delivering ``signal``. False if the tracee is already gone."""
    try:
        _call(PTRACE_SYSCALL, pid, 0, signal)
    except KernelError:
        return False
    return True


def listen(pid: int) -> bool:
    """Leave a group-stopped tracee stopped but let it be woken by SIGCONT (``PTRACE_LISTEN``)."""
    try:
        _call(PTRACE_LISTEN, pid, 0, 0)
    except KernelError:
        return False
    return True


def event_msg(pid: int) -> int:
    """``PTRACE_GETEVENTMSG``: the new child's pid after fork/clone, the former tid after exec."""
    out = ctypes.c_ulong(0)
    _call(PTRACE_GETEVENTMSG, pid, 0, ctypes.addressof(out))
    return out.value


@dataclass(frozen=True, slots=True)
class SyscallInfo:
    """A syscall stop: ``op`` is entry or exit; entry has ``nr`` and ``args``, exit has ``rval``; ``arch`` is the
    AUDIT_ARCH_* of the call (AUDIT_ARCH_I386 for an i386 call of a 64-bit task)."""

    op: int
    nr: int = -1
    args: tuple[int, ...] = ()
    rval: int = 0
    arch: int = 0


def syscall_info(pid: int) -> SyscallInfo:
    """``PTRACE_GET_SYSCALL_INFO`` at a syscall stop."""
    buf = ctypes.create_string_buffer(_INFO.size)
    _call(PTRACE_GET_SYSCALL_INFO, pid, _INFO.size, ctypes.addressof(buf))
    op, arch, _ip, _sp, *u = _INFO.unpack(buf.raw)
    if op == SYSCALL_INFO_ENTRY:
        return SyscallInfo(op, u[0], tuple(u[1:7]), arch=arch)
    if op == SYSCALL_INFO_EXIT:
        rval = u[0] - (1 << 64) if u[0] >= (1 << 63) else u[0]
        return SyscallInfo(op, rval=rval, arch=arch)
    return SyscallInfo(op, arch=arch)


def read_memory(pid: int, addr: int, size: int) -> bytes:
    """Up to ``size`` bytes of the tracee's memory at ``addr`` (short or empty where unmapped)."""
    if not addr or size <= 0:
        return b""
    buf = ctypes.create_string_buffer(size)
    local, remote = _IOVec(ctypes.addressof(buf), size), _IOVec(addr, size)
    n = int(_libc.process_vm_readv(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0))
    if n <= 0 and size > 1:
        # A read crossing into an unmapped page fails whole: retry up to the page end.
        to_page_end = 4096 - (addr % 4096)
        return read_memory(pid, addr, to_page_end) if to_page_end < size else b""
    return buf.raw[:max(n, 0)]


def read_string(pid: int, addr: int, limit: int = 4096) -> bytes:
    """A NUL-terminated string of the tracee (without the NUL), at most ``limit`` bytes."""
    out = b""
    while len(out) < limit:
        chunk = read_memory(pid, addr + len(out), min(256, limit - len(out)))
        if not chunk:
            break
        nul = chunk.find(b"\0")
        if nul >= 0:
            return out + chunk[:nul]
        out += chunk
    return out
