"""Event parameters as Falco renders them: the raw text and the resolved text of each ``evt.arg``.

libsinsp renders a parameter as two strings: the raw value (``4097``, ``3``, ``-2``) and, when it knows more,
a resolved one (``O_RDONLY|O_CLOEXEC``, ``<f>/etc/passwd``, ``ENOENT``). ``evt.arg.NAME`` is the resolved text
when there is one, else the raw text; ``evt.args`` prints ``name=raw(resolved)`` for every parameter. The
parameter types and flag tables come from ``syswarden.events.types`` (Falco's event table as data).
"""
from __future__ import annotations

from typing import Any

from syswarden.events import types
from syswarden.events.event import Event, SockAddr, SockTuple
from syswarden.rules.fields import lookups
from syswarden.rules.fields.formatting import printable

_T = types.ParamType
# Parameters libsinsp prints in hex (PF_HEX in its event table; the shared table does not carry display formats).
_HEX_PARAMS = frozenset({"addr", "argument"})
_HEX_BY_EVENT = {("ioctl", "request"), ("brk", "res"), ("ptrace", "data")}
_L4_CHARS = {"tcp": "t", "udp": "u", "icmp": "i", "raw": "r"}
# uint32 parameters libsinsp prints in octal (PF_OCT): the creation mode of open/openat/creat/mkdir...
_OCT_PARAMS = frozenset({"mode"})
# Kernel-internal errnos (include/linux/errno.h) that user space headers, and so Python, do not name.
_KERNEL_ERRNOS = {512: "ERESTARTSYS", 513: "ERESTARTNOINTR", 514: "ERESTARTNOHAND", 515: "ENOIOCTLCMD",
                  516: "ERESTART_RESTARTBLOCK", 517: "EPROBE_DEFER", 518: "EOPENSTALE", 519: "ENOPARAM",
                  521: "EBADHANDLE", 522: "ENOTSYNC", 523: "EBADCOOKIE", 524: "ENOTSUPP", 525: "ETOOSMALL",
                  526: "ESERVERFAULT", 527: "EBADTYPE", 528: "EJUKEBOX", 529: "EIOCBQUEUED", 530: "ERECALLCONFLICT"}


def errno_name(value: int) -> str:
    """The errno name of ``value`` (sign ignored), including the kernel-internal ones; ``""`` if unknown."""
    return types.errno_name(value) or _KERNEL_ERRNOS.get(abs(value), "")


_OPENS = frozenset({"open", "openat", "openat2", "creat", "open_by_handle_at"})


def spec_of(event: Event) -> types.EventSpec | None:
    """The event-table entry of ``event``, or None for names the table does not know."""
    return types.event_spec(event.type, event.dir)


def param_value(event: Event, name: str) -> Any:
    """The raw value of parameter ``name`` (``res`` falls back to ``Event.res``); None when absent."""
    value = event.params.get(name)
    if value is None and name == "res":
        return event.res
    return value


def param_name_at(event: Event, index: int) -> str | None:
    """The name of the ``index``-th parameter of this event (``evt.arg[N]``)."""
    spec = spec_of(event)
    if spec is not None:
        return spec.params[index].name if index < len(spec.params) else None
    names = list(event.params)
    return names[index] if index < len(names) else None


def render(event: Event, name: str, value: Any) -> tuple[str, str]:
    """(raw, resolved) text of one parameter value; resolved is ``""`` when there is nothing more to say."""
    spec = spec_of(event)
    pspec = spec.param(name) if spec is not None else None
    ptype = pspec.type if pspec is not None else None
    if ptype is _T.FD or (ptype is None and name == "fd" and isinstance(value, int)):
        if value == AT_FDCWD and spec is not None and _is_dirfd(spec, name):
            return str(value), "AT_FDCWD"       # a directory fd argument, not -ENETDOWN (as libsinsp prints it)
        return str(value), _resolve_fd(event, value)
    if ptype is _T.ERRNO or (ptype is None and name == "res" and isinstance(value, int)):
        return str(value), (errno_name(value) if value < 0 else "")
    if isinstance(value, int) and (ptype is _T.MODE or (ptype is _T.UINT32 and name in _OCT_PARAMS)):
        resolved = _render_flags(pspec.table, value)[1] if pspec is not None and pspec.table else ""
        return _octal(value), resolved
    if ptype is _T.PID and isinstance(value, int):
        return str(value), _resolve_pid(event, value)
    if ptype in (_T.UID, _T.GID) and isinstance(value, int):
        return str(value), _resolve_id(event, ptype, value)
    if pspec is not None and pspec.table and isinstance(value, int):
        return _render_flags(pspec.table, value)
    if isinstance(value, int) and not isinstance(value, bool) and _is_hex(event.type, name, ptype):
        return f"{value & 0xFFFFFFFFFFFFFFFF:X}", ""
    return _plain(value), ""


