"""What a traced run did to files and TCP ports, from the ptrace backend's syscall stops, for ``--landlock``.

Paths are resolved as the kernel resolved them, while the tracee is stopped: an opened file is the target of
``/proc/TID/fd/N`` at the exit of its ``open``; a path argument is joined to the cwd or the dirfd's target at the
entry. An ``execve`` that succeeds grants execute on the program and on every file the new image maps
executable (the ELF interpreter, which the kernel opens without a syscall of its own). A TCP port counts when
the socket is a TCP socket (looked at through ``pidfd_getfd``). Calls that fail are not learned (an open of a
missing file fails with ENOENT under Landlock too: the lookup fails before Landlock is asked).
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field

from syswarden.kernel import ptrace
from syswarden.kernel.pidfd import socket_kind
from syswarden.recorder.recording import Access, Recording, SyscallId

AT_FDCWD = 0xFFFFFF9C          # -100 as the low 32 bits the kernel reads
AT_REMOVEDIR = 0x200
O_ACCMODE, O_WRONLY, O_RDWR, O_CREAT, O_TRUNC = 0o3, 0o1, 0o2, 0o100, 0o1000
AF_INET, AF_INET6, SOCK_STREAM = 2, 10, 1

# name -> (index of the dirfd or None, index of the path) for calls whose path argument is learned at entry
_OPENS = {"open": (None, 0), "creat": (None, 0), "openat": (0, 1), "openat2": (0, 1)}
_EXECS = {"execve": (None, 0), "execveat": (0, 1)}
# name -> ((dirfd index or None, path index, access on the path's parent directory), ...)
_PARENT_OPS: dict[str, tuple[tuple[int | None, int, Access], ...]] = {
    "mkdir": ((None, 0, Access.MAKE_DIR),), "mkdirat": ((0, 1, Access.MAKE_DIR),),
    "rmdir": ((None, 0, Access.REMOVE_DIR),),
    "unlink": ((None, 0, Access.CREATE),), "unlinkat": ((0, 1, Access.CREATE),),
    "rename": ((None, 0, Access.CREATE), (None, 1, Access.CREATE)),
    "renameat": ((0, 1, Access.CREATE), (2, 3, Access.CREATE)),
    "renameat2": ((0, 1, Access.CREATE), (2, 3, Access.CREATE)),
    "link": ((None, 1, Access.CREATE),), "linkat": ((2, 3, Access.CREATE),),
    "symlink": ((None, 1, Access.CREATE),), "symlinkat": ((1, 2, Access.CREATE),),
    "mknod": ((None, 0, Access.CREATE),), "mknodat": ((0, 1, Access.CREATE),),
}
_PORTS = {"bind": "bind", "connect": "connect"}


@dataclass(slots=True)
class _Pending:
    name: str
    args: tuple[int, ...]
    paths: list[tuple[str, Access]] = field(default_factory=list)
    existed: bool = True


@dataclass(slots=True)
class FileTracker:
    """Fed by the ptrace backend (``entry``/``exit`` of every syscall); ``finish`` adds what it learned."""

    files: dict[str, Access] = field(default_factory=dict)
    bind_ports: set[int] = field(default_factory=set)
    connect_ports: set[int] = field(default_factory=set)
    _pending: dict[int, _Pending] = field(default_factory=dict)

    def entry(self, tid: int, sid: SyscallId, args: tuple[int, ...]) -> None:
        name = sid.name
        if name in _OPENS:
            dirfd, index = _OPENS[name]
            path = _resolve(tid, args[dirfd] if dirfd is not None else AT_FDCWD, args[index])
            self._pending[tid] = _Pending(name, args, existed=path is None or os.path.lexists(path))
        elif name in _EXECS:
            dirfd, index = _EXECS[name]
            path = _resolve(tid, args[dirfd] if dirfd is not None else AT_FDCWD, args[index])
            self._pending[tid] = _Pending(name, args, [(path, Access.EXECUTE)] if path else [])
        elif name in _PARENT_OPS:
            pending = _Pending(name, args)
            for dirfd, index, access in _PARENT_OPS[name]:
                if name == "unlinkat" and args[2] & AT_REMOVEDIR:
                    access = Access.REMOVE_DIR
                path = _resolve(tid, args[dirfd] if dirfd is not None else AT_FDCWD, args[index])
                if path:
                    pending.paths.append((os.path.dirname(path) or "/", access))
            self._pending[tid] = pending
        elif name in ("truncate",):
            path = _resolve(tid, AT_FDCWD, args[0])
            self._pending[tid] = _Pending(name, args, [(path, Access.TRUNCATE)] if path else [])
        elif name in ("ftruncate",):
            path = _fd_target(tid, args[0])
            self._pending[tid] = _Pending(name, args, [(path, Access.TRUNCATE)] if path else [])
        elif name in _PORTS:
            self._pending[tid] = _Pending(name, args)
            self._port(tid, name, args)

    def exit(self, tid: int, rval: int) -> None:
        pending = self._pending.pop(tid, None)
        if pending is None or rval < 0:
            return
        if pending.name in _OPENS:
            self._opened(tid, pending, rval)
        elif pending.name in _EXECS:
            for path in _executable_maps(tid):
                self.touch(path, Access.EXECUTE)
            for path, access in pending.paths:
                self.touch(os.path.realpath(path), access)
        else:
            for path, access in pending.paths:
                self.touch(os.path.realpath(path), access)

    def touch(self, path: str, access: Access) -> None:
        self.files[path] = self.files.get(path, Access(0)) | access

    def _opened(self, tid: int, pending: _Pending, fd: int) -> None:
        path = _fd_target(tid, fd)
        if path is None:
            return
        flags = _open_flags(tid, pending)
        mode = flags & O_ACCMODE
        try:
            st_mode = os.stat(path).st_mode
        except OSError:
            st_mode = 0
        if stat.S_ISDIR(st_mode):
            self.touch(path, Access.LIST)
            return
        access = Access.READ if mode != O_WRONLY else Access(0)
        if mode in (O_WRONLY, O_RDWR):
            access |= Access.WRITE
        if flags & O_TRUNC:
            access |= Access.TRUNCATE
        if stat.S_ISCHR(st_mode) or stat.S_ISBLK(st_mode):
            access |= Access.DEVICE
        self.touch(path, access)
        if flags & O_CREAT and not pending.existed:
            self.touch(os.path.dirname(path) or "/", Access.CREATE)

    def _port(self, tid: int, name: str, args: tuple[int, ...]) -> None:
        family, kind = socket_kind(_tgid(tid), args[0] & 0xFFFFFFFF)
        if family not in (AF_INET, AF_INET6) or kind != SOCK_STREAM:
            return
        raw = ptrace.read_memory(tid, args[1], 4)
        if len(raw) == 4 and int.from_bytes(raw[:2], "little") in (AF_INET, AF_INET6):
            (self.bind_ports if name == "bind" else self.connect_ports).add(int.from_bytes(raw[2:4], "big"))

    def finish(self, recording: Recording) -> None:
        """Add what was learned to ``recording``."""
        for path, access in self.files.items():
            recording.touch(path, access)
        recording.bind_ports |= self.bind_ports
        recording.connect_ports |= self.connect_ports


def _open_flags(tid: int, pending: _Pending) -> int:
    name, args = pending.name, pending.args
    if name == "creat":
        return O_CREAT | O_WRONLY | O_TRUNC
    if name == "openat2":
        raw = ptrace.read_memory(tid, args[2], 8)   # struct open_how starts with the u64 flags
        return int.from_bytes(raw, "little") if len(raw) == 8 else 0
    return args[1 if name == "open" else 2] & 0xFFFFFFFF


def _tgid(tid: int) -> int:
    try:
        with open(f"/proc/{tid}/status") as f:
            for line in f:
                if line.startswith("Tgid:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return tid


def _link(path: str) -> str | None:
    try:
        return os.readlink(path)
    except OSError:
        return None


def _fd_target(tid: int, fd: int) -> str | None:
    """The path an fd of the tracee refers to; None for pipes, sockets, anonymous and deleted files."""
    target = _link(f"/proc/{tid}/fd/{fd & 0xFFFFFFFF}")
    if target is None or not target.startswith("/") or target.endswith(" (deleted)"):
        return None
    return target


def _resolve(tid: int, dirfd: int, addr: int) -> str | None:
    """The absolute path a path argument names, from the tracee's cwd or dirfd (symlinks not followed)."""
    raw = ptrace.read_string(tid, addr)
    if not raw:
        return None
    path = os.fsdecode(raw)
    if path.startswith("/"):
        return os.path.normpath(path)
    base = _link(f"/proc/{tid}/cwd") if (dirfd & 0xFFFFFFFF) == AT_FDCWD else _fd_target(tid, dirfd)
    return os.path.normpath(os.path.join(base, path)) if base else None


def _executable_maps(tid: int) -> set[str]:
    """Files the new image maps executable (the program, its ELF interpreter)."""
    out = set()
    try:
        with open(f"/proc/{tid}/maps") as f:
            for line in f:
                parts = line.split(maxsplit=5)
                if len(parts) == 6 and "x" in parts[1] and parts[5].startswith("/"):
                    out.add(parts[5].rstrip("\n"))
    except OSError:
        pass
    return out
