"""Seeding state from /proc: a ``ThreadInfo`` (with its open fds) for every running process.

A live monitor starts with processes that already exist; their identity, credentials, cwd, command line,
container and open files come from ``/proc/PID/{comm,exe,cmdline,environ,cwd,status,stat,loginuid,cgroup,fd}``.
Socket fds are resolved through the process's own network namespace tables (``/proc/PID/net/tcp|tcp6|udp|
udp6|unix|netlink``), read once per namespace. Processes that vanish while being read are skipped.

Credentials follow libsinsp: ``uid``/``gid`` (what Falco shows as ``user.uid``/``group.gid``) and
``euid``/``egid`` are the *effective* ids from the ``Uid:``/``Gid:`` lines.
"""
from __future__ import annotations

import copy
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field

from syswarden.events.event import FdInfo, FdType, ThreadInfo
from syswarden.events.types import O_DIRECTORY
from syswarden.state.containers import parse_cgroup_lines
from syswarden.state.exe_flags import EXE_WRITABLE, exe_flags

PROC = "/proc"
MAX_ENV_BYTES = 32768
_UNSET_ID = 4294967295
_TCP_LISTEN = "0A"
_ANY_ADDRESSES = frozenset({"0.0.0.0", "::"})
_ANON_TYPES = {
    "[eventfd]": FdType.EVENT, "[eventpoll]": FdType.EVENTPOLL, "inotify": FdType.INOTIFY,
    "[signalfd]": FdType.SIGNALFD, "[timerfd]": FdType.TIMERFD, "[userfaultfd]": FdType.USERFAULTFD,
    "[io_uring]": FdType.IO_URING, "[pidfd]": FdType.PIDFD,
}


@dataclass(slots=True)
class NetTables:
    """The sockets of one network namespace by inode, as prototype ``FdInfo``s (num is filled per process)."""

    by_inode: dict[int, FdInfo] = field(default_factory=dict)


def _read(path: str, limit: int = -1) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read(limit)
    except OSError:
        return None


def _text(path: str) -> str | None:
    data = _read(path)
    return data.decode("utf-8", "surrogateescape") if data is not None else None


def _readlink(path: str) -> str | None:
    try:
        return os.readlink(path)
    except OSError:
        return None


# ------------------------------------------------------------------------------------------------ sockets

def _ipv4(hexaddr: str) -> str:
    return socket.inet_ntop(socket.AF_INET, bytes.fromhex(hexaddr)[::-1])


def _ipv6(hexaddr: str) -> str:
    raw = bytes.fromhex(hexaddr)
    return socket.inet_ntop(socket.AF_INET6, b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4)))


def _endpoint(text: str, v6: bool) -> tuple[str, int]:
    host, port = text.split(":")
    return (_ipv6(host) if v6 else _ipv4(host)), int(port, 16)


def _inet_rows(path: str, v6: bool) -> list[tuple[str, int, str, int, str, int]]:
    rows = []
    for line in (_text(path) or "").splitlines()[1:]:
        cols = line.split()
        if len(cols) < 10:
            continue
        (lip, lport), (rip, rport) = _endpoint(cols[1], v6), _endpoint(cols[2], v6)
        rows.append((lip, lport, rip, rport, cols[3], int(cols[9])))
    return rows


def _inet_fd(row: tuple[str, int, str, int, str, int], l4: str, v6: bool, listening: set[int]) -> FdInfo:
    lip, lport, rip, rport, _state, ino = row
    fd = FdInfo(num=-1, type=FdType.IPV6 if v6 else FdType.IPV4, l4proto=l4, sockfamily="ip", ino=ino)
    if rip in _ANY_ADDRESSES:
        # libscap: a socket without a peer address is a server socket; read from /proc it has no role yet
        fd.dip, fd.dport, fd.name, fd.servsock = lip, lport, f"{lip}:{lport}", True
        return fd
    server = l4 == "tcp" and lport in listening
    # Falco names a connection client -> server whichever side holds the fd.
    fd.sip, fd.sport, fd.dip, fd.dport = (rip, rport, lip, lport) if server else (lip, lport, rip, rport)
    fd.name, fd.is_server, fd.connected = f"{fd.sip}:{fd.sport}->{fd.dip}:{fd.dport}", server, True
    return fd


