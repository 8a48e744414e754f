"""Fd events -> fd tables: open*, close, dup*, sockets (socket/connect/accept/bind/listen), pipes, other fds.

Each handler updates the calling process's fd table and sets ``event.fd`` to the fd the event is about, as
libsinsp does: the new fd for open/socket/accept, the closed fd for close, the *old* fd for dup (so
``fd.type`` of ``dup2(sock, 1)`` is the socket's), the connected socket for connect. A failed open still gets
an ``FdInfo`` with ``num`` -1 and the path it tried, so ``fd.name`` works in "open failed" rules.
Handlers take ``(state, event, thread, params)`` and return the thread to attach.
"""
from __future__ import annotations

import errno
import socket
from typing import Any

from syswarden.events.event import Event, FdInfo, FdType, SockAddr, SockTuple, ThreadInfo
from syswarden.events.types import O_CLOEXEC, O_CREAT, O_TRUNC, O_WRONLY
from syswarden.state import fds as F
from syswarden.state.context import StateContext
from syswarden.state.lifecycle import ret

F_DUPFD, F_DUPFD_CLOEXEC = 0, 1030
CLOSE_RANGE_CLOEXEC = 4
# bpf(2) commands whose result is a new fd (MAP_CREATE, PROG_LOAD, OBJ_GET, *_GET_FD_BY_ID, BTF_LOAD, ...).
_BPF_FD_CMDS = frozenset({0, 5, 7, 13, 14, 17, 18, 19, 28, 30, 32, 33, 36})
_SIMPLE_KINDS = {
    "eventfd": FdType.EVENT, "eventfd2": FdType.EVENT, "signalfd": FdType.SIGNALFD, "signalfd4": FdType.SIGNALFD,
    "timerfd_create": FdType.TIMERFD, "inotify_init": FdType.INOTIFY, "inotify_init1": FdType.INOTIFY,
    "epoll_create": FdType.EVENTPOLL, "epoll_create1": FdType.EVENTPOLL, "userfaultfd": FdType.USERFAULTFD,
    "memfd_create": FdType.MEMFD, "io_uring_setup": FdType.IO_URING, "pidfd_open": FdType.PIDFD,
    "pidfd_getfd": FdType.UNKNOWN, "bpf": FdType.BPF,
}


def _int(params: dict[str, Any], key: str, default: int | None = None) -> int | None:
    value = params.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _new_fd(event: Event, params: dict[str, Any]) -> int | None:
    res = event.res if event.res is not None else _int(params, "fd", _int(params, "res"))
    return res


def _store(st: StateContext, thread: ThreadInfo, fd: FdInfo) -> None:
    if not F.add_fd(thread.fds, fd):
        st.stats.fds_dropped += 1


def on_open(st: StateContext, event: Event, thread: ThreadInfo | None, params: dict[str, Any]) -> ThreadInfo | None:
    """open/openat/openat2/creat/open_by_handle_at exit: a new file fd named by its absolute path."""
    if thread is None:
        return thread
    # The open family is the most frequent event of a busy host: the params are read in place (a plain int
    # passes the ``_int`` test as is) rather than through a helper call per parameter.
    num = _new_fd(event, params)
    name = params["name"] if "name" in params else params.get("path", "")
    if event.type == "creat":
        flags = O_CREAT | O_WRONLY | O_TRUNC
    else:
        flags = params.get("flags", 0)
        if flags.__class__ is not int:
            flags = _int(params, "flags", 0) or 0
    dev = params.get("dev", 0)
    if dev.__class__ is not int:
        dev = _int(params, "dev", 0) or 0
    ino = params.get("ino", 0)
    if ino.__class__ is not int:
        ino = _int(params, "ino", 0) or 0
    fd = F.file_fd(num if num is not None and num >= 0 else -1, name if isinstance(name, str) else "", flags,
                   dev=dev, ino=ino, ts=event.ts)
    raw = event.params.pop(F.RAW_NAME_PARAM, None)           # state's note of the name as given (state.py)
    if raw is not None:
        params.pop(F.RAW_NAME_PARAM, None)
        if raw != fd.name:
            fd.nameraw = raw
    if fd.num >= 0 and not F.add_fd(thread.fds, fd):      # _store, inlined for the hot path
        st.stats.fds_dropped += 1
    event.fd = fd
    return thread


