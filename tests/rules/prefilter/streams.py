"""A generator of event streams that make rules fire: for the prefilter's soundness tests.

``EventStream(ruleset, seed).events(n)`` plays a small host: processes with parents, comms and fd tables that
open, read, write, dup, close, chdir, exec, fork and exit, touch files (symlink, rename, unlink, chmod ...), use
sockets and make any other syscall of the event table with typed random parameters. Paths, names and comms are
drawn mostly from what the rules themselves test (their names, prefixes, directories, file names, process names),
mutated (relative, ``..``, ``//``, trailing ``/``, long, non-ASCII), so rules fire often and the kernel's
approximations (non-normal and relative paths, unknown fds) are exercised. ``returns_dir`` is the kernel's
truth the probe would read (whether a successful open returned a directory), for ``Prefilter.view``.
"""
from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from syswarden.events import types as T
from syswarden.events.event import Event, FdInfo, FdType, SockAddr, SockTuple, ThreadInfo
from syswarden.rules.ruleset import Ruleset

from tests.rules.prefilter.vocab import Vocab, vocabulary

AT_FDCWD = -100
BASE_TS = 1_700_000_000_000_000_000
_COMMS = ("bash", "sh", "cat", "python3", "nginx", "sshd", "dpkg", "find", "tar", "grep", "nc", "socat", "vi",
          "systemd", "containerd", "node", "java", "curl", "passwd", "sudo", "cron", "apt", "runc", "mysqld")
_BENIGN = ("/tmp/build/out.o", "/usr/lib/x86_64-linux-gnu/libc.so.6", "/home/u/notes.txt", "/var/cache/x",
           "/proc/self/status", "/dev/null", "/srv/data/file", "/opt/app/config.yml", "/run/lock/x")
_DIRS = ("/", "/etc", "/etc/ssh", "/root", "/root/.ssh", "/home/u", "/tmp", "/var/log", "/usr/bin", "/dev",
         "/dev/shm", "/etc/pam.d", "/etc/sudoers.d", "/var/spool/cron")
_ERRNOS = (-2, -13, -20, -9, -17, -1, -22, -4095)
_WEIGHTS = {"openat": 24, "open": 5, "openat2": 2, "creat": 2, "close": 12, "read": 7, "write": 6, "dup2": 2,
            "dup": 1, "dup3": 1, "fcntl": 2, "fchdir": 1, "chdir": 1, "execve": 3, "clone": 3, "procexit": 2,
            "socket": 2, "connect": 2, "sendto": 1, "recvfrom": 1, "accept": 1, "files": 8, "other": 6}
_FILE_TYPES = ("symlinkat", "symlink", "linkat", "link", "unlinkat", "unlink", "renameat2", "renameat",
               "rename", "mkdirat", "mkdir", "rmdir", "fchmodat", "chmod", "fchmod", "fchownat", "chown",
               "ftruncate")


@dataclass
class Fd:
    """The kernel's truth about one fd: what it names, its kind and whether exec closes it."""

    name: str
    kind: str = "file"                   # file, dir, sock
    cloexec: bool = False


_SOCKET_CALLS = frozenset({"connect", "bind", "listen", "sendto", "sendmsg", "recvfrom", "recvmsg", "accept",
                           "accept4", "getsockopt", "setsockopt", "shutdown", "getsockname", "getpeername"})
ENOTSOCK = -88


@dataclass
class Proc:
    tid: int
    pid: int
    ptid: int
    comm: str
    exepath: str
    args: list[str]
    cwd: str
    uid: int = 0
    fds: dict[int, Fd] = field(default_factory=dict)

    def thread(self, ts: int) -> ThreadInfo:
        return ThreadInfo(tid=self.tid, pid=self.pid, ptid=self.ptid, comm=self.comm, exe=self.exepath,
                          exepath=self.exepath, args=list(self.args), cwd=self.cwd, uid=self.uid, gid=0,
                          loginuid=0, start_ts=ts)


def vocab_for(ruleset: Ruleset) -> Vocab:
    """What the rules test, plus the directories and comms a host has anyway."""
    return vocabulary(ruleset, dirs=_DIRS, comms=_COMMS)