def read_net_tables(net_dir: str) -> NetTables:
    """Every socket of the namespace whose ``/proc/.../net`` directory is ``net_dir``, by inode."""
    tables = NetTables()
    for l4 in ("tcp", "udp"):
        for v6 in (False, True):
            rows = _inet_rows(f"{net_dir}/{l4}{'6' if v6 else ''}", v6)
            listening = {r[1] for r in rows if r[4] == _TCP_LISTEN} if l4 == "tcp" else set()
            for row in rows:
                tables.by_inode[row[5]] = _inet_fd(row, l4, v6, listening)
    for line in (_text(f"{net_dir}/unix") or "").splitlines()[1:]:
        cols = line.split()
        if len(cols) >= 7:
            path = cols[7] if len(cols) > 7 else ""
            tables.by_inode[int(cols[6])] = FdInfo(num=-1, type=FdType.UNIX, name=path, sockfamily="unix",
                                                   ino=int(cols[6]))
    for line in (_text(f"{net_dir}/netlink") or "").splitlines()[1:]:
        cols = line.split()
        if len(cols) >= 10 and cols[-1].isdigit():
            tables.by_inode[int(cols[-1])] = FdInfo(num=-1, type=FdType.NETLINK, ino=int(cols[-1]))
    return tables


class NetCache:
    """Socket tables per network namespace, so a whole-system scan reads each namespace once."""

    def __init__(self, proc: str = PROC) -> None:
        self.proc = proc
        self._by_ns: dict[int, NetTables] = {}

    def for_pid(self, pid: int) -> NetTables:
        try:
            ns = os.stat(f"{self.proc}/{pid}/ns/net").st_ino
        except OSError:
            ns = -1
        if ns not in self._by_ns:
            self._by_ns[ns] = read_net_tables(f"{self.proc}/{pid}/net")
        return self._by_ns[ns]


# ------------------------------------------------------------------------------------------------ fds

def _fd_flags(proc: str, pid: int, num: int) -> int:
    text = _text(f"{proc}/{pid}/fdinfo/{num}") or ""
    for line in text.splitlines():
        if line.startswith("flags:"):
            return int(line.split()[1], 8)
    return 0


def _classify(link: str, num: int, flags: int, net: NetTables) -> FdInfo:
    if link.startswith("/memfd:"):
        return FdInfo(num=num, type=FdType.MEMFD, name=link[1:].removesuffix(" (deleted)"), flags=flags)
    if link.startswith("/"):
        kind = FdType.DIRECTORY if flags & O_DIRECTORY else FdType.FILE
        return FdInfo(num=num, type=kind, name=link, flags=flags)
    if link.startswith("socket:["):
        ino = int(link[8:-1])
        proto = net.by_inode.get(ino)
        if proto is None:
            return FdInfo(num=num, type=FdType.UNKNOWN, name=link, flags=flags, ino=ino)
        fd = copy.copy(proto)
        fd.num, fd.flags = num, flags
        return fd
    if link.startswith("pipe:["):
        return FdInfo(num=num, type=FdType.PIPE, name=link, flags=flags, ino=int(link[6:-1]))
    if link.startswith("anon_inode:"):
        what = link[len("anon_inode:"):]
        kind = FdType.BPF if what.startswith("bpf") else _ANON_TYPES.get(what, FdType.UNKNOWN)
        return FdInfo(num=num, type=kind, name=link, flags=flags)
    return FdInfo(num=num, type=FdType.UNKNOWN, name=link, flags=flags)


def read_fds(pid: int, net: NetTables | None = None, proc: str = PROC) -> dict[int, FdInfo]:
    """The open fds of process ``pid`` (empty if it is gone or not readable)."""
    net = net if net is not None else NetCache(proc).for_pid(pid)
    try:
        names = os.listdir(f"{proc}/{pid}/fd")
    except OSError:
        return {}
    fds: dict[int, FdInfo] = {}
    for name in names:
        link = _readlink(f"{proc}/{pid}/fd/{name}")
        if link is not None:
            num = int(name)
            fds[num] = _classify(link, num, _fd_flags(proc, pid, num), net)
    return fds


# ------------------------------------------------------------------------------------------------ processes