def on_close(st: StateContext, event: Event, thread: ThreadInfo | None, params: dict[str, Any]) -> ThreadInfo | None:
    """close exit: on success the fd leaves the table; ``event.fd`` is what it was."""
    num = _int(params, "fd")
    if thread is None or num is None:
        return thread
    res = ret(event, params)
    event.fd = thread.fds.pop(num, None) if res in (0, None) else thread.fds.get(num)
    return thread


def on_close_range(st: StateContext, event: Event, thread: ThreadInfo | None,
                   params: dict[str, Any]) -> ThreadInfo | None:
    """close_range exit: close (or mark close-on-exec) every fd in [first, last]."""
    if thread is None or ret(event, params) not in (0, None):
        return thread
    first, last = _int(params, "first", 0) or 0, _int(params, "last", 2**32) or 0
    flags = _int(params, "flags", 0) or 0
    for num in [n for n in thread.fds if first <= n <= last]:
        if flags & CLOSE_RANGE_CLOEXEC:
            thread.fds[num].flags |= O_CLOEXEC
        else:
            del thread.fds[num]
    return thread


def on_dup(st: StateContext, event: Event, thread: ThreadInfo | None, params: dict[str, Any]) -> ThreadInfo | None:
    """dup/dup2/dup3 (and fcntl F_DUPFD*) exit: the new fd is a copy of the old one."""
    if thread is None:
        return thread
    if event.type == "fcntl" and _int(params, "cmd") not in (F_DUPFD, F_DUPFD_CLOEXEC):
        event.fd = thread.fds.get(_int(params, "fd", -1) or -1)
        return thread
    old_num = _int(params, "oldfd", _int(params, "fd"))
    new_num = ret(event, params)
    old = thread.fds.get(old_num) if old_num is not None else None
    event.fd = old
    if old is None and new_num is not None and new_num >= 0 and new_num != old_num:
        # a copy of an fd state never saw (its open filtered in the kernel): whatever newfd held is gone
        thread.fds.pop(new_num, None)
    if old is not None and new_num is not None and new_num >= 0 and new_num != old_num:
        cloexec = (event.type == "dup3" and bool((_int(params, "flags", 0) or 0) & O_CLOEXEC)) or \
                  (event.type == "fcntl" and _int(params, "cmd") == F_DUPFD_CLOEXEC)
        _store(st, thread, F.dup_fd(old, new_num, cloexec=cloexec))
    return thread


def on_socket(st: StateContext, event: Event, thread: ThreadInfo | None, params: dict[str, Any]) -> ThreadInfo | None:
    """socket exit: a new, unconnected socket fd."""
    num = _new_fd(event, params)
    if thread is None or num is None or num < 0:
        return thread
    domain = params.get("domain", socket.AF_UNSPEC)
    fd = F.socket_fd(num, domain, _int(params, "type", 0) or 0, _int(params, "proto", 0) or 0, event.ts)
    _store(st, thread, fd)
    event.fd = fd
    return thread


def on_socketpair(st: StateContext, event: Event, thread: ThreadInfo | None,
                  params: dict[str, Any]) -> ThreadInfo | None:
    """socketpair exit: two connected sockets of the given family."""
    if thread is None or (ret(event, params) or 0) < 0:
        return thread
    for key in ("fd1", "fd2"):
        num = _int(params, key)
        if num is not None and num >= 0:
            fd = F.socket_fd(num, params.get("domain", socket.AF_UNIX), _int(params, "type", 0) or 0, 0, event.ts)
            fd.connected = True
            _store(st, thread, fd)
    return thread