class EventStream:
    """A reproducible stream for one seed (see the module doc)."""

    def __init__(self, ruleset: Ruleset, seed: int, vocab: Vocab | None = None) -> None:
        self.r = random.Random(seed)
        self.v = vocab or vocab_for(ruleset)
        self.num = 0
        self.ts = BASE_TS
        self.is_dir: dict[int, bool] = {}        # evt.num -> whether the open returned a directory
        self.procs: dict[int, Proc] = {}
        self.next_tid = 2000
        init = [Proc(1, 1, 0, "systemd", "/usr/lib/systemd/systemd", [], "/"),
                Proc(500, 500, 1, "sshd", "/usr/sbin/sshd", ["-D"], "/"),
                Proc(600, 600, 500, "bash", "/usr/bin/bash", [], "/root"),
                Proc(700, 700, 1, "containerd", "/usr/bin/containerd", [], "/")]
        for p in init:
            p.fds = {0: Fd("/dev/pts/0"), 1: Fd("/dev/pts/0"), 3: Fd("/etc", "dir")}
            self.procs[p.tid] = p
        self.seeds = [p.thread(BASE_TS - 10**9) for p in init]
        for t in self.seeds:
            t.fds = {n: FdInfo(n, FdType.DIRECTORY if fd.kind == "dir" else FdType.FILE, fd.name)
                     for n, fd in self.procs[t.tid].fds.items()}

    def returns_dir(self, event: Event) -> bool | None:
        return self.is_dir.get(event.num)

    def events(self, count: int) -> Iterator[Event]:
        kinds, weights = list(_WEIGHTS), list(_WEIGHTS.values())
        for _ in range(count):
            kind = self.r.choices(kinds, weights)[0]
            proc = self.r.choice(list(self.procs.values()))
            opens = kind in ("open", "openat", "openat2", "creat")
            event = self._open_like(kind, proc) if opens else getattr(self, "_" + kind)(proc)
            if event is not None:
                yield event

    # -- values ----------------------------------------------------------------------------------------
    def path(self) -> str:
        r, v = self.r, self.v
        roll = r.random()
        if roll < 0.3 and v.names:
            base = r.choice(v.names)
        elif roll < 0.5 and v.prefixes:
            base = r.choice(v.prefixes) + r.choice(("x", "a/b", "", ".ssh/id_rsa", "shadow"))
        elif roll < 0.65:
            suffix = r.choice(v.suffixes) if v.suffixes and r.random() < 0.7 else "/f"
            base = r.choice(v.dirs).rstrip("/") + (suffix if suffix.startswith("/") else "/" + suffix)
        else:
            base = r.choice(_BENIGN)
        return self.mutate(base)

    def mutate(self, path: str) -> str:
        r = self.r
        roll = r.random()
        if roll < 0.70 or not path.startswith("/"):
            return path
        if roll < 0.76:
            return path.lstrip("/")                                        # relative to /
        if roll < 0.80:
            return "../.." + path                                          # relative with ..
        if roll < 0.84:
            return path.replace("/", "//", 1)
        if roll < 0.87:
            return path + "/"
        if roll < 0.90:
            parent = path.rsplit("/", 1)[0] or "/"
            return parent + "/../" + parent.rsplit("/", 1)[-1] + "/" + path.rsplit("/", 1)[-1]
        if roll < 0.93:
            return path + "/" + "d" * r.choice((300, 5000))
        if roll < 0.96:
            return path + "/.../x"
        return path + "/\u00e9\udcff"

    def comm(self) -> str:
        return self.r.choice(self.v.comms if self.r.random() < 0.6 else list(_COMMS))[:15]

    def flags(self) -> int:
        r = self.r
        flags = r.choice((0, 1, 2, 0, 0, 3))
        for bit, p in ((T.O_CREAT, 0.25), (T.O_TRUNC, 0.2), (T.O_CLOEXEC, 0.5), (T.O_DIRECTORY, 0.1),
                       (0o2000, 0.1), (0o4000, 0.1), (0o400000, 0.05), (0o10000000, 0.03), (0o20000000, 0.02),
                       (0o4010000, 0.05), (0o10000, 0.05), (0o200, 0.1), (0o100000, 0.05), (0o40000, 0.03)):
            if r.random() < p:
                flags |= bit
        return flags

    # -- events ----------------------------------------------------------------------------------------
    def emit(self, etype: str, proc: Proc, params: dict[str, Any], res: int | None, dir: str = "<") -> Event:
        self.num += 1
        self.ts += self.r.randint(1, 10_000)
        return Event(self.num, self.ts, etype, proc.tid, params, dir=dir, res=res, pid=proc.pid)

    def _result(self, proc: Proc, ok: float = 0.8) -> int:
        if self.r.random() > ok:
            return self.r.choice(_ERRNOS)
        num = 0
        while num in proc.fds:
            num += 1
        return num

    def _open_like(self, etype: str, proc: Proc) -> Event:
        r = self.r
        name, flags = self.path(), self.flags()
        res = self._result(proc)
        is_dir = res >= 0 and (bool(flags & T.O_DIRECTORY) or name.rstrip("/") in _DIRS or r.random() < 0.15)
        params: dict[str, Any] = {"fd": res, "name": name, "flags": flags, "mode": r.choice((0o644, 0o755, 0)),
                                  "dev": 0, "ino": 0}
        if etype in ("openat", "openat2"):
            params["dirfd"] = self._dirfd(proc)
        if etype == "creat":
            params = {"fd": res, "name": name, "mode": 0o644, "dev": 0, "ino": 0, "creat_flags": 0}
            is_dir = False
        if etype == "openat2":
            params["resolve"] = 0
        event = self.emit(etype, proc, params, res)
        if res >= 0:
            proc.fds[res] = Fd(name, "dir" if is_dir else "file", bool(flags & T.O_CLOEXEC) and etype != "creat")
        self.is_dir[event.num] = is_dir
        return event

    def _dirfd(self, proc: Proc) -> int:
        dirs = [n for n, fd in proc.fds.items() if fd.kind == "dir"]
        return self.r.choice(dirs) if dirs and self.r.random() < 0.3 else AT_FDCWD

    def _some_fd(self, proc: Proc) -> int:
        if proc.fds and self.r.random() < 0.9:
            return self.r.choice(list(proc.fds))
        return self.r.randint(0, 40)

    def _close(self, proc: Proc) -> Event:
        fd = self._some_fd(proc)
        res = 0 if fd in proc.fds else -9
        proc.fds.pop(fd, None)
        return self.emit("close", proc, {"fd": fd}, res)

    def data(self, filler: bytes) -> bytes:
        """An I/O buffer: mostly filler, often holding what a buffer rule looks for."""
        if self.v.buffers and self.r.random() < 0.4:
            return filler * self.r.randint(0, 2) + self.r.choice(self.v.buffers) + filler
        return filler * 8

    def _io(self, etype: str, proc: Proc, filler: bytes) -> Event:
        fd = self._some_fd(proc)
        data = self.data(filler)
        ok = fd in proc.fds
        return self.emit(etype, proc, {"fd": fd, "size": 64, "data": data if ok else b""}, len(data) if ok else -9)

    def _read(self, proc: Proc) -> Event:
        return self._io(self.r.choice(("read", "pread", "readv")), proc, b"x")

    def _write(self, proc: Proc) -> Event:
        return self._io(self.r.choice(("write", "pwrite", "writev")), proc, b"y")

    def _recvfrom(self, proc: Proc) -> Event:
        fd = self._some_fd(proc)
        data = self.data(b"r")
        res = len(data) if self._is_socket(proc, fd) else ENOTSOCK
        return self.emit("recvfrom", proc, {"res": res, "data": data if res > 0 else b"", "fd": fd, "size": 64,
                                            "tuple": self._tuple() if res > 0 else None}, res)

    def _dup_like(self, etype: str, proc: Proc) -> Event:
        old = self._some_fd(proc)
        free = self._result(proc, ok=1.0)
        new = free if etype == "dup" else self.r.choice((0, 1, 2, free))      # dup takes the lowest free fd
        res = new if old in proc.fds else -9
        if etype == "dup":
            params: dict[str, Any] = {"res": res, "oldfd": old}
        else:
            params = {"res": res, "oldfd": old, "newfd": new}
            if etype == "dup3":
                params["flags"] = self.r.choice((0, T.O_CLOEXEC))
        if res >= 0 and res != old:
            cloexec = etype == "dup3" and bool(params.get("flags"))
            proc.fds[res] = Fd(proc.fds[old].name, proc.fds[old].kind, cloexec)
        return self.emit(etype, proc, params, res)

    def _dup2(self, proc: Proc) -> Event:
        return self._dup_like("dup2", proc)

    def _dup(self, proc: Proc) -> Event:
        return self._dup_like("dup", proc)

    def _dup3(self, proc: Proc) -> Event:
        return self._dup_like("dup3", proc)

    def _fcntl(self, proc: Proc) -> Event:
        fd, cmd = self._some_fd(proc), self.r.choice((0, 1030, 1, 2, 4))
        res = (self._result(proc, ok=1.0) if cmd in (0, 1030) else 0) if fd in proc.fds else -9
        if cmd in (0, 1030) and res >= 0:
            proc.fds[res] = Fd(proc.fds[fd].name, proc.fds[fd].kind, cmd == 1030)
        return self.emit("fcntl", proc, {"res": res, "fd": fd, "cmd": cmd, "arg": 0}, res)

    def _fchdir(self, proc: Proc) -> Event:
        fd = self._some_fd(proc)
        ok = fd in proc.fds and proc.fds[fd].kind == "dir"
        return self.emit("fchdir", proc, {"res": 0 if ok else -20, "fd": fd}, 0 if ok else -20)

    def _chdir(self, proc: Proc) -> Event:
        path = self.r.choice(self.v.dirs)
        return self.emit("chdir", proc, {"res": 0, "path": path}, 0)

    def _execve(self, proc: Proc) -> Event | None:
        if proc.tid != proc.pid:
            return None           # an exec in a thread makes it the leader and kills the others: not modelled
        r = self.r
        comm = self.comm()
        exepath = r.choice(("/usr/bin/", "/bin/", "/dev/shm/", "/tmp/", "/usr/sbin/")) + comm
        args = r.choice(([], ["-c", "cat /etc/shadow"], ["-r", "BEGIN RSA PRIVATE", "/home"], ["-e", "x"]))
        res = 0 if r.random() < 0.9 else -2
        if res == 0:
            proc.comm, proc.exepath, proc.args = comm, exepath, list(args)
            for num in [n for n, fd in proc.fds.items() if fd.cloexec]:
                del proc.fds[num]
            for tid in [t for t, other in self.procs.items() if other.pid == proc.pid and t != proc.tid]:
                del self.procs[tid]                   # exec kills the other threads (state removes them too)
            proc.fds = dict(proc.fds)                 # and unshares the fd table
        params = {"res": res, "exe": exepath, "args": args, "tid": proc.tid, "pid": proc.pid, "ptid": proc.ptid,
                  "cwd": proc.cwd, "comm": comm, "env": ["PATH=/usr/bin"], "tty": r.choice((0, 34816)),
                  "loginuid": 0, "flags": r.choice((0, 1, 4)), "uid": proc.uid, "gid": 0, "filename": exepath,
                  "trusted_exepath": exepath, "cap_inheritable": 0, "cap_permitted": 0, "cap_effective": 0}
        return self.emit("execve", proc, params, res)

    def _clone(self, proc: Proc) -> Event | None:
        if len(self.procs) > 40:
            return self._procexit(proc)
        tid = self.next_tid = self.next_tid + 1
        thread = self.r.random() < 0.2
        flags = 0x10000 | 0x400 if thread else 0
        child = Proc(tid, proc.pid if thread else tid, proc.ptid if thread else proc.pid, proc.comm,
                     proc.exepath, list(proc.args), proc.cwd, proc.uid,
                     proc.fds if thread else {n: Fd(fd.name, fd.kind, fd.cloexec) for n, fd in proc.fds.items()})
        self.procs[tid] = child
        params = {"res": tid, "exe": proc.exepath, "args": proc.args, "tid": proc.tid, "pid": proc.pid,
                  "ptid": proc.ptid, "cwd": proc.cwd, "comm": proc.comm, "flags": flags, "uid": proc.uid, "gid": 0}
        return self.emit("clone", proc, params, tid)

    def _procexit(self, proc: Proc) -> Event | None:
        if proc.tid in (1, 500, 600, 700):
            return None
        del self.procs[proc.tid]
        return self.emit("procexit", proc, {"status": 0, "ret": 0, "sig": 0, "core": 0}, None, dir=">")

    def _socket(self, proc: Proc) -> Event:
        res = self._result(proc, ok=0.95)
        if res >= 0:
            proc.fds[res] = Fd("", "sock")
        return self.emit("socket", proc, {"fd": res, "domain": self.r.choice((2, 10, 1)), "type": 1, "proto": 0},
                         res)

    def _tuple(self) -> SockTuple:
        r = self.r
        return SockTuple("AF_INET", "10.0.0.2", r.randint(30000, 60000), r.choice(("1.2.3.4", "127.0.0.1")),
                         r.choice((22, 80, 443, 3333, 6443, 4444)))

    def _is_socket(self, proc: Proc, fd: int) -> bool:
        return fd in proc.fds and proc.fds[fd].kind == "sock"

    def _connect(self, proc: Proc) -> Event:
        fd, tup = self._some_fd(proc), self._tuple()
        res = self.r.choice((0, 0, -115, -111)) if self._is_socket(proc, fd) else ENOTSOCK
        return self.emit("connect", proc, {"res": res, "tuple": tup if res != ENOTSOCK else None, "fd": fd,
                                           "addr": SockAddr("AF_INET", tup.dip, tup.dport)}, res)

    def _sendto(self, proc: Proc) -> Event:
        fd = self._some_fd(proc)
        res = 8 if self._is_socket(proc, fd) else ENOTSOCK
        return self.emit("sendto", proc, {"res": res, "data": self.data(b"z"), "fd": fd, "size": 8,
                                          "tuple": self._tuple() if res > 0 else None}, res)

    def _accept(self, proc: Proc) -> Event:
        res = self._result(proc, ok=0.9)
        if res >= 0:
            proc.fds[res] = Fd("", "sock")
        return self.emit("accept", proc, {"fd": res, "tuple": self._tuple(), "queuepct": 0, "queuelen": 0,
                                          "queuemax": 0}, res)

    def _files(self, proc: Proc) -> Event | None:
        return self._generic(self.r.choice(_FILE_TYPES), proc)

    def _other(self, proc: Proc) -> Event | None:
        names = sorted({n for n, d in T.EVENTS if d == "<"} - set(_WEIGHTS) - {"procexit", "execveat"})
        return self._generic(self.r.choice(names), proc)

    def _generic(self, etype: str, proc: Proc) -> Event | None:
        spec = T.event_spec(etype, "<")
        if spec is None:
            return None
        res = 0 if self.r.random() < 0.8 else self.r.choice(_ERRNOS)
        params = {p.name: self._value(p, proc, res) for p in spec.params}
        if etype in _SOCKET_CALLS and isinstance(params.get("fd"), int) and not self._is_socket(proc, params["fd"]):
            res = ENOTSOCK
            params = {k: (res if k == "res" else v) for k, v in params.items()}
        if "res" in params and isinstance(params["res"], int):
            res = params["res"]
        return self.emit(etype, proc, params, res)

    def _value(self, p: T.ParamSpec, proc: Proc, res: int) -> Any:
        r, pt = self.r, p.type
        if p.name == "res":
            return res
        if pt is T.ParamType.FD:
            if p.name in ("dirfd", "olddirfd", "newdirfd", "linkdirfd", "olddir", "newdir"):
                return self._dirfd(proc)
            return self._some_fd(proc)
        if pt in (T.ParamType.FSPATH, T.ParamType.FSRELPATH) or p.name in ("target", "linkpath"):
            return self.path()
        if pt is T.ParamType.CHARBUF:
            return r.choice((self.comm(), self.path(), ""))
        if pt is T.ParamType.BYTEBUF:
            return b"\x00abc"
        if pt is T.ParamType.SOCKTUPLE:
            return self._tuple()
        if pt is T.ParamType.SOCKADDR:
            return SockAddr("AF_INET", "1.2.3.4", 80)
        if pt is T.ParamType.MODE or (p.table and pt.is_flags):
            table = T.FLAG_TABLES.get(p.table or "")
            values = [e.linux if e.linux is not None else e.falco for e in table.entries] if table else [0]
            out = 0
            for value in r.sample(values, min(len(values), r.randint(0, 3))):
                out |= value
            return out | (r.choice((0, 0o4755, 0o755)) if pt is T.ParamType.MODE else 0)
        if pt in (T.ParamType.UID, T.ParamType.GID):
            return r.choice((0, 1000, 65534))
        if pt is T.ParamType.PID:
            return r.choice(list(self.procs))
        if pt is T.ParamType.DYN:
            return r.randint(0, 100)
        return r.randint(0, 1 << 16)


__all__ = ["EventStream", "vocab_for"]
