"""Raw syscall -> Falco event: which arguments of each captured syscall are read from the caller's memory,
and how the raw values become the Falco parameters of ``events/types.py`` (names and order of the exit event).

Shared by the live sources: the eBPF probe receives the argument kinds through its ``syscalls`` map (so the C
code stays generic) and returns the bytes it read as blobs; the ptrace tracer reads the same kinds with
``process_vm_readv``. Both then call ``build_params`` on a ``RawCall``. Values follow the event model: ints for
fds/flags/ids (Linux values), ``str`` for paths, ``list[str]`` for argv/env, ``SockAddr``/``SockTuple``.
"""
from __future__ import annotations

import enum
import ipaddress
import socket
import struct
from dataclasses import dataclass, field
from collections.abc import Callable
from functools import cache
from typing import Any

from syswarden.events.event import SockAddr, SockTuple


class ArgKind(enum.IntEnum):
    """How to read one argument (mirrors the K_* constants of ``ebpf/probe.h``)."""

    NONE = 0
    STR = 1            # user string (path, name)
    BYTES = 2          # user bytes, length in the next argument (sockaddr, open_how)
    SOCKADDR_OUT = 3   # user sockaddr, int* length in the next argument, read at exit
    U64 = 4            # 8 bytes at a user pointer (clone3 flags, pipe fds)
    STRARR = 5         # user char*[] (argv of a failed execve)
    MSGHDR = 6         # user msghdr: its msg_name sockaddr
    FDSOCK = 7         # socket endpoints of an fd, read from the kernel (or /proc for ptrace)


class BufferKind(enum.IntEnum):
    """Where a call's I/O buffer (its ``data`` parameter) is (mirrors BUF_* of ``ebpf/probe.h``). The pointer is
    argument 1 of every such call; Falco's rule for how much is read: a call that filled the buffer gives
    ``min(ret, snaplen)`` bytes when ``ret > 0`` (none otherwise), one that sent it ``min(ret > 0 ? ret : size,
    snaplen)``."""

    NONE = 0
    IN = 1             # read, pread, recvfrom: the buffer, its size in argument 2
    OUT = 2            # write, pwrite, sendto
    IOV_IN = 3         # readv, preadv: a struct iovec array, its count in argument 2
    IOV_OUT = 4        # writev, pwritev
    MSG_IN = 5         # recvmsg: a struct msghdr, its msg_iov/msg_iovlen
    MSG_OUT = 6        # sendmsg


SPEC_INTERESTING = 1 << 31
SPEC_RET_FDSOCK = 1 << 30
RET_SLOT = 6
DATA_SLOT = 7          # RawCall.blobs key of the I/O buffer (the probe sends it as the extra blob XF_DATA)
DEFAULT_SNAPLEN = 80   # bytes of each I/O buffer captured, as Falco (-S/--snaplen)
MAX_SNAPLEN = 16384    # the cap: one record is assembled in the probe's 64 KiB per-CPU area (Falco's is 65000)
MAX_IOVECS = 16        # iovec entries read for a vectored call (Falco reads up to 1024)


@dataclass(frozen=True, slots=True)
class CallSpec:
    """One syscall: argument kinds by position, whether the return value is a socket fd, Falco params."""

    name: str
    kinds: dict[int, ArgKind]
    params: tuple[tuple[str, str], ...]   # (param name, recipe); recipes are decoded by ``_value``
    ret_fdsock: bool = False
    buffer: BufferKind = BufferKind.NONE  # the I/O buffer the ``data`` recipe shows, read when a rule needs it

    @property
    def word(self) -> int:
        """The spec word the probe reads: 4 bits per argument kind, plus flags."""
        w = SPEC_INTERESTING | (SPEC_RET_FDSOCK if self.ret_fdsock else 0)
        for i, kind in self.kinds.items():
            w |= int(kind) << (4 * i)
        return w

    def blob_slots(self) -> tuple[int, ...]:
        """The argument slots that produce a blob, in record order."""
        return _blob_slots(self.name)


