"""ptrace syscall stops -> ``Event``: read the argument kinds of ``syscall_decode`` from the tracee with
``process_vm_readv``, socket endpoints from ``/proc/PID/net``, and an exec's new image from ``/proc/PID``.
"""
from __future__ import annotations

import os
import socket
import struct
import time
from typing import Any

from syswarden.events.event import Event
from syswarden.kernel import ptrace
from syswarden.events.types import ABI_PARAM
from syswarden.sources.compat import ABI_LABELS, Abi, uses_32bit_pointers
from syswarden.sources.targets import proc_cgroups
from syswarden.sources.syscall_decode import (DATA_SLOT, MAX_IOVECS, RET_SLOT, SPECS, ArgKind, BufferKind, RawCall,
                                              build_params, io_length, split_strings)
from syswarden.state.exe_flags import exe_flags

_ENDPOINTS = struct.Struct("<HHHH16s16s")
_NET_TABLES = (("tcp", socket.AF_INET, socket.SOCK_STREAM), ("tcp6", socket.AF_INET6, socket.SOCK_STREAM),
               ("udp", socket.AF_INET, socket.SOCK_DGRAM), ("udp6", socket.AF_INET6, socket.SOCK_DGRAM),
               ("raw", socket.AF_INET, socket.SOCK_RAW), ("raw6", socket.AF_INET6, socket.SOCK_RAW))


