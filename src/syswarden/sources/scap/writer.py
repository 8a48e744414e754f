"""``ScapWriter``: syswarden events and thread tables written as a scap capture that sysdig and Falco can read.

The file is what ``sysdig -w`` writes, in the layout old readers understand too: a section header (1.2), machine
info, one process-list block (V9 entries ending with the capabilities, the pre-libs-0.10 tail every reader
accepts), one fd-list block per thread, then one event block per event. Each event uses the libs event code
sysdig 0.29 knows for its name and only the parameters that code had then, so ``sysdig -r`` 0.29 reads, prints
and filters the file. Flags go back to Falco's ``PPM_*`` encoding on the way out.

Modern sources give exit events only. Older readers take an exit event's fd from the preceding *enter* event, so
by default each exit event is preceded by a synthesized enter event flagged ``SCAP_DF_STATE_ONLY``: it feeds their
state and is never shown to users (sysdig hides it, and ``ScapSource`` marks it state-only).
"""
from __future__ import annotations

import gzip
import io
import ipaddress
import socket
import struct
import time
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from typing import IO, Any, TypeVar, cast

from syswarden.errors import OutputError
from syswarden.events.accounts import GroupInfo, UserInfo, host_group, host_user
from syswarden.events.event import Event, FdInfo, FdType, ThreadInfo
from syswarden.events.types import FLAG_TABLES, FlagTable, event_spec
from syswarden.sources.scap import blocks as B
from syswarden.sources.scap import event_codes as EC
from syswarden.sources.scap.reader import GENERIC_NAME, syscall_names

# fd kinds newer than sysdig 0.29's reader (bpf, userfaultfd, io_uring, memfd, pidfd: "wrong fd type") are written
# as SCAP_FD_UNSUPPORTED (10) with their name, which every reader accepts
_FD_KIND_OF = {
    FdType.FILE: 16, FdType.DIRECTORY: 2, FdType.PIPE: 7, FdType.UNIX: 8, FdType.EVENT: 9, FdType.SIGNALFD: 11,
    FdType.EVENTPOLL: 12, FdType.INOTIFY: 13, FdType.TIMERFD: 14, FdType.NETLINK: 15, FdType.BPF: 10,
    FdType.USERFAULTFD: 10, FdType.IO_URING: 10, FdType.MEMFD: 10, FdType.PIDFD: 10, FdType.UNKNOWN: 10,
}
_L4_CODES = {v: k for k, v in EC.L4_PROTOS.items() if v}


@cache
def _candidates(name: str, direction: str) -> tuple[EC.EventCode, ...]:
    """Codes sysdig 0.29 knows for an event, fewest parameters first (newest code on ties)."""
    found = [c for c in EC.table().values()
             if c.name == name and c.dir == direction and c.compat_nparams is not None and not c.large]
    return tuple(sorted(found, key=lambda c: (c.compat_nparams or 0, -c.code)))


def code_for(name: str, direction: str, keys: frozenset[str] = frozenset()) -> EC.EventCode | None:
    """The code to write: the version with the fewest parameters that still holds the event's ``keys``.

    Readers take the parameter count of a code for granted (sysdig 0.29 crashes on an execve exit shorter than
    its code's layout), so an old event keeps an old code and a modern one gets the richest code known. Versions
    may rename parameters (``container`` went from id/name/image to one json), hence the match by name.
    """
    found = _candidates(name, direction)
    if not found:
        return None
    known = keys & frozenset(p for c in found for p, _ in c.params[: c.compat_nparams])
    best = max(found, key=lambda c: (len(known & set(p for p, _ in c.params[: c.compat_nparams])), c.code))
    for c in found:
        if known <= set(p for p, _ in c.params[: c.compat_nparams]):
            return c
    return best


def _present(code: EC.EventCode, params: dict[str, Any], has_res: bool) -> int:
    """How many leading parameters of ``code`` the event has (the last one it has ends the list)."""
    idx = [i + 1 for i, (pname, _) in enumerate(code.params[: code.compat_nparams]) if pname in params]
    return max(idx + [1 if has_res and code.dir == "<" else 0])