@dataclass(slots=True)
class RawCall:
    """One finished syscall as a live source saw it, before Falco's parameters are built."""

    name: str
    tid: int
    pid: int
    ret: int
    args: tuple[int, ...]
    blobs: dict[int, bytes] = field(default_factory=dict)   # slot -> bytes read for that argument


S, K, B, A, U, V, M, F = (ArgKind.STR, ArgKind.SOCKADDR_OUT, ArgKind.BYTES, ArgKind.STRARR, ArgKind.U64,
                          ArgKind.NONE, ArgKind.MSGHDR, ArgKind.FDSOCK)
_OPEN_TAIL = (("dev", "0"), ("ino", "0"))
_PROC = (("exe", "''"), ("args", "[]"), ("tid", "tid"), ("pid", "pid"), ("ptid", "0"), ("cwd", "''"),
         ("fdlimit", "0"), ("pgft_maj", "0"), ("pgft_min", "0"), ("vm_size", "0"), ("vm_rss", "0"),
         ("vm_swap", "0"), ("comm", "''"), ("cgroups", "[]"))


def _spec(name: str, kinds: dict[int, ArgKind], *params: tuple[str, str], ret_fdsock: bool = False,
          buffer: BufferKind = BufferKind.NONE) -> CallSpec:
    return CallSpec(name, kinds, params, ret_fdsock, buffer)


_BI, _BO, _VI, _VO, _MI, _MO = (BufferKind.IN, BufferKind.OUT, BufferKind.IOV_IN, BufferKind.IOV_OUT,
                                BufferKind.MSG_IN, BufferKind.MSG_OUT)


_CLONE_TAIL = (("flags", "u0"), ("uid", "0"), ("gid", "0"), ("vtid", "0"), ("vpid", "0"), ("pidns_init_start_ts", "0"))