def _socket_for(st: StateContext, thread: ThreadInfo, num: int, family: str, ts: int) -> FdInfo:
    """The socket fd ``num``, created when its socket() was never seen (opened before we started)."""
    fd = thread.fds.get(num)
    if fd is None:
        fd = F.socket_fd(num, family, socket.SOCK_STREAM, 0, ts)
        _store(st, thread, fd)
    return fd


def _not_a_socket(event: Event, thread: ThreadInfo, num: int, params: dict[str, Any]) -> bool:
    """A socket call on an fd that is no socket (ENOTSOCK) names nothing: the entry state has, if any, stays as
    it is, and none is made up for an fd state never saw."""
    if ret(event, params) != -errno.ENOTSOCK:
        return False
    event.fd = thread.fds.get(num)
    return True


def on_connect(st: StateContext, event: Event, thread: ThreadInfo | None, params: dict[str, Any]) -> ThreadInfo | None:
    """connect exit: the socket gets its endpoints (also on EINPROGRESS, as for non-blocking sockets)."""
    num = _int(params, "fd")
    if thread is None or num is None or num < 0 or _not_a_socket(event, thread, num, params):
        return thread
    res = ret(event, params)
    tup, addr = params.get("tuple"), params.get("addr")
    family = tup.family if isinstance(tup, SockTuple) else addr.family if isinstance(addr, SockAddr) else "AF_INET"
    fd = _socket_for(st, thread, num, family, event.ts)
    connected = res in (0, None, -errno.EINPROGRESS)
    if isinstance(tup, SockTuple):
        # libsinsp keeps a bound UDP server's role and turns its tuple client -> server; anything else connecting
        # is the client
        server = fd.servsock and fd.is_server and fd.l4proto == "udp"
        F.apply_tuple(fd, F.swapped(tup) if server else tup, server=server, connected=connected)
    elif isinstance(addr, SockAddr):
        F.apply_remote_addr(fd, addr)
        fd.connected = connected
    event.fd = fd
    return thread


def on_sendrecv(st: StateContext, event: Event, thread: ThreadInfo | None, params: dict[str, Any]) -> ThreadInfo | None:
    """sendto/sendmsg/recvfrom/recvmsg exit: a datagram (or still unnamed) socket takes the event's tuple,
    as libsinsp does, so unconnected UDP traffic has endpoints; a read marks an IP socket connected, as
    libsinsp's ``parse_read_exit`` does *before* the tuple: a bound server socket's first datagram leaves it
    unconnected (the ``inbound`` macro's UDP branch), the tuple turns it into a connection socket that the next
    read connects."""
    num, tup = _int(params, "fd"), params.get("tuple")
    if thread is None or num is None or num < 0 or _not_a_socket(event, thread, num, params):
        return thread
    fd = thread.fds.get(num)
    servsock = fd is not None and fd.servsock
    if isinstance(tup, SockTuple) and tup.family in ("AF_INET", "AF_INET6", "AF_UNIX"):
        if fd is None:
            fd = F.socket_fd(num, tup.family, socket.SOCK_DGRAM, 0, event.ts)
            _store(st, thread, fd)
        if not fd.name or fd.l4proto != "tcp":
            if fd.servsock and event.type.startswith("send"):
                tup = F.swapped(tup)        # a bound server sending: the tuple is server -> client
            F.apply_tuple(fd, tup, server=fd.is_server, connected=fd.connected)
    if fd is not None and event.type.startswith("recv") and fd.type in (FdType.IPV4, FdType.IPV6) and not servsock:
        if (ret(event, params) or 0) >= 0:
            fd.connected = True
    event.fd = fd
    return thread