@cache
def _syscall_ids() -> dict[str, int]:
    return {name: num for num, name in syscall_names().items() if num < 334}


@cache
def _falco_tables(name: str, direction: str) -> dict[str, FlagTable]:
    spec = event_spec(name, direction)
    if spec is None:
        return {}
    return {p.name: FLAG_TABLES[p.table] for p in spec.params
            if p.table and p.table in FLAG_TABLES and FLAG_TABLES[p.table].has_linux}


class ScapWriter:
    """Write a capture: ``write_threads`` (optional, first), then ``write_event`` for each event, then ``close``."""

    def __init__(self, target: str | IO[bytes], *, hostname: str | None = None, compress: bool | None = None,
                 legacy_enter: bool = True) -> None:
        self.path = target if isinstance(target, str) else getattr(target, "name", "<stream>")
        if compress is None:
            compress = isinstance(target, str) and target.endswith(".gz")
        try:
            raw: IO[bytes] = open(target, "wb") if isinstance(target, str) else target
        except OSError as exc:
            raise OutputError(f"{target}: cannot write capture: {exc.strerror or exc}") from exc
        self._owned = isinstance(target, str)
        self._raw = raw
        self._out: IO[bytes] = cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="wb")) if compress else raw
        self.hostname = hostname if hostname is not None else socket.gethostname()
        self.legacy_enter = legacy_enter
        self.events_written = 0
        self.skipped = 0
        self._header_done = False

    # -- blocks -------------------------------------------------------------------------------------------

    def _block(self, btype: int, body: bytes) -> None:
        pad = (-len(body)) % 4
        total = 12 + len(body) + pad
        try:
            self._out.write(struct.pack("<II", btype, total) + body + b"\0" * pad + struct.pack("<I", total))
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot write capture: {exc.strerror or exc}") from exc

    def _header(self, threads: list[ThreadInfo], users: Mapping[int, UserInfo] | None = None,
                groups: Mapping[int, GroupInfo] | None = None, interfaces: tuple[int, bytes] | None = None) -> None:
        self._block(B.BlockType.SHB, struct.pack("<IHHq", B.SHB_MAGIC, 1, 2, -1))
        host = self.hostname.encode()[:127].ljust(128, b"\0")
        boot = time.time_ns() - time.monotonic_ns()
        self._block(B.BlockType.MI, struct.pack("<IQQ", 1, 0, 4194304) + host + struct.pack("<QQQQ", boot, 0, 0, 0))
        if interfaces is not None:
            self._block(interfaces[0], interfaces[1])
        users = users if users is not None else _host_accounts(threads, "uid", host_user)
        groups = groups if groups is not None else _host_accounts(threads, "gid", host_group)
        self._block(B.BlockType.UL, b"".join(_user_entry(users[uid]) for uid in sorted(users))
                    + b"".join(_group_entry(groups[gid]) for gid in sorted(groups)))
        self._block(B.BlockType.PL_V9, b"".join(_proc_entry(t) for t in threads))
        for t in threads:
            entries = b"".join(_fd_entry(fd) for fd in t.fds.values() if fd.type in _FD_KIND_OF or
                               fd.type in (FdType.IPV4, FdType.IPV6))
            if entries:
                self._block(B.BlockType.FDL_V2, struct.pack("<q", _s64(t.tid)) + entries)
        self._header_done = True

    def write_threads(self, threads: Iterable[ThreadInfo], *, users: Mapping[int, UserInfo] | None = None,
                      groups: Mapping[int, GroupInfo] | None = None,
                      interfaces: tuple[int, bytes] | None = None) -> None:
        """Write the file header with this thread table (call once, before the first event).

        ``users``/``groups`` are the accounts by id, as ``ScapSource.meta`` keeps them (default: this system's
        accounts for the threads' ids); ``interfaces`` is a raw interface-list block ``(type, body)`` as
        ``ScapSource.meta.interfaces`` keeps it.
        """
        if self._header_done:
            raise OutputError(f"{self.path}: the thread table must be written before the first event")
        self._header(list(threads), users, groups, interfaces)

    def write_event(self, event: Event) -> None:
        """Append one event (and, for exit events, its synthesized state-only enter event)."""
        if not self._header_done:
            self._header([])
        name, extra = event.type, {}
        # an event read from a generic record (it has the syscall "ID") stays generic
        code = None if "ID" in event.params else code_for(name, event.dir, frozenset(event.params))
        if code is None and name not in _syscall_ids() and name != "<unknown>":
            self.skipped += 1     # an event sysdig 0.29 cannot represent (e.g. memfd_create)
            return
        if code is None:
            extra = {"ID": _syscall_ids().get(name, 0), "nativeID": 0, **{k: v for k, v in event.params.items()
                                                                           if k in ("ID", "nativeID")}}
            code = EC.table()[0 if event.dir == ">" else 1]
            name = GENERIC_NAME
        params = {**event.params, **extra}
        if self.legacy_enter and event.dir == "<":
            enter = EC.table().get(code.code - 1)
            if enter is not None and enter.name == code.name:
                self._event(enter, name, ">", event, params, B.SCAP_DF_STATE_ONLY, ts=event.ts)
        self._event(code, name, event.dir, event, params, B.SCAP_DF_STATE_ONLY if event.state_only else 0,
                    ts=event.ts)
        self.events_written += 1

    def _event(self, code: EC.EventCode, name: str, direction: str, event: Event, params: dict[str, Any],
               flags: int, ts: int) -> None:
        tables = _falco_tables(event.type, direction)
        layout = code.params[: code.compat_nparams]
        present = _present(code, params, direction == "<" and event.res is not None)
        if direction == ">" or present == 0:
            # an enter event stops after its last parameter: an old one without parameters stays so, and readers
            # then take values from the exit event rather than from empty placeholders; an exit event without any
            # parameter (old drivers' mprotect) stays empty rather than claiming success
            layout = layout[:present]
        values = []
        for i, (pname, wire) in enumerate(layout):
            value = params.get(pname)
            if value is None and i == 0 and direction == "<" and event.res is not None:
                value = event.res
            if pname in tables and isinstance(value, int):
                value = tables[pname].to_falco(value)
            values.append(EC.encode_value(wire, value))
        lens = struct.pack("<%dH" % len(values), *(min(len(v), 0xFFFF) for v in values))
        data = b"".join(v[:0xFFFF] for v in values)
        length = 26 + len(lens) + len(data)
        hdr = struct.pack("<QQIHI", _u64(ts), _u64(event.tid), length, code.code, len(values))
        if flags:
            self._block(B.BlockType.EVF_V2, struct.pack("<HI", event.cpu & 0xFFFF, flags) + hdr + lens + data)
        else:
            self._block(B.BlockType.EV_V2, struct.pack("<H", event.cpu & 0xFFFF) + hdr + lens + data)

    def close(self) -> None:
        if not self._header_done:
            self._header([])
        try:
            if self._out is not self._raw:
                self._out.close()
            if self._owned:
                self._raw.close()
            else:
                self._raw.flush()
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot write capture: {exc.strerror or exc}") from exc

    def __enter__(self) -> "ScapWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_A = TypeVar("_A", UserInfo, GroupInfo)