SPECS: dict[str, CallSpec] = {s.name: s for s in (
    _spec("open", {0: S}, ("fd", "ret"), ("name", "s0"), ("flags", "w1"), ("mode", "w2"), *_OPEN_TAIL),
    _spec("openat", {1: S}, ("fd", "ret"), ("dirfd", "i0"), ("name", "s1"), ("flags", "w2"), ("mode", "w3"),
          *_OPEN_TAIL),
    _spec("openat2", {1: S, 2: B}, ("fd", "ret"), ("dirfd", "i0"), ("name", "s1"), ("flags", "how0"),
          ("mode", "how1"), ("resolve", "how2"), *_OPEN_TAIL),
    _spec("creat", {0: S}, ("fd", "ret"), ("name", "s0"), ("mode", "w1"), *_OPEN_TAIL, ("creat_flags", "0")),
    _spec("close", {}, ("res", "ret"), ("fd", "i0")),
    _spec("execve", {0: S, 1: A}, ("res", "ret"), ("exe", "exe"), ("args", "argv"), ("tid", "tid"),
          ("pid", "pid"), ("filename", "s0")),
    _spec("execveat", {1: S, 2: A}, ("res", "ret"), ("exe", "exe"), ("args", "argv"), ("tid", "tid"),
          ("pid", "pid")),
    _spec("clone", {}, ("res", "ret"), *_PROC, *_CLONE_TAIL),
    _spec("clone3", {0: U}, ("res", "ret"), *_PROC, ("flags", "b0"), *_CLONE_TAIL[1:]),
    _spec("fork", {}, ("res", "ret"), *_PROC, ("flags", "0"), *_CLONE_TAIL[1:]),
    _spec("vfork", {}, ("res", "ret"), *_PROC, ("flags", "0"), *_CLONE_TAIL[1:]),
    _spec("socket", {}, ("fd", "ret"), ("domain", "i0"), ("type", "w1"), ("proto", "w2"), ("flags", "0")),
    _spec("bind", {1: B}, ("res", "ret"), ("addr", "addr1"), ("fd", "i0")),
    _spec("connect", {0: F, 1: B}, ("res", "ret"), ("tuple", "tuple_out"), ("fd", "i0"), ("addr", "addr1")),
    _spec("accept", {}, ("fd", "ret"), ("tuple", "tuple_in"), ("queuepct", "0"), ("queuelen", "0"),
          ("queuemax", "0"), ret_fdsock=True),
    _spec("accept4", {}, ("fd", "ret"), ("tuple", "tuple_in"), ("queuepct", "0"), ("queuelen", "0"),
          ("queuemax", "0"), ("flags", "i3"), ret_fdsock=True),
    _spec("listen", {}, ("res", "ret"), ("fd", "i0"), ("backlog", "i1")),
    _spec("sendto", {0: F, 4: B}, ("res", "ret"), ("data", "data"), ("fd", "i0"), ("size", "w2"),
          ("tuple", "tuple_out4"), buffer=_BO),
    _spec("sendmsg", {0: F, 1: M}, ("res", "ret"), ("data", "data"), ("fd", "i0"), ("size", "rsize"),
          ("tuple", "tuple_out1"), buffer=_MO),
    _spec("recvfrom", {0: F, 4: K}, ("res", "ret"), ("data", "data"), ("tuple", "tuple_in4"), ("fd", "i0"),
          ("size", "w2"), buffer=_BI),
    _spec("recvmsg", {0: F}, ("res", "ret"), ("size", "rsize"), ("data", "data"), ("tuple", "tuple_in"),
          ("msgcontrol", "b''"), ("fd", "i0"), buffer=_MI),
    _spec("read", {}, ("res", "ret"), ("data", "data"), ("fd", "i0"), ("size", "w2"), buffer=_BI),
    _spec("write", {}, ("res", "ret"), ("data", "data"), ("fd", "i0"), ("size", "w2"), buffer=_BO),
    _spec("pread", {}, ("res", "ret"), ("data", "data"), ("fd", "i0"), ("size", "w2"), ("pos", "u3"),
          buffer=_BI),
    _spec("pwrite", {}, ("res", "ret"), ("data", "data"), ("fd", "i0"), ("size", "w2"), ("pos", "u3"),
          buffer=_BO),
    _spec("readv", {}, ("res", "ret"), ("size", "rsize"), ("data", "data"), ("fd", "i0"), buffer=_VI),
    _spec("writev", {}, ("res", "ret"), ("data", "data"), ("fd", "i0"), ("size", "rsize"), buffer=_VO),
    _spec("preadv", {}, ("res", "ret"), ("size", "rsize"), ("data", "data"), ("fd", "i0"), ("pos", "u3"),
          buffer=_VI),
    _spec("pwritev", {}, ("res", "ret"), ("data", "data"), ("fd", "i0"), ("size", "rsize"), ("pos", "u3"),
          buffer=_VO),
    _spec("rename", {0: S, 1: S}, ("res", "ret"), ("oldpath", "s0"), ("newpath", "s1")),
    _spec("renameat", {1: S, 3: S}, ("res", "ret"), ("olddirfd", "i0"), ("oldpath", "s1"), ("newdirfd", "i2"),
          ("newpath", "s3")),
    _spec("renameat2", {1: S, 3: S}, ("res", "ret"), ("olddirfd", "i0"), ("oldpath", "s1"), ("newdirfd", "i2"),
          ("newpath", "s3"), ("flags", "w4")),
    _spec("unlink", {0: S}, ("res", "ret"), ("path", "s0")),
    _spec("unlinkat", {1: S}, ("res", "ret"), ("dirfd", "i0"), ("name", "s1"), ("flags", "w2")),
    _spec("link", {0: S, 1: S}, ("res", "ret"), ("oldpath", "s0"), ("newpath", "s1")),
    _spec("linkat", {1: S, 3: S}, ("res", "ret"), ("olddir", "i0"), ("oldpath", "s1"), ("newdir", "i2"),
          ("newpath", "s3"), ("flags", "w4")),
    _spec("symlink", {0: S, 1: S}, ("res", "ret"), ("target", "s0"), ("linkpath", "s1")),
    _spec("symlinkat", {0: S, 2: S}, ("res", "ret"), ("target", "s0"), ("linkdirfd", "i1"), ("linkpath", "s2")),
    _spec("mkdir", {0: S}, ("res", "ret"), ("path", "s0"), ("mode", "w1")),
    _spec("mkdirat", {1: S}, ("res", "ret"), ("dirfd", "i0"), ("path", "s1"), ("mode", "w2")),
    _spec("rmdir", {0: S}, ("res", "ret"), ("path", "s0")),
    _spec("chmod", {0: S}, ("res", "ret"), ("filename", "s0"), ("mode", "w1")),
    _spec("fchmod", {}, ("res", "ret"), ("fd", "i0"), ("mode", "w1")),
    _spec("fchmodat", {1: S}, ("res", "ret"), ("dirfd", "i0"), ("filename", "s1"), ("mode", "w2")),
    _spec("ptrace", {}, ("res", "ret"), ("addr", "u2"), ("data", "u3"), ("request", "w0"), ("pid", "i1")),
    _spec("setuid", {}, ("res", "ret"), ("uid", "w0")),
    _spec("setgid", {}, ("res", "ret"), ("gid", "w0")),
    _spec("setresuid", {}, ("res", "ret"), ("ruid", "w0"), ("euid", "w1"), ("suid", "w2")),
    _spec("setresgid", {}, ("res", "ret"), ("rgid", "w0"), ("egid", "w1"), ("sgid", "w2")),
    _spec("setreuid", {}, ("res", "ret"), ("ruid", "w0"), ("euid", "w1")),
    _spec("setregid", {}, ("res", "ret"), ("rgid", "w0"), ("egid", "w1")),
    _spec("mount", {0: S, 1: S, 2: S}, ("res", "ret"), ("dev", "s0"), ("dir", "s1"), ("type", "s2"), ("flags", "w3")),
    _spec("umount2", {0: S}, ("res", "ret"), ("name", "s0"), ("flags", "w1")),
    _spec("unshare", {}, ("res", "ret"), ("flags", "w0")),
    _spec("setns", {}, ("res", "ret"), ("fd", "i0"), ("nstype", "w1")),
    _spec("init_module", {2: S}, ("res", "ret"), ("img", "b''"), ("length", "u1"), ("uargs", "s2")),
    _spec("finit_module", {1: S}, ("res", "ret"), ("fd", "i0"), ("uargs", "s1"), ("flags", "w2")),
    _spec("delete_module", {0: S}, ("res", "ret"), ("name", "s0"), ("flags", "w1")),
    _spec("memfd_create", {0: S}, ("fd", "ret"), ("name", "s0"), ("flags", "w1")),
    _spec("bpf", {}, ("fd", "ret"), ("cmd", "i0")),
    _spec("dup", {}, ("res", "ret"), ("oldfd", "i0")),
    _spec("dup2", {}, ("res", "ret"), ("oldfd", "i0"), ("newfd", "i1")),
    _spec("dup3", {}, ("res", "ret"), ("oldfd", "i0"), ("newfd", "i1"), ("flags", "w2")),
    _spec("chdir", {0: S}, ("res", "ret"), ("path", "s0")),
    _spec("fchdir", {}, ("res", "ret"), ("fd", "i0")),
    _spec("chroot", {0: S}, ("res", "ret"), ("path", "s0")),
    _spec("pipe", {0: U}, ("res", "ret"), ("fd1", "fdpair0"), ("fd2", "fdpair0+"), ("ino", "0")),
    _spec("pipe2", {0: U}, ("res", "ret"), ("fd1", "fdpair0"), ("fd2", "fdpair0+"), ("ino", "0"), ("flags", "w1")),
    _spec("socketpair", {3: U}, ("res", "ret"), ("fd1", "fdpair3"), ("fd2", "fdpair3+"), ("source", "0"),
          ("peer", "0"), ("domain", "i0"), ("type", "w1"), ("proto", "w2")),
    _spec("userfaultfd", {}, ("res", "ret"), ("flags", "w0")),
    _spec("fcntl", {}, ("res", "ret"), ("fd", "i0"), ("cmd", "i1"), ("arg", "u2")),
    _spec("setsid", {}, ("res", "ret")),
    _spec("prctl", {}, ("res", "ret"), ("option", "i0"), ("arg2_str", "''"), ("arg2_int", "u1")),
)}