def on_accept(st: StateContext, event: Event, thread: ThreadInfo | None, params: dict[str, Any]) -> ThreadInfo | None:
    """accept/accept4 exit: a new connected server-side socket (tuple: client -> this server)."""
    num = _new_fd(event, params)
    if thread is None or num is None or num < 0:
        return thread
    tup = params.get("tuple")
    family = tup.family if isinstance(tup, SockTuple) else "AF_INET"
    fd = F.socket_fd(num, family, socket.SOCK_STREAM | (_int(params, "flags", 0) or 0), 0, event.ts)
    if isinstance(tup, SockTuple):
        F.apply_tuple(fd, tup, server=True, connected=True)
    _store(st, thread, fd)
    event.fd = fd
    return thread


def on_bind(st: StateContext, event: Event, thread: ThreadInfo | None, params: dict[str, Any]) -> ThreadInfo | None:
    """bind exit: on success the socket is named by its local address."""
    num = _int(params, "fd")
    if thread is None or num is None or _not_a_socket(event, thread, num, params):
        return thread
    addr = params.get("addr")
    fd = _socket_for(st, thread, num, addr.family if isinstance(addr, SockAddr) else "AF_INET", event.ts)
    if isinstance(addr, SockAddr) and ret(event, params) in (0, None):
        F.apply_bind(fd, addr)
    event.fd = fd
    return thread


def on_listen(st: StateContext, event: Event, thread: ThreadInfo | None, params: dict[str, Any]) -> ThreadInfo | None:
    """listen exit: the event is about the socket, which it does not change (libsinsp has no listen parser: the
    bind made it a server socket)."""
    num = _int(params, "fd")
    if thread is not None and num is not None:
        event.fd = thread.fds.get(num)
    return thread


def on_pipe(st: StateContext, event: Event, thread: ThreadInfo | None, params: dict[str, Any]) -> ThreadInfo | None:
    """pipe/pipe2 exit: two unnamed pipe fds (libsinsp leaves pipe names empty; /proc shows ``pipe:[ino]``);
    ``event.fd`` is the second, the last one added, as in libsinsp."""
    if thread is None or (ret(event, params) or 0) < 0:
        return thread
    ino = _int(params, "ino", 0) or 0
    flags = _int(params, "flags", 0) or 0
    for key in ("fd1", "fd2"):
        num = _int(params, key)
        if num is not None and num >= 0:
            fd = F.simple_fd(num, FdType.PIPE, "", flags, event.ts)
            fd.ino = ino
            _store(st, thread, fd)
            event.fd = fd
    return thread


def on_simple(st: StateContext, event: Event, thread: ThreadInfo | None, params: dict[str, Any]) -> ThreadInfo | None:
    """eventfd, signalfd, timerfd, inotify, epoll, userfaultfd, memfd, io_uring, pidfd, bpf: a new fd of a kind."""
    num = _new_fd(event, params)
    if thread is None or num is None or num < 0:
        return thread
    if event.type == "bpf" and _int(params, "cmd") not in _BPF_FD_CMDS:
        return thread
    name = f"memfd:{params.get('name', '')}" if event.type == "memfd_create" else ""
    flags = _int(params, "flags", 0) or 0
    fd = F.simple_fd(num, _SIMPLE_KINDS[event.type], name, flags if event.type != "bpf" else 0, event.ts)
    _store(st, thread, fd)
    event.fd = fd
    return thread


HANDLERS = {
    **dict.fromkeys(("open", "openat", "openat2", "creat", "open_by_handle_at"), on_open),
    "close": on_close,
    "close_range": on_close_range,
    **dict.fromkeys(("dup", "dup2", "dup3", "fcntl"), on_dup),
    "socket": on_socket,
    "socketpair": on_socketpair,
    "connect": on_connect,
    **dict.fromkeys(("accept", "accept4"), on_accept),
    "bind": on_bind,
    **dict.fromkeys(("sendto", "sendmsg", "recvfrom", "recvmsg"), on_sendrecv),
    "listen": on_listen,
    **dict.fromkeys(("pipe", "pipe2"), on_pipe),
    **dict.fromkeys(tuple(_SIMPLE_KINDS), on_simple),
}
"""Fd handlers by event name."""

__all__ = ["HANDLERS"]
