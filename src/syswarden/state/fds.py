"""File descriptors: building ``FdInfo`` entries and naming them as Falco's ``fd.name`` does.

Paths are made absolute against the process's cwd or a dirfd's path and normalised (``.``/``..``/``//``),
socket fds are named ``sip:sport->dip:dport`` (client -> server, as Falco), unix sockets by their path and
pipes as ``pipe:[ino]``. Per-process fd tables are plain dicts on ``ThreadInfo.fds``; threads that share a table
(threads, ``CLONE_FILES``) share the very same dict.
"""
from __future__ import annotations

import copy
import posixpath
import socket

from syswarden.events.event import FdInfo, FdType, SockAddr, SockTuple
from syswarden.events.types import O_CLOEXEC, O_DIRECTORY

AT_FDCWD = -100
MAX_FDS_PER_PROCESS = 65536

_FAMILY_FD_TYPE = {
    "AF_INET": FdType.IPV4, "AF_INET6": FdType.IPV6, "AF_UNIX": FdType.UNIX, "AF_LOCAL": FdType.UNIX,
    "AF_NETLINK": FdType.NETLINK,
}
_NUM_FAMILY: dict[int, str] = {socket.AF_INET: "AF_INET", socket.AF_INET6: "AF_INET6", socket.AF_UNIX: "AF_UNIX",
                               socket.AF_NETLINK: "AF_NETLINK"}
_SOCK_L4: dict[int, str] = {socket.SOCK_STREAM: "tcp", socket.SOCK_DGRAM: "udp", socket.SOCK_RAW: "raw"}
_IPPROTO_ICMP = (1, 58)


RAW_NAME_PARAM = "name_raw"
"""Where state keeps an open's ``name`` as the caller wrote it (relative, or with ``.``/``..``/``//``) once it
has made it absolute and normal, until the open handler stores it as ``fd.nameraw``; never left in params."""


def normalize_path(path: str) -> str:
    """Collapse ``.``, ``..`` and repeated slashes of an absolute path (``..`` at the root stays at the root)."""
    if not path:
        return path
    norm = posixpath.normpath(path)
    return "/" + norm.lstrip("/") if norm.startswith("//") else norm


def join_path(base: str, name: str) -> str:
    """``name`` made absolute against directory ``base`` (unchanged if already absolute or ``base`` unknown)."""
    if not name or name.startswith("/"):
        return normalize_path(name)
    if not base.startswith("/"):
        return name
    return normalize_path(base + "/" + name)


def resolve_at(fds: dict[int, FdInfo], cwd: str, dirfd: int | None, name: str) -> str:
    """The absolute path ``name`` names when opened relative to ``dirfd`` (AT_FDCWD or None: the cwd)."""
    if name.startswith("/"):
        return normalize_path(name)
    if dirfd is None or dirfd == AT_FDCWD:
        return join_path(cwd, name)
    base = fds.get(dirfd)
    return join_path(base.name, name) if base is not None else name


def file_fd(num: int, path: str, flags: int, *, dev: int = 0, ino: int = 0, ts: int = 0) -> FdInfo:
    """An fd for an opened file or directory (``O_DIRECTORY`` makes it a directory, as Falco)."""
    kind = FdType.DIRECTORY if flags & O_DIRECTORY == O_DIRECTORY else FdType.FILE
    return FdInfo(num, kind, path, flags, dev, ino, open_ts=ts)     # positional: one per open event, keywords cost


def family_name(domain: int | str) -> str:
    """``AF_*`` name of a socket domain given as a number or a name."""
    if isinstance(domain, str):
        return domain
    return _NUM_FAMILY.get(domain, f"AF_{domain}")


def socket_fd(num: int, domain: int | str, sock_type: int = 0, proto: int = 0, ts: int = 0) -> FdInfo:
    """An fd for a new socket: its kind from the family, ``l4proto`` from the type (and ICMP protocol)."""
    family = family_name(domain)
    kind = _FAMILY_FD_TYPE.get(family, FdType.UNKNOWN)
    base_type = sock_type & 0xF
    l4 = "icmp" if kind in (FdType.IPV4, FdType.IPV6) and proto in _IPPROTO_ICMP else _SOCK_L4.get(base_type, "")
    if kind is FdType.UNIX or kind is FdType.NETLINK:
        l4 = ""
    sockfamily = "ip" if kind in (FdType.IPV4, FdType.IPV6) else "unix" if kind is FdType.UNIX else ""
    return FdInfo(num=num, type=kind, flags=sock_type, l4proto=l4, sockfamily=sockfamily, open_ts=ts)


def tuple_name(sip: str, sport: int, dip: str, dport: int) -> str:
    """Falco's fd.name of a connected IP socket: ``sip:sport->dip:dport``."""
    return f"{sip}:{sport}->{dip}:{dport}"