def _read_file(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def _hex_addr(text: str) -> tuple[bytes, int]:
    addr, port = text.split(":")
    raw = bytes.fromhex(addr)
    # /proc/net prints each 32-bit word in host (little-endian) order.
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return words.ljust(16, b"\0"), int(port, 16)


def socket_endpoints(pid: int, fd: int) -> bytes:
    """The probe's ``sock_endpoints`` blob for ``fd`` of ``pid``, found through its inode in /proc/PID/net."""
    try:
        link = os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:
        return b""
    if not link.startswith("socket:["):
        return b""
    inode = link[8:-1]
    for table, family, stype in _NET_TABLES:
        for line in _read_file(f"/proc/{pid}/net/{table}").decode(errors="replace").splitlines()[1:]:
            cols = line.split()
            if len(cols) > 9 and cols[9] == inode:
                (la, lp), (ra, rp) = _hex_addr(cols[1]), _hex_addr(cols[2])
                return _ENDPOINTS.pack(family, stype, lp, rp, la, ra)
    for line in _read_file(f"/proc/{pid}/net/packet").decode(errors="replace").splitlines()[1:]:
        cols = line.split()
        if len(cols) > 8 and cols[8] == inode:
            return _ENDPOINTS.pack(socket.AF_PACKET, int(cols[2]), 0, 0, b"", b"")
    return b""


def _read_kind(pid: int, kind: ArgKind, args: tuple[int, ...], i: int, ret: int, psize: int) -> bytes:
    """What the probe would have put in the blob for argument ``i`` of this kind (``psize``: the caller's
    pointer width in user structures, 4 for i386 and x32)."""
    p = args[i] if i < 6 else ret
    nxt = args[i + 1] if i < 5 else 0
    if kind is ArgKind.STR:
        return ptrace.read_string(pid, p) + b"\0"
    if kind is ArgKind.BYTES:
        return ptrace.read_memory(pid, p, min(nxt & 0xFFFFFFFF, 128))
    if kind is ArgKind.SOCKADDR_OUT:
        raw_len = ptrace.read_memory(pid, nxt, 4) if ret >= 0 else b""
        n = struct.unpack("<i", raw_len)[0] if len(raw_len) == 4 else 0
        return ptrace.read_memory(pid, p, min(max(n, 0), 128))
    if kind is ArgKind.U64:
        return ptrace.read_memory(pid, p, 8)
    if kind is ArgKind.STRARR:
        return b"".join(ptrace.read_string(pid, ptr, 512) + b"\0" for ptr in _pointers(pid, p, psize))
    if kind is ArgKind.MSGHDR:
        # struct msghdr, or struct compat_msghdr (32-bit msg_name) for compat callers
        layout = struct.Struct("<QI" if psize == 8 else "<Ii")
        hdr = ptrace.read_memory(pid, p, layout.size)
        if len(hdr) < layout.size:
            return b""
        name, namelen = layout.unpack_from(hdr)
        return ptrace.read_memory(pid, name, min(max(namelen, 0), 128))
    if kind is ArgKind.FDSOCK:
        return socket_endpoints(pid, _i32(p) if i < 6 else ret)
    return b""


def _i32(v: int) -> int:
    """An fd argument: an int in every ABI, so the low 32 bits, signed."""
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def _pointers(pid: int, addr: int, psize: int = 8, limit: int = 16) -> list[int]:
    out = []
    fmt = "<Q" if psize == 8 else "<I"
    for k in range(limit):
        raw = ptrace.read_memory(pid, addr + psize * k, psize)
        if len(raw) < psize or not (ptr := struct.unpack(fmt, raw)[0]):
            break
        out.append(ptr)
    return out


def read_blobs(pid: int, name: str, args: tuple[int, ...], ret: int, psize: int = 8,
               snaplen: int = 0) -> dict[int, bytes]:
    """Every blob of ``name``'s spec, read from the stopped tracee at syscall exit, and its I/O buffer
    (``DATA_SLOT``) when ``snaplen`` asks for one."""
    spec = SPECS[name]
    kinds = {**spec.kinds, **({RET_SLOT: ArgKind.FDSOCK} if spec.ret_fdsock and ret >= 0 else {})}
    blobs = {i: _read_kind(pid, kind, args, i, ret, psize) for i, kind in kinds.items()}
    if snaplen and spec.buffer is not BufferKind.NONE:
        blobs[DATA_SLOT] = read_buffer(pid, spec.buffer, args, ret, snaplen, psize)
    return blobs


_MSGHDR_IOV = {8: struct.Struct("<QI4xQQ"), 4: struct.Struct("<IiII")}   # msg_name, namelen, msg_iov, iovlen


def read_buffer(pid: int, kind: BufferKind, args: tuple[int, ...], ret: int, snaplen: int, psize: int = 8) -> bytes:
    """The call's I/O buffer as the probe reads it (``syscall_decode.io_length`` bytes, gathered from at most
    ``MAX_IOVECS`` iovecs of a vectored call; ``psize`` 4: compat ``iovec``/``msghdr`` layouts)."""
    want = io_length(kind, ret, args[2], snaplen)
    if not want:
        return b""
    if kind in (BufferKind.IN, BufferKind.OUT):
        return ptrace.read_memory(pid, args[1], want)
    iov, cnt = args[1], args[2]
    if kind in (BufferKind.MSG_IN, BufferKind.MSG_OUT):
        layout = _MSGHDR_IOV[psize]
        hdr = ptrace.read_memory(pid, args[1], layout.size)
        if len(hdr) < layout.size:
            return b""
        _name, _namelen, iov, cnt = layout.unpack(hdr)
    vec = struct.Struct("<QQ" if psize == 8 else "<II")
    raw = ptrace.read_memory(pid, iov, vec.size * min(cnt, MAX_IOVECS))
    out = b""
    for base, length in vec.iter_unpack(raw[:len(raw) // vec.size * vec.size]):
        take = min(length, want - len(out))
        piece = ptrace.read_memory(pid, base, take)
        out += piece
        if len(piece) < take or len(out) >= want:
            break
    return out


def _status(pid: int) -> dict[str, str]:
    rows = {}
    for line in _read_file(f"/proc/{pid}/status").decode(errors="replace").splitlines():
        key, _, value = line.partition(":")
        rows[key] = value.strip()
    return rows


def _readlink(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""


def _tty(pid: int) -> int:
    stat = _read_file(f"/proc/{pid}/stat")
    try:
        return int(stat[stat.rindex(b")") + 2:].split()[4])
    except ValueError:
        return 0


def exec_params(pid: int, tid: int, filename: str) -> dict[str, Any]:
    """The execve exit parameters of a process that just exec'ed, from its /proc entries."""
    st = _status(pid)
    argv = split_strings(_read_file(f"/proc/{pid}/cmdline"))
    uid = int(st.get("Uid", "0").split()[0]) if st.get("Uid") else -1
    gid = int(st.get("Gid", "0").split()[0]) if st.get("Gid") else -1
    loginuid = int(_read_file(f"/proc/{pid}/loginuid") or b"-1")
    cwd = _readlink(f"/proc/{pid}/cwd")
    exe = _readlink(f"/proc/{pid}/exe")
    try:
        exe_ino = os.stat(f"/proc/{pid}/exe").st_ino
    except OSError:
        exe_ino = 0
    return {"res": 0, "exe": argv[0] if argv else filename, "args": argv[1:], "tid": tid, "pid": pid,
            "ptid": int(st.get("PPid", "0") or 0), "cwd": cwd, "comm": st.get("Name", ""),
            "env": split_strings(_read_file(f"/proc/{pid}/environ")), "tty": _tty(pid),
            "loginuid": -1 if loginuid == 4294967295 else loginuid, "uid": uid, "gid": gid,
            "cap_effective": int(st.get("CapEff", "0"), 16), "cap_permitted": int(st.get("CapPrm", "0"), 16),
            "cap_inheritable": int(st.get("CapInh", "0"), 16), "exe_ino": exe_ino, "trusted_exepath": exe,
            "filename": filename, "flags": exe_flags(pid),
            # the group a job-control shell put the command in with setpgid before the exec
            "vpgid": _last_int(st.get("NSpgid"), 0), "pgid": _first_int(st.get("NSpgid")), "fdlimit": 0,
            "cgroups": proc_cgroups(pid)}


class PtraceDecoder:
    """Numbers events and builds them from finished syscalls of stopped tracees."""

    def __init__(self) -> None:
        self.num = 0

    def event(self, etype: str, tid: int, pid: int, params: dict[str, Any], res: int | None,
              dir: str = "<") -> Event:
        self.num += 1
        return Event(num=self.num, ts=time.time_ns(), type=etype, tid=tid, params=params, dir=dir, res=res,
                     pid=pid, source="syscall")

    def syscall(self, name: str, tid: int, pid: int, args: tuple[int, ...], ret: int,
                abi: Abi = Abi.X64, snaplen: int = 0) -> Event:
        """A finished syscall; the tracee is stopped at its exit, so its memory is read now. Compat calls
        (``abi``) come with their arguments already widened (``compat.compat_args``); ``snaplen``: bytes of
        its I/O buffer to read (0: none)."""
        if name in ("execve", "execveat") and ret == 0:
            params = exec_params(pid, tid, _exec_filename(pid))
        else:
            psize = 4 if uses_32bit_pointers(abi) else 8
            blobs = read_blobs(tid, name, args, ret, psize, snaplen)
            params = build_params(RawCall(name, tid, pid, ret, args, blobs))
        if name in ("clone", "clone3", "fork", "vfork"):
            params.update({"tid": tid, "pid": pid, "comm": _status(tid).get("Name", "")})
        if abi is not Abi.X64:
            params[ABI_PARAM] = ABI_LABELS[abi]
        return self.event(name, tid, pid, params, ret)

    def child(self, name: str, child_tid: int, child_pid: int, parent_pid: int, flags: int) -> Event:
        """The new task's side of a fork/clone (Falco's clone exit with res 0)."""
        st = _status(child_tid)
        params = {"res": 0, "exe": "", "args": [], "tid": child_tid, "pid": child_pid, "ptid": parent_pid,
                  "cwd": _readlink(f"/proc/{child_tid}/cwd"), "comm": st.get("Name", ""), "flags": flags,
                  "uid": _first_int(st.get("Uid")), "gid": _first_int(st.get("Gid")),
                  "vtid": _last_int(st.get("NSpid"), child_tid), "vpid": _last_int(st.get("NStgid"), child_pid),
                  "pidns_init_start_ts": 0, "cgroups": proc_cgroups(child_tid)}
        return self.event(name, child_tid, child_pid, params, 0)

    def exit(self, tid: int, pid: int, status: int) -> Event:
        params = {"status": status, "ret": (status >> 8) & 0xFF, "sig": status & 0x7F,
                  "core": (status >> 7) & 1, "reaper_tid": 0}
        return self.event("procexit", tid, pid, params, None, dir=">")


def _last_int(text: str | None, default: int) -> int:
    """The innermost id of an ``NSpid``/``NStgid`` line (the id in the task's own pid namespace)."""
    return int(text.split()[-1]) if text else default


def _first_int(text: str | None) -> int:
    return int(text.split()[0]) if text else -1


def _exec_filename(pid: int) -> str:
    return _readlink(f"/proc/{pid}/exe")
