"""``pidfd_getfd(2)``: look at another process's file descriptor (the recorder asks what kind of socket a traced
process binds). Needs PTRACE_MODE_ATTACH rights over the process (its tracer, or root)."""
from __future__ import annotations

import ctypes
import os
import socket

_NR_PIDFD_GETFD = 438
_libc = ctypes.CDLL(None, use_errno=True)


def socket_kind(pid: int, fd: int) -> tuple[int, int]:
    """(address family, socket type) of ``pid``'s fd ``fd``; (0, 0) when it is not a socket or is gone."""
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return 0, 0
    try:
        dup = int(_libc.syscall(_NR_PIDFD_GETFD, pidfd, fd, 0))
        if dup < 0:
            return 0, 0
        try:
            sock = socket.socket(fileno=dup)
        except OSError:
            os.close(dup)
            return 0, 0
        try:
            return int(sock.family), int(sock.type) & 0xF
        finally:
            sock.close()
    finally:
        os.close(pidfd)