def apply_tuple(fd: FdInfo, tup: SockTuple, *, server: bool, connected: bool) -> None:
    """Fill an IP/unix socket fd from a connect/accept tuple (source = client, destination = server); a server
    socket becomes a connection socket (libsinsp's ``update_fd``)."""
    fd.type = _FAMILY_FD_TYPE.get(tup.family, fd.type)
    fd.servsock = False
    if fd.type is FdType.UNIX:
        fd.name = tup.dip or tup.sip
        fd.sockfamily = "unix"
    else:
        fd.sip, fd.sport, fd.dip, fd.dport = tup.sip, tup.sport, tup.dip, tup.dport
        fd.name = tuple_name(tup.sip, tup.sport, tup.dip, tup.dport)
        fd.sockfamily = "ip"
        if tup.l4proto and not fd.l4proto:
            fd.l4proto = tup.l4proto
    fd.is_server = server
    fd.connected = connected


def swapped(tup: SockTuple) -> SockTuple:
    """The tuple seen from the other end (libsinsp's ``swap_addresses``)."""
    return SockTuple(tup.family, tup.dip, tup.dport, tup.sip, tup.sport, tup.l4proto)


def apply_remote_addr(fd: FdInfo, addr: SockAddr) -> None:
    """Fill the destination of a socket from a connect address when the kernel gave no tuple."""
    fd.type = _FAMILY_FD_TYPE.get(addr.family, fd.type)
    fd.servsock = False
    if fd.type is FdType.UNIX:
        fd.name = addr.addr
        return
    fd.dip, fd.dport = addr.addr, addr.port
    fd.name = tuple_name(fd.sip or "0.0.0.0", fd.sport, addr.addr, addr.port)


_V4_MAPPED = "::ffff:"


def apply_bind(fd: FdInfo, addr: SockAddr) -> None:
    """A successful bind, as libsinsp's ``parse_bind_exit``: the socket is named by the address (unix sockets by
    their path, IP ones ``addr:port``); bound to a port > 0, an IP socket becomes a *server socket* with the
    server role, its address in ``dip``/``dport`` (an IPv4-mapped IPv6 address makes an IPv4 one). Bound to
    port 0 (an ephemeral port, typical of a client) it only gets the name."""
    fd.type = _FAMILY_FD_TYPE.get(addr.family, fd.type)
    if fd.type is FdType.UNIX:
        fd.name = addr.addr
        fd.sockfamily = "unix"
        return
    fd.name = f"{addr.addr}:{addr.port}"
    if fd.type not in (FdType.IPV4, FdType.IPV6):
        return
    fd.sockfamily = "ip"
    if addr.port > 0:
        ip = addr.addr
        if fd.type is FdType.IPV6 and ip.lower().startswith(_V4_MAPPED) and "." in ip:
            fd.type, ip = FdType.IPV4, ip[len(_V4_MAPPED):]
        fd.servsock, fd.is_server, fd.connected = True, True, False
        fd.sip, fd.sport, fd.dip, fd.dport = "", 0, ip, addr.port


def simple_fd(num: int, kind: FdType, name: str = "", flags: int = 0, ts: int = 0) -> FdInfo:
    """An fd of a kind with no address (pipe, eventfd, memfd, ...)."""
    return FdInfo(num=num, type=kind, name=name, flags=flags, open_ts=ts)


def dup_fd(old: FdInfo, newnum: int, *, cloexec: bool) -> FdInfo:
    """The copy ``dup*`` makes: same file, new number, close-on-exec only if asked (dup3 O_CLOEXEC)."""
    new = copy.copy(old)
    new.num = newnum
    new.flags = (old.flags | O_CLOEXEC) if cloexec else (old.flags & ~O_CLOEXEC)
    return new


def copy_table(fds: dict[int, FdInfo]) -> dict[int, FdInfo]:
    """A forked child's own copy of its parent's fd table."""
    return {num: copy.copy(fd) for num, fd in fds.items()}


def add_fd(fds: dict[int, FdInfo], fd: FdInfo) -> bool:
    """Insert ``fd`` unless the table is full (bounded memory); returns whether it was stored."""
    if fd.num not in fds and len(fds) >= MAX_FDS_PER_PROCESS:
        return False
    fds[fd.num] = fd
    return True


def close_on_exec(fds: dict[int, FdInfo]) -> None:
    """Drop the fds marked close-on-exec, as a successful execve does."""
    for num in [n for n, fd in fds.items() if fd.flags & O_CLOEXEC]:
        del fds[num]


__all__ = ["AT_FDCWD", "MAX_FDS_PER_PROCESS", "RAW_NAME_PARAM", "normalize_path", "join_path", "resolve_at", "file_fd",
           "family_name", "socket_fd", "tuple_name", "apply_tuple", "swapped", "apply_remote_addr", "apply_bind",
           "simple_fd", "dup_fd", "copy_table", "add_fd", "close_on_exec"]
