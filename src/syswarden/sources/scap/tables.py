"""The tables a capture carries before its events: process list (V1..V9), fd lists and the user list.

``blocks`` splits the file into blocks; this module reads the bodies of the metadata blocks into plain records
(libscap's ``scap_threadinfo`` and ``scap_fdinfo`` as written on disk; users and groups straight into the shared
``UserInfo``/``GroupInfo`` of ``events/accounts.py``). Each process-list version only ever appended fields, and
V9/FDL-V2/UL-V2 entries carry their own length, so a field is read only when the entry leaves room for it;
``reader`` turns the records into ``ThreadInfo``/``FdInfo``.
"""
from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

from syswarden.errors import CaptureError
from syswarden.events.accounts import GroupInfo, UserInfo
from syswarden.sources.scap.blocks import PL_VERSION, Block, BlockType

@dataclass(slots=True)
class ProcRecord:
    """One process-list entry (libscap's ``scap_threadinfo`` as written on disk)."""

    tid: int
    pid: int
    ptid: int
    comm: str
    exe: str
    args: list[str]
    cwd: str
    fdlimit: int
    flags: int
    uid: int
    gid: int
    sid: int = -1
    vpgid: int = -1
    exepath: str = ""
    env: list[str] = field(default_factory=list)
    vtid: int = -1
    vpid: int = -1
    cgroups: list[str] = field(default_factory=list)
    root: str = ""
    pidns_init_start_ts: int = 0
    tty: int = 0
    loginuid: int = 0xFFFFFFFF
    exe_writable: bool = False
    cap_inheritable: int = 0
    cap_permitted: int = 0
    cap_effective: int = 0
    exe_upper_layer: bool = False
    exe_ino: int = 0
    exe_ino_ctime: int = 0
    exe_ino_mtime: int = 0
    exe_from_memfd: bool = False
    exe_lower_layer: bool = False


@dataclass(frozen=True, slots=True)
class FdRecord:
    """One fd-list entry. ``kind`` is libscap's ``scap_fd_type`` number; address fields are raw."""

    tid: int
    fd: int
    ino: int
    kind: int
    name: str = ""
    flags: int = 0
    dev: int = 0
    sip: bytes = b""
    dip: bytes = b""
    sport: int = 0
    dport: int = 0
    l4proto: int = 0
    unix_source: int = 0
    unix_dest: int = 0


_STRUCTS: dict[str, struct.Struct] = {}


class _Cursor:
    """Sequential little-endian reads in one block body; running past the end raises CaptureError."""

    __slots__ = ("buf", "pos", "block", "name")

    def __init__(self, block: Block, name: str, pos: int = 0) -> None:
        self.buf = block.body
        self.pos = pos
        self.block = block
        self.name = name

    def take(self, fmt: str) -> int:
        unpacker = _STRUCTS.get(fmt) or _STRUCTS.setdefault(fmt, struct.Struct(fmt))
        size = unpacker.size
        if self.pos + size > len(self.buf):
            self.fail(f"entry runs past the end of the block (need {size} bytes at body offset {self.pos})")
        (value,) = unpacker.unpack_from(self.buf, self.pos)
        self.pos += size
        return int(value)

    def raw(self, size: int) -> bytes:
        if self.pos + size > len(self.buf):
            self.fail(f"entry runs past the end of the block (need {size} bytes at body offset {self.pos})")
        out = bytes(self.buf[self.pos: self.pos + size])
        self.pos += size
        return out

    def string(self) -> str:
        return _text(self.raw(self.take("<H")))

    def strings(self) -> list[str]:
        return split_nul(self.raw(self.take("<H")))

    def left(self) -> int:
        return len(self.buf) - self.pos

    def fail(self, what: str) -> None:
        raise CaptureError(f"{self.name}: corrupt block 0x{self.block.type:x} at byte offset "
                           f"{self.block.offset}: {what}")


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def split_nul(raw: bytes) -> list[str]:
    """A NUL-separated string list (argv, env, cgroups) as libscap stores it."""
    if not raw:
        return []
    if raw.endswith(b"\0"):
        raw = raw[:-1]
    return [p.decode("utf-8", "replace") for p in raw.split(b"\0")]


def parse_proclist(block: Block, name: str) -> Iterator[ProcRecord]:
    """Every entry of a process-list block, whatever its version, one at a time (a block may hold a great many
    entries: the caller keeps what it needs, never the whole list)."""
    version = PL_VERSION[BlockType(block.type)]
    cur = _Cursor(block, name)
    while cur.left() >= 4:
        yield _proc_entry(cur, version)


def _proc_entry(cur: _Cursor, v: int) -> ProcRecord:
    start = cur.pos
    sub_len = cur.take("<I") if v >= 9 else 0
    tid, pid, ptid = cur.take("<q"), cur.take("<q"), cur.take("<q")
    sid = cur.take("<q") if v >= 6 else -1
    vpgid = cur.take("<q") if v >= 8 else -1
    comm, exe = cur.string(), cur.string()
    exepath = cur.string() if v >= 7 else ""
    args = cur.strings()
    cwd = cur.string()
    rec = ProcRecord(tid, pid, ptid, comm, exe, args, cwd, cur.take("<Q"), cur.take("<I"),
                     cur.take("<I"), cur.take("<I"), sid=sid, vpgid=vpgid, exepath=exepath)
    if v >= 2:
        cur.raw(3 * 4 + 2 * 8)          # vmsize, vmrss, vmswap, pfmajor, pfminor: not modelled
    if v >= 3:
        rec.env = cur.strings()
    if v >= 4:
        rec.vtid, rec.vpid = cur.take("<q"), cur.take("<q")
        rec.cgroups = cur.strings()
    if v >= 5:
        rec.root = cur.string()
    if sub_len:
        _proc_tail(cur, rec, start + sub_len)
        if cur.pos > start + sub_len:
            cur.fail(f"process entry longer than its length {sub_len}")
        cur.pos = start + sub_len
    return rec