AT_FDCWD = -100


def _is_dirfd(spec: types.EventSpec, name: str) -> bool:
    """Whether ``name`` is a directory fd argument of the event: one a path parameter is relative to (openat's
    dirfd, linkat's olddir ...), or open_by_handle_at's mount fd."""
    return name == "mountfd" or any(p.dirfd == name for p in spec.params)


def _octal(value: int) -> str:
    """C's ``%#o``: ``0`` stays ``0``, anything else gets one leading zero (``0644``)."""
    return "0" if value == 0 else f"0{value:o}"


def _is_hex(event_type: str, name: str, ptype: types.ParamType | None) -> bool:
    return (name in _HEX_PARAMS and ptype in (_T.UINT64, None)) or (event_type, name) in _HEX_BY_EVENT


def arg_text(event: Event, name: str) -> str | None:
    """``evt.arg.NAME``: the resolved text if any, else the raw text; None when the event has no such param."""
    value = param_value(event, name)
    if value is None:
        return None
    raw, resolved = render(event, name, value)
    return resolved or raw


def args_text(event: Event) -> str:
    """``evt.args``: ``name=raw(resolved)`` for each parameter, each followed by a space (as libsinsp does)."""
    spec = spec_of(event)
    names = [p.name for p in spec.params] if spec is not None else list(event.params)
    parts = []
    for name in names:
        value = param_value(event, name)
        if value is None:
            continue
        raw, resolved = render(event, name, value)
        parts.append(f"{name}={raw}({resolved})" if resolved else f"{name}={raw}")
    return "".join(f"{part} " for part in parts)


def _render_flags(table_name: str, value: int) -> tuple[str, str]:
    try:
        table = types.flag_table(table_name)
    except KeyError:
        return str(value), ""
    return str(table.to_falco(value)), table.render(value)


def _resolve_fd(event: Event, fd: int) -> str:
    if fd < 0:
        return errno_name(fd)
    thread = event.thread
    info = thread.fds.get(fd) if thread is not None else None
    if info is None and event.fd is not None and event.fd.num == fd:
        info = event.fd
    if info is not None:
        # sockets also name their L4 protocol: <4t> for TCP over IPv4, <6u> for UDP over IPv6
        # only a socket with a peer names its protocol: a fresh or merely bound one is plain <4>
        known = info.type.value in ("4", "6") and (info.connected or bool(info.sip and info.dip))
        l4 = _L4_CHARS.get(info.l4proto, "") if known else ""
        return f"<{info.type.value}{l4}>{info.name}"
    name = event.params.get("name")
    if event.type in _OPENS and fd == event.res and isinstance(name, str):
        # The fd an open returns is the file it opened, even before state has recorded it.
        return f"<f>{name}"
    return ""


def _resolve_pid(event: Event, pid: int) -> str:
    if pid > 0:
        # any thread of the event's own tables (clone's child, ptrace's target), else its ancestors below
        found = lookups.of(event).thread(pid)
        if found is not None:
            return found.comm
    thread = event.thread
    while thread is not None:
        if pid in (thread.tid, thread.pid):
            return thread.comm
        thread = thread.parent
    return ""


def _resolve_id(event: Event, ptype: types.ParamType, value: int) -> str:
    """libsinsp shows a uid/gid parameter with the account's name (``uid=65534(nobody)``)."""
    if value < 0 or value == 0xFFFFFFFF:
        return ""
    if ptype is _T.UID:
        info = lookups.of(event).user(value)
        return info.name if info is not None else ""
    group = lookups.of(event).group(value)
    return group.name if group is not None else ""


def _plain(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return printable(bytes(value))
    if isinstance(value, (list, tuple)):
        # argv/env travel NUL-separated in Falco's events; its renderer shows each NUL as '.'.
        return "".join(f"{item}." for item in value)
    if isinstance(value, SockTuple):
        if value.family in ("AF_UNIX", "AF_LOCAL"):
            # libsinsp: source and destination kernel socket addresses in hex, then the path
            return f"{value.sport:x}->{value.dport:x} {value.dip}"
        return f"{value.sip}:{value.sport}->{value.dip}:{value.dport}"
    if isinstance(value, SockAddr):
        if value.family in ("AF_INET", "AF_INET6"):
            return f"{value.addr}:{value.port}"
        return value.addr
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