def _status(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        out[key] = value.split()
    return out


def _boot_time_ns(proc: str) -> int:
    for line in (_text(f"{proc}/stat") or "").splitlines():
        if line.startswith("btime "):
            return int(line.split()[1]) * 1_000_000_000
    return 0


def _apply_status(t: ThreadInfo, st: dict[str, list[str]]) -> None:
    if "Uid" in st:
        t.uid = t.euid = int(st["Uid"][1])
    if "Gid" in st:
        t.gid = t.egid = int(st["Gid"][1])
    t.pid = int(st.get("Tgid", [t.pid])[0])
    t.ptid = int(st.get("PPid", [t.ptid])[0])
    t.cap_inheritable = int(st.get("CapInh", ["0"])[0], 16)
    t.cap_permitted = int(st.get("CapPrm", ["0"])[0], 16)
    t.cap_effective = int(st.get("CapEff", ["0"])[0], 16)
    t.vpid = int(st.get("NStgid", [str(t.pid)])[-1])
    t.vtid = int(st.get("NSpid", [str(t.tid)])[-1])


def _apply_stat(t: ThreadInfo, text: str, boot_ns: int) -> None:
    fields = text[text.rfind(")") + 2:].split()
    t.vpgid, t.sid, t.tty = int(fields[2]), int(fields[3]), int(fields[4])
    t.start_ts = boot_ns + int(fields[19]) * 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def _apply_exe(t: ThreadInfo, base: str) -> None:
    link = _readlink(f"{base}/exe") or ""
    t.exe_from_memfd = link.startswith("/memfd:")
    # what libscap's /proc scan computes (memfd, writable), not the overlay layers
    t.exe_writable = bool(exe_flags(t.pid, exec_time=False, proc=base.rsplit("/", 1)[0]) & EXE_WRITABLE)
    t.exepath = link.removesuffix(" (deleted)")
    try:
        st = os.stat(f"{base}/exe")
    except OSError:
        return
    t.exe_ino, t.exe_ino_ctime, t.exe_ino_mtime = st.st_ino, st.st_ctime_ns, st.st_mtime_ns


def _apply_cmdline(t: ThreadInfo, base: str) -> None:
    raw = _read(f"{base}/cmdline") or b""
    argv = [a.decode("utf-8", "surrogateescape") for a in raw.split(b"\0")]
    if argv and argv[-1] == "":
        argv.pop()
    t.exe = argv[0] if argv else t.comm
    t.args = argv[1:]
    env = _read(f"{base}/environ", MAX_ENV_BYTES) or b""
    t.env = [e.decode("utf-8", "surrogateescape") for e in env.split(b"\0") if e]


def read_thread(pid: int, tid: int, *, proc: str = PROC, boot_ns: int | None = None) -> ThreadInfo | None:
    """Identity and credentials of thread ``tid`` of process ``pid`` (no fds), or None if it is gone."""
    base = f"{proc}/{pid}/task/{tid}" if tid != pid else f"{proc}/{pid}"
    status, stat = _text(f"{base}/status"), _text(f"{base}/stat")
    if status is None or stat is None:
        return None
    t = ThreadInfo(tid=tid, pid=pid)
    t.comm = (_text(f"{base}/comm") or "").rstrip("\n")
    _apply_status(t, _status(status))
    _apply_stat(t, stat, _boot_time_ns(proc) if boot_ns is None else boot_ns)
    _apply_exe(t, f"{proc}/{pid}")
    _apply_cmdline(t, f"{proc}/{pid}")
    t.cwd = _readlink(f"{base}/cwd") or ""
    login = (_text(f"{proc}/{pid}/loginuid") or "-1").strip()
    t.loginuid = -1 if login in ("", str(_UNSET_ID)) else int(login)
    ref = parse_cgroup_lines((_text(f"{proc}/{pid}/cgroup") or "").splitlines())
    t.container_id, t.container_runtime = ref.id, ref.runtime
    return t


def read_process(pid: int, *, net: NetCache | None = None, proc: str = PROC) -> ThreadInfo | None:
    """The main thread of process ``pid`` with its open fds, or None if it is gone.

    Args:
        pid: the process id.
        net: a shared ``NetCache`` when reading many processes.
        proc: the procfs mount point.
    """
    t = read_thread(pid, pid, proc=proc)
    if t is None:
        return None
    t.fds = read_fds(pid, (net or NetCache(proc)).for_pid(pid), proc)
    return t


def iter_processes(*, threads: bool = False, proc: str = PROC) -> Iterator[ThreadInfo]:
    """Every process on the system (main threads, with fds); with ``threads``, also every other thread,
    sharing its process's fd dict. Processes that exit during the scan are skipped."""
    net, boot_ns = NetCache(proc), _boot_time_ns(proc)
    for name in sorted(os.listdir(proc), key=lambda n: (len(n), n)):
        if not name.isdigit():
            continue
        pid = int(name)
        main = read_thread(pid, pid, proc=proc, boot_ns=boot_ns)
        if main is None:
            continue
        main.fds = read_fds(pid, net.for_pid(pid), proc)
        yield main
        if threads:
            yield from _other_threads(main, proc, boot_ns)


def scan(*, threads: bool = False, proc: str = PROC) -> Iterator[ThreadInfo]:
    """Alias of ``iter_processes`` (the name ``sources/targets.py`` calls)."""
    return iter_processes(threads=threads, proc=proc)


def _other_threads(main: ThreadInfo, proc: str, boot_ns: int) -> Iterator[ThreadInfo]:
    try:
        tids = [int(t) for t in os.listdir(f"{proc}/{main.pid}/task") if t.isdigit()]
    except OSError:
        return
    for tid in tids:
        if tid == main.pid:
            continue
        t = read_thread(main.pid, tid, proc=proc, boot_ns=boot_ns)
        if t is not None:
            t.fds = main.fds
            yield t


__all__ = ["read_process", "read_thread", "read_fds", "iter_processes", "scan", "read_net_tables", "NetCache",
           "NetTables"]