def _host_accounts(threads: list[ThreadInfo], kind: str, lookup: Callable[[int], _A | None]) -> dict[int, _A]:
    """This system's account for each distinct uid (or gid) of the threads that has one."""
    out: dict[int, _A] = {}
    for t in threads:
        ident = getattr(t, kind)
        if ident >= 0 and ident not in out:
            found = lookup(ident)
            if found is not None:
                out[ident] = found
    return out


def _user_entry(user: UserInfo) -> bytes:
    gid = _u32(user.gid) if user.gid >= 0 else 0       # nobody reported the primary group: write 0
    # sysdig 0.29 refuses the file when homedir or shell is as long as a path ("invalid user homedir len")
    return (struct.pack("<BII", 0, _u32(user.uid), gid) + _str16(user.name, _MAX_NAME)
            + _str16(user.homedir, _MAX_NAME) + _str16(user.shell, _MAX_NAME))


def _group_entry(group: GroupInfo) -> bytes:
    return struct.pack("<BI", 1, _u32(group.gid)) + _str16(group.name, _MAX_NAME)


# libscap refuses a whole file ("invalid exelen 4095") when one table string is longer than its buffer
# (scap_limits.h: paths 1024 bytes, args, env and cgroups 4096); a process with a long argv[0] on the
# recording machine must not make the capture unreadable, so table strings are cut below those sizes.
_MAX_PATH = 1023
_MAX_LIST = 4095
_MAX_NAME = 255     # MAX_CREDENTIALS_STR_LEN, for user and group names, home directories and shells


