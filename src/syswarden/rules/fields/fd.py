"""The ``fd.*`` field class: the file descriptor an event refers to (``Event.fd``, attached by state).

Client/server follow Falco: ``fd.cip/cport`` is the connecting side and ``fd.sip/sport`` the side that accepted.
``FdInfo`` stores the tuple as source -> destination (``sip:sport->dip:dport``), i.e. client -> server, and
``is_server`` says whether this process is the server, which decides local (``fd.lip/lport``) and remote
(``fd.rip/rport``). ``fd.ip``, ``fd.port`` and ``fd.net`` match either end, so they are multi-valued and, as in
Falco, filter-only. A *server socket* (libsinsp's ``IPV4_SERVSOCK``: bound to a port > 0, ``FdInfo.servsock``)
has only its own address: ``fd.sip``/``fd.sport``/``fd.snet`` and ``fd.ip``/``fd.port``/``fd.net`` compare it,
the client, local and remote fields are <NA>. For an open-family event without fd state, ``fd.name`` falls back to
the path parameter
and ``fd.num`` to the result (``-1`` on failure), so ``open_file_failed`` style conditions work.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from syswarden.events.event import Event, FdInfo, FdType
from syswarden.rules.fields.model import Extractor, FieldSpec, FieldType

_OPEN_EVENTS = frozenset({"open", "openat", "openat2", "open_by_handle_at", "creat"})
_IP_TYPES = frozenset({FdType.IPV4, FdType.IPV6})


def _fd(fn: Callable[[FdInfo], Any]) -> Callable[[str | None], Extractor]:
    def make(_arg: str | None) -> Extractor:
        def extract(event: Event) -> Any:
            info = event.fd
            return fn(info) if info is not None else None
        return extract
    return make


def _has_role(f: FdInfo) -> bool:
    """libsinsp answers client/server/local/remote questions only once the socket has a role: connected or
    accepted, or with both ends known (UDP peers); a fresh socket, or one bound to port 0, gives <NA> (sysdig
    agrees). A server socket (bound to a port) is handled by ``_conn``/``_serv``."""
    return f.type in _IP_TYPES and (f.connected or bool(f.sip and f.dip))


def _conn(fn: Callable[[FdInfo], Any]) -> Callable[[str | None], Extractor]:
    """A field of a connection's ends (client, local, remote): defined for IPv4/IPv6 connection sockets with a
    role, <NA> for a server socket (libsinsp answers those from its ``ipv4info`` tuple only)."""
    return _fd(lambda f: fn(f) if not f.servsock and _has_role(f) else None)


def _serv(fn: Callable[[FdInfo], Any], *, role: bool) -> Callable[[str | None], Extractor]:
    """A server-side field: a connection socket's server end, or a server socket's own address (libsinsp's
    ``ipv4serverinfo``); with ``role`` a server socket must also have the server role (``fd.sip`` checks it, so a
    listening socket read from /proc gives <NA>; ``fd.sport`` and the filter-only ``fd.ip``/``fd.port``/
    ``fd.net`` do not)."""
    def get(f: FdInfo) -> Any:
        if f.servsock:
            return fn(f) if f.type in _IP_TYPES and (f.is_server or not role) else None
        return fn(f) if _has_role(f) else None
    return _fd(get)


def _either(fn: Callable[[FdInfo], tuple[Any, Any]]) -> Callable[[str | None], Extractor]:
    """``fd.ip``/``fd.port``/``fd.net``: either end of a connection, or the address of a server socket."""
    return _serv(lambda f: fn(f)[1:] if f.servsock else fn(f), role=False)


def _l4proto(f: FdInfo) -> str | None:
    if f.type in _IP_TYPES and not f.servsock and not _has_role(f):
        return None
    return f.l4proto or None


def _num(_arg: str | None) -> Extractor:
    def extract(event: Event) -> int | None:
        if event.fd is not None:
            return event.fd.num
        fd = event.params.get("fd")
        if not isinstance(fd, int) and event.type in _OPEN_EVENTS:
            fd = event.res
        if not isinstance(fd, int):
            return None
        return fd if fd >= 0 else -1
    return extract


def _name(_arg: str | None) -> Extractor:
    def extract(event: Event) -> str | None:
        if event.fd is not None:
            return event.fd.name
        if event.type in _OPEN_EVENTS:
            name = event.params.get("name") or event.params.get("path")
            return name if isinstance(name, str) else None
        return None
    return extract


def _nameraw(arg: str | None) -> Extractor:
    name = _name(arg)

    def extract(event: Event) -> str | None:
        info = event.fd
        return info.nameraw if info is not None and info.nameraw else name(event)
    return extract


def _file_part(part: Callable[[str], str]) -> Callable[[str | None], Extractor]:
    def make(arg: str | None) -> Extractor:
        name = _name(arg)

        def extract(event: Event) -> str | None:
            info = event.fd
            if info is None:
                path = name(event)
            elif info.type is FdType.FILE or info.type is FdType.DIRECTORY:   # identity: Enum hashing is slow
                path = info.name
            else:
                return None
            return part(path) if path else None  # an fd without a name has no directory either
        return extract
    return make


def _filename(arg: str | None) -> Extractor:
    base = _file_part(_basename)(arg)

    def extract(event: Event) -> str | None:
        info = event.fd
        if info is not None and (info.num < 0 or info.type is FdType.DIRECTORY):
            return None     # libsinsp names the file of file fds only (a directory fd has no filename)
        if info is None and event.type in _OPEN_EVENTS and (event.res or 0) < 0:
            return None
        value: str | None = base(event)
        return value
    return extract


def _basename(path: str) -> str:
    """``posixpath.basename`` for a str path."""
    return path[path.rfind("/") + 1:]


def _directory(path: str) -> str:
    """``posixpath.dirname(path) or "/"`` for a str path, without its generic str/bytes/PathLike handling
    (stock rules read fd.directory on every open event)."""
    head = path[:path.rfind("/") + 1]
    stripped = head.rstrip("/")
    return stripped if stripped else (head or "/")


def _local_ip(f: FdInfo) -> str:
    return f.dip if f.is_server else f.sip


def _remote_ip(f: FdInfo) -> str:
    return f.sip if f.is_server else f.dip


def _local_port(f: FdInfo) -> int:
    return f.dport if f.is_server else f.sport


def _remote_port(f: FdInfo) -> int:
    return f.sport if f.is_server else f.dport


def _type_name(f: FdInfo) -> str:
    return f.type.falco_name


def _sockfamily(f: FdInfo) -> str | None:
    if f.sockfamily:
        return f.sockfamily
    if f.type in _IP_TYPES:
        return "ip"
    return "unix" if f.type is FdType.UNIX else None


def _none(_arg: str | None) -> Extractor:
    return lambda _event: None


S, P, IP, NET, PORT = FieldType.CHARBUF, FieldType.FSPATH, FieldType.IPADDR, FieldType.IPNET, FieldType.PORT

FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("fd.num", FieldType.INT64, "File descriptor number (-1 for a failed open).", _num,
              inline="(f.num if (f := e.fd) is not None else @X(e))"),
    FieldSpec("fd.name", P, "Full name: a file path, 'cip:cport->sip:sport' for a socket, a unix path ...",
              _name, inline="(f.name if (f := e.fd) is not None else @X(e))"),
    FieldSpec("fd.nameraw", P, "Name as the syscall gave it, before path resolution.", _nameraw),
    FieldSpec("fd.directory", P, "Directory of a file fd.", _file_part(_directory)),
    FieldSpec("fd.filename", P, "File name (without directory) of a file fd; <NA> for directories and failed opens "
              "(libsinsp derives only fd.name and fd.directory from the attempted path).", _filename),
    FieldSpec("fd.typechar", S, "Type as one character: f file, d directory, 4 ipv4, 6 ipv6, u unix, p pipe ...",
              _fd(lambda f: f.type._value_), inline='(None if (f := e.fd) is None else f.type._value_)'),
    FieldSpec("fd.type", S, "Type name: file, directory, ipv4, ipv6, unix, pipe, event, signalfd ...",
              _fd(_type_name)),
    FieldSpec("fd.l4proto", S, "Layer-4 protocol of a socket: tcp, udp, icmp, raw.",
              _fd(_l4proto)),
    FieldSpec("fd.sockfamily", S, "Socket family: ip or unix.", _fd(_sockfamily)),
    FieldSpec("fd.connected", FieldType.BOOL, "true when the socket is connected.", _fd(lambda f: f.connected)),
    FieldSpec("fd.name_changed", FieldType.BOOL, "true when the fd's name changed in this event (connect ...).",
              _fd(lambda f: f.name_changed)),
    FieldSpec("fd.is_server", FieldType.BOOL, "true when this process is the server end of the socket.",
              _fd(lambda f: f.is_server or f.servsock)),
    FieldSpec("fd.dev", FieldType.UINT32, "Device number of a file fd.", _fd(lambda f: f.dev)),
    FieldSpec("fd.ino", FieldType.UINT64, "Inode number of a file fd.", _fd(lambda f: f.ino)),
    FieldSpec("fd.cip", IP, "Client IP address.", _conn(lambda f: f.sip)),
    FieldSpec("fd.sip", IP, "Server IP address (a server socket's own).", _serv(lambda f: f.dip, role=True)),
    FieldSpec("fd.lip", IP, "Local IP address.", _conn(_local_ip)),
    FieldSpec("fd.rip", IP, "Remote IP address.", _conn(_remote_ip)),
    FieldSpec("fd.cport", PORT, "Client port.", _conn(lambda f: f.sport)),
    FieldSpec("fd.sport", PORT, "Server port (a server socket's own).", _serv(lambda f: f.dport, role=False)),
    FieldSpec("fd.lport", PORT, "Local port.", _conn(_local_port)),
    FieldSpec("fd.rport", PORT, "Remote port.", _conn(_remote_port)),
    FieldSpec("fd.ip", IP, "Either end's IP address, or a server socket's (filter only).",
              _either(lambda f: (f.sip, f.dip)),
              filter_only=True, multi_without_arg=True),
    FieldSpec("fd.port", PORT, "Either end's port, or a server socket's (filter only).",
              _either(lambda f: (f.sport, f.dport)),
              filter_only=True, multi_without_arg=True),
    FieldSpec("fd.net", NET, "Either end's IP, or a server socket's, matched against a network such as 10.0.0.0/8 "
              "(filter only).", _either(lambda f: (f.sip, f.dip)), filter_only=True, multi_without_arg=True),
    FieldSpec("fd.cnet", NET, "Client IP, matched against a network (filter only).", _conn(lambda f: f.sip),
              filter_only=True),
    FieldSpec("fd.snet", NET, "Server IP, matched against a network (filter only).", _serv(lambda f: f.dip, role=True),
              filter_only=True),
    FieldSpec("fd.lnet", NET, "Local IP, matched against a network (filter only).", _conn(_local_ip),
              filter_only=True),
    FieldSpec("fd.rnet", NET, "Remote IP, matched against a network (filter only).", _conn(_remote_ip),
              filter_only=True),
    FieldSpec("fd.cip.name", S, "Domain name of the client IP (no DNS tracking: always <NA>).", _none),
    FieldSpec("fd.sip.name", S, "Domain name of the server IP (always <NA>).", _none),
    FieldSpec("fd.lip.name", S, "Domain name of the local IP (always <NA>).", _none),
    FieldSpec("fd.rip.name", S, "Domain name of the remote IP (always <NA>).", _none),
)