def _proc_tail(cur: _Cursor, rec: ProcRecord, end: int) -> None:
    """Fields appended after V9 was frozen: present only when the entry's length leaves room for them."""

    def fits(size: int) -> bool:
        return cur.pos + size <= end

    # libs 0.10 inserted pidns_init_start_ts and tty before loginuid; older writers end within 29 bytes
    if end - cur.pos > 29:
        if fits(8):
            rec.pidns_init_start_ts = cur.take("<Q")
        if fits(4):
            rec.tty = cur.take("<I")
    for attr, fmt in (("loginuid", "<I"), ("exe_writable", "<B"), ("cap_inheritable", "<Q"),
                      ("cap_permitted", "<Q"), ("cap_effective", "<Q"), ("exe_upper_layer", "<B"),
                      ("exe_ino", "<Q"), ("exe_ino_ctime", "<Q"), ("exe_ino_mtime", "<Q"),
                      ("exe_from_memfd", "<B"), ("exe_lower_layer", "<B")):
        if not fits(struct.calcsize(fmt)):
            return
        value = cur.take(fmt)
        setattr(rec, attr, bool(value) if fmt == "<B" else value)


# scap_fd_type kinds whose payload is just a name
_NAME_ONLY_FD_KINDS = frozenset({1, 2, 7, 9, 10, 11, 12, 13, 14, 15, 17, 18, 19, 20, 21})


def parse_fdlist(block: Block, name: str) -> Iterator[FdRecord]:
    """Every fd entry of one thread's fd-list block, one at a time."""
    cur = _Cursor(block, name)
    tid = cur.take("<q")
    v2 = block.type == BlockType.FDL_V2
    while cur.left() >= 4:
        yield _fd_entry(cur, tid, v2)


def _fd_entry(cur: _Cursor, tid: int, v2: bool) -> FdRecord:
    start = cur.pos
    sub_len = cur.take("<I") if v2 else 0
    fd, ino, kind = cur.take("<q"), cur.take("<Q"), cur.take("<B")
    rec = _fd_payload(cur, tid, fd, ino, kind, start + sub_len if sub_len else 0)
    if sub_len:
        if cur.pos > start + sub_len:
            cur.fail(f"fd entry longer than its length {sub_len}")
        cur.pos = start + sub_len
    return rec


def _fd_payload(cur: _Cursor, tid: int, fd: int, ino: int, kind: int, end: int) -> FdRecord:
    if kind in (3, 4):     # IPv4 / IPv6 socket
        size = 4 if kind == 3 else 16
        sip, dip = cur.raw(size), cur.raw(size)
        sport, dport, proto = cur.take("<H"), cur.take("<H"), cur.take("<B")
        return FdRecord(tid, fd, ino, kind, sip=sip, dip=dip, sport=sport, dport=dport, l4proto=proto)
    if kind in (5, 6):     # IPv4 / IPv6 server socket
        ip, port, proto = cur.raw(4 if kind == 5 else 16), cur.take("<H"), cur.take("<B")
        return FdRecord(tid, fd, ino, kind, sip=ip, sport=port, l4proto=proto)
    if kind == 8:      # unix socket
        src, dst = cur.take("<Q"), cur.take("<Q")
        return FdRecord(tid, fd, ino, kind, name=cur.string(), unix_source=src, unix_dest=dst)
    if kind == 16:     # file with open flags (and, when room is left, the device)
        flags = cur.take("<I")
        fname = cur.string()
        dev = cur.take("<I") if end and cur.pos + 4 <= end else 0
        return FdRecord(tid, fd, ino, kind, name=fname, flags=flags, dev=dev)
    if kind in _NAME_ONLY_FD_KINDS:
        return FdRecord(tid, fd, ino, kind, name=cur.string())
    return FdRecord(tid, fd, ino, 10, name=f"unknown-type:[{kind}]")


def parse_userlist(block: Block, name: str) -> Iterator[UserInfo | GroupInfo]:
    """Users and groups of a user-list block (the shared account model: events/accounts.py), one at a time."""
    cur = _Cursor(block, name)
    v2 = block.type == BlockType.UL_V2
    while cur.left() >= 4:
        start = cur.pos
        sub_len = cur.take("<I") if v2 else 0
        if cur.take("<B") == 0:        # USERBLOCK_TYPE_USER
            uid, gid = cur.take("<I"), cur.take("<I")
            uname, home, shell = cur.string(), cur.string(), cur.string()
            yield UserInfo(uid, uname, home, shell, gid)
        else:
            gid = cur.take("<I")
            yield GroupInfo(gid, cur.string())
        if sub_len:
            if cur.pos > start + sub_len:
                cur.fail(f"user entry longer than its length {sub_len}")
            cur.pos = start + sub_len