def _str16(text: str, limit: int = _MAX_PATH) -> bytes:
    raw = text.encode("utf-8", "replace")[:limit]
    return struct.pack("<H", len(raw)) + raw


def _list16(items: list[str]) -> bytes:
    raw = b"".join(i.encode("utf-8", "replace") + b"\0" for i in items)[:_MAX_LIST]
    return struct.pack("<H", len(raw)) + raw


def _u32(value: int) -> int:
    return value & 0xFFFFFFFF


def _s64(value: int) -> int:
    return EC.fit(value, "<q")


def _u64(value: int) -> int:
    return value & 0xFFFFFFFFFFFFFFFF


def _proc_entry(t: ThreadInfo) -> bytes:
    body = io.BytesIO()
    body.write(struct.pack("<qqqqq", *map(_s64, (t.tid, t.pid, t.ptid, t.sid, t.vpgid))))
    body.write(_str16(t.comm) + _str16(t.exe) + _str16(t.exepath) + _list16(t.args) + _str16(t.cwd))
    body.write(struct.pack("<QIII", 1024, 0, _u32(t.uid), _u32(t.gid)))
    body.write(struct.pack("<IIIQQ", 0, 0, 0, 0, 0))
    body.write(_list16(t.env))
    body.write(struct.pack("<qq", _s64(t.vtid or t.tid), _s64(t.vpid or t.pid)))
    body.write(_list16([]) + _str16("/"))
    # the tail every reader knows: loginuid, exe_writable and the three capability sets (29 bytes)
    body.write(struct.pack("<IBQQQ", _u32(t.loginuid), int(bool(t.exe_writable)), _u64(t.cap_inheritable),
                           _u64(t.cap_permitted), _u64(t.cap_effective)))
    data = body.getvalue()
    return struct.pack("<I", len(data) + 4) + data


def _ip_bytes(text: str, size: int) -> bytes:
    try:
        return ipaddress.ip_address(text).packed.rjust(size, b"\0")[:size]
    except ValueError:
        return b"\0" * size


def _fd_entry(fd: FdInfo) -> bytes:
    if fd.type in (FdType.IPV4, FdType.IPV6):
        size = 4 if fd.type is FdType.IPV4 else 16
        proto = _L4_CODES.get(fd.l4proto, 0)
        if fd.servsock:
            kind = 5 if size == 4 else 6
            payload = _ip_bytes(fd.dip, size) + struct.pack("<HB", fd.dport & 0xFFFF, proto)
        else:
            kind = 3 if size == 4 else 4
            payload = (_ip_bytes(fd.sip, size) + _ip_bytes(fd.dip, size)
                       + struct.pack("<HHB", fd.sport & 0xFFFF, fd.dport & 0xFFFF, proto))
    elif fd.type is FdType.FILE:
        kind = 16
        flags = FLAG_TABLES["file_flags"].to_falco(fd.flags) if "file_flags" in FLAG_TABLES else fd.flags
        payload = struct.pack("<I", _u32(flags)) + _str16(fd.name) + struct.pack("<I", _u32(fd.dev))
    elif fd.type is FdType.UNIX:
        kind = 8
        payload = struct.pack("<QQ", _hex(fd.sip), _hex(fd.dip)) + _str16(fd.name)
    else:
        kind = _FD_KIND_OF[fd.type]
        payload = _str16(fd.name)
    body = struct.pack("<qQB", _s64(fd.num), _u64(fd.ino), kind) + payload
    return struct.pack("<I", len(body) + 4) + body


def _hex(text: str) -> int:
    try:
        return int(text, 16) & 0xFFFFFFFFFFFFFFFF
    except ValueError:
        return 0