def io_length(kind: BufferKind, ret: int, size: int, snaplen: int) -> int:
    """How many bytes of a call's I/O buffer are captured (the probe's put_iobuf does the same): what the call
    transferred, or for a failed send its ``size`` argument (unknown for a vectored one: the iovecs bound it),
    at most ``snaplen``."""
    if kind in (BufferKind.IN, BufferKind.IOV_IN, BufferKind.MSG_IN):
        want = ret if ret > 0 else 0
    elif ret > 0:
        want = ret
    else:
        want = size if kind is BufferKind.OUT else snaplen
    return max(0, min(want, snaplen, MAX_SNAPLEN))


@cache
def _blob_slots(name: str) -> tuple[int, ...]:
    spec = SPECS[name]
    slots = [i for i in range(6) if spec.kinds.get(i, ArgKind.NONE)]
    return tuple(slots + ([RET_SLOT] if spec.ret_fdsock else []))


# Events the scheduler tracepoints produce (not syscalls): always captured for state.
SCHED_EVENTS = frozenset({"procexit"})


def _i32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def _cstr(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def split_strings(raw: bytes) -> list[str]:
    """NUL-separated strings (argv/env areas) as a list, without the trailing empty one."""
    parts = raw.split(b"\0")
    if parts and parts[-1] == b"":
        parts.pop()
    return [p.decode("utf-8", "surrogateescape") for p in parts]


def parse_sockaddr(raw: bytes) -> SockAddr | None:
    """A ``struct sockaddr`` as read from user memory (family, address text, port)."""
    if len(raw) < 2:
        return None
    fam = struct.unpack_from("<H", raw)[0]
    if fam == socket.AF_INET and len(raw) >= 8:
        port, addr = struct.unpack_from(">H4s", raw, 2)
        return SockAddr("AF_INET", socket.inet_ntop(socket.AF_INET, addr), port)
    if fam == socket.AF_INET6 and len(raw) >= 24:
        port = struct.unpack_from(">H", raw, 2)[0]
        return SockAddr("AF_INET6", socket.inet_ntop(socket.AF_INET6, raw[8:24]), port)
    if fam == socket.AF_UNIX:
        path = raw[2:]
        text = "@" + _cstr(path[1:]) if path[:1] == b"\0" and len(path) > 1 else _cstr(path)
        return SockAddr("AF_UNIX", text, 0)
    return SockAddr(_family_name(fam), "", 0)


def _family_name(fam: int) -> str:
    try:
        return socket.AddressFamily(fam).name
    except ValueError:
        return f"AF_{fam}"


_L4 = {socket.SOCK_STREAM: "tcp", socket.SOCK_DGRAM: "udp", socket.SOCK_RAW: "raw"}
_ENDPOINTS = struct.Struct("<HHHH16s16s")


@dataclass(frozen=True, slots=True)
class Endpoints:
    """A socket's family, L4 protocol and both ends, as the kernel (or /proc) knows them."""

    family: str
    l4proto: str
    laddr: str
    lport: int
    raddr: str
    rport: int


def parse_endpoints(raw: bytes) -> Endpoints | None:
    """The probe's ``struct sock_endpoints`` blob."""
    if len(raw) < _ENDPOINTS.size:
        return None
    fam, typ, lport, rport, la, ra = _ENDPOINTS.unpack_from(raw)
    if fam == socket.AF_INET:
        laddr, raddr = str(ipaddress.IPv4Address(la[:4])), str(ipaddress.IPv4Address(ra[:4]))
    elif fam == socket.AF_INET6:
        laddr, raddr = socket.inet_ntop(socket.AF_INET6, la), socket.inet_ntop(socket.AF_INET6, ra)
    elif fam == 0:
        return None
    else:
        laddr = raddr = ""
    return Endpoints(_family_name(fam), _L4.get(typ, "unknown"), laddr, lport, raddr, rport)


def _tuple(ep: Endpoints | None, peer: SockAddr | None, outbound: bool) -> SockTuple | None:
    """Falco's tuple: client -> server. Outbound calls are local -> peer; inbound ones peer -> local."""
    if ep is None and peer is None:
        return None
    family = ep.family if ep else peer.family if peer else ""
    l4 = ep.l4proto if ep else "udp"
    local = (ep.laddr, ep.lport) if ep else ("", 0)
    remote = (ep.raddr, ep.rport) if ep and ep.rport else (peer.addr, peer.port) if peer else ("", 0)
    if family == "AF_UNIX":
        l4 = "unix"
    src, dst = (local, remote) if outbound else (remote, local)
    return SockTuple(family, src[0], src[1], dst[0], dst[1], l4)


Getter = Callable[[RawCall], Any]
_CONSTANTS: dict[str, Any] = {"0": 0, "''": "", "b''": b""}


def _getter(recipe: str, call_name: str) -> Getter:
    """Compile one recipe of ``CallSpec.params`` into a function of the finished call (done once per syscall,
    so decoding an event is a few dict lookups and calls, not string parsing)."""
    if recipe == "ret":
        return lambda c: c.ret
    if recipe == "tid":
        return lambda c: c.tid
    if recipe == "pid":
        return lambda c: c.pid
    if recipe in _CONSTANTS:
        const = _CONSTANTS[recipe]
        return lambda c: const
    if recipe == "[]":
        return lambda c: []
    if recipe == "data":
        return lambda c: c.blobs.get(DATA_SLOT, b"")
    if recipe == "rsize":
        # bytes transferred (Falco's size of readv/recvmsg; of writev/sendmsg it sums the iovec lengths,
        # which equals this when the call completes)
        return lambda c: c.ret if c.ret > 0 else 0
    if recipe in ("exe", "argv"):
        slot = 2 if call_name == "execveat" else 1
        if recipe == "exe":
            return lambda c: next(iter(split_strings(c.blobs.get(slot, b""))), "")
        return lambda c: split_strings(c.blobs.get(slot, b""))[1:]
    kind = recipe.rstrip("0123456789+")
    idx = recipe[len(kind):]
    n = int(idx.rstrip("+")) if idx.rstrip("+") else 0
    simple: dict[str, Getter] = {
        "i": lambda c: _i32(c.args[n]),
        "w": lambda c: c.args[n] & 0xFFFFFFFF,
        "u": lambda c: c.args[n],
        "s": lambda c: _cstr(c.blobs.get(n, b"")),
        "b": lambda c: struct.unpack("<Q", c.blobs[n][:8].ljust(8, b"\0"))[0] if n in c.blobs else 0,
        "how": lambda c: struct.unpack_from("<Q", c.blobs.get(2, b"").ljust(24, b"\0"), 8 * n)[0],
        "addr": lambda c: parse_sockaddr(c.blobs.get(n, b"")),
    }
    if kind in simple:
        return simple[kind]
    if kind == "fdpair":
        off = 4 if idx.endswith("+") else 0
        return lambda c: (_i32(struct.unpack_from("<I", c.blobs.get(n, b"").ljust(8, b"\0"), off)[0])
                          if c.ret >= 0 else -1)
    if kind.startswith("tuple_"):
        ep_slot = RET_SLOT if kind == "tuple_in" and call_name.startswith("accept") else 0
        peer_slot = n if idx else (1 if call_name == "connect" else -1)
        outbound = kind == "tuple_out"
        return lambda c: _tuple(parse_endpoints(c.blobs.get(ep_slot, b"")),
                                parse_sockaddr(c.blobs.get(peer_slot, b"")) if peer_slot >= 0 else None, outbound)
    raise ValueError(f"unknown parameter recipe {recipe!r}")


@cache
def _compiled(name: str) -> tuple[tuple[str, Getter], ...]:
    return tuple((param, _getter(recipe, name)) for param, recipe in SPECS[name].params)


def build_params(call: RawCall) -> dict[str, Any]:
    """Falco's exit-event parameters for ``call`` (in the event table's order)."""
    return {name: get(call) for name, get in _compiled(call.name)}


def syscall_names_for(event_types: frozenset[str] | None) -> list[str]:
    """The captured syscalls for a set of wanted event names (None = everything we can decode)."""
    if event_types is None:
        return sorted(SPECS)
    return sorted(n for n in event_types if n in SPECS)
