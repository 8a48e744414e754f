"""eBPF record -> ``Event``: parse the probe's ``struct ev_hdr`` + blobs (``probe.h``) with ``struct`` and build
Falco-named events: syscall exits through ``syscall_decode``, and the scheduler's fork/exec/exit records as the
child's ``clone`` (res 0), ``execve``/``execveat`` and ``procexit``.
"""
from __future__ import annotations

import os
import struct
import time
from dataclasses import dataclass
from functools import cache
from typing import Any

from syswarden.events.event import Event
from syswarden.events.types import ABI_PARAM, dirpath_param
from syswarden.sources.compat import ABI_LABELS, Abi, CompatCall, compat_args, decoded_calls, event_name
from syswarden.sources.ebpf.kernel_tables import path_params
from syswarden.sources.ebpf.param_builders import (F_ABI, F_CPU, F_NBLOBS, F_NR, F_TGID, F_TID, FAST_HEADER,
                                                   Builder, builders)
from syswarden.sources.targets import CgroupPaths
from syswarden.sources.syscall_decode import DATA_SLOT, SPECS, RawCall, build_params, split_strings
from syswarden.syscalls.arch import Arch

HEADER = struct.Struct("<Qq6QQ8IiIHH8H16sHH")
SYSCALL_SLOTS = 1024     # spec words per ABI in the probe's `syscalls` map: key = abi * SYSCALL_SLOTS + nr
EV_FORK, EV_EXEC, EV_EXIT = -1, -2, -3
_FORK_NAMES = {"clone", "clone3", "fork", "vfork"}
_HEADER_SIZE = HEADER.size
_FAST_UNPACK = FAST_HEADER.unpack_from
_F_ABI, _F_CPU, _F_NBLOBS, _F_NR, _F_TGID, _F_TID = F_ABI, F_CPU, F_NBLOBS, F_NR, F_TGID, F_TID
_BLOB_LENS = struct.Struct("<8H")
_BLOB_LENS_AT = 116      # offsetof(struct ev_hdr, blen)
XF_DIRPATH, XF_DIRPATH2, XF_CWD, XF_DATA = 1, 2, 4, 8


@cache
def extra_params(name: str) -> tuple[tuple[int, str], ...]:
    """The extra blobs a record of ``name`` may carry after the spec's (probe.h XF_*), in bit order, and the
    parameter each becomes: the directories the kernel resolved relative path arguments against
    (``events.types.dirpath_param``) and the cwd after fchdir (not Falco parameters), and the I/O buffer
    (``data``: its bytes are the blob ``DATA_SLOT`` of the call)."""
    paths = [dirpath_param(p) for p, _, _ in path_params(name)]
    return tuple(zip((XF_DIRPATH, XF_DIRPATH2), paths)) + ((XF_CWD, "cwd"), (XF_DATA, "data"))


@dataclass(frozen=True, slots=True)
class Header:
    """The fixed part of one probe record."""

    ts: int
    ret: int
    args: tuple[int, ...]
    cgroup_id: int
    tid: int
    tgid: int
    ppid: int
    uid: int
    gid: int
    euid: int
    egid: int
    loginuid: int
    nr: int
    tty: int
    cpu: int
    comm: str
    blobs: tuple[bytes, ...]
    abi: Abi = Abi.X64
    xflags: int = 0


def parse_record(raw: bytes, start: int = 0) -> Header:
    """Split one ring-buffer record (at ``start`` in ``raw``) into its header fields and blobs."""
    f = HEADER.unpack_from(raw, start)
    nblobs, lens = f[19], f[21:29]
    blobs, off = [], start + HEADER.size
    for i in range(min(nblobs, 8)):
        blobs.append(raw[off: off + lens[i]])
        off += lens[i]
    comm = f[29].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
    return Header(f[0], f[1], tuple(f[2:8]), f[8], f[9], f[10], f[11], f[12], f[13], f[14], f[15], f[16],
                  f[17], f[18], f[20], comm, tuple(blobs), _abi(f[30]), f[31])


def _abi(value: int) -> Abi:
    try:
        return Abi(value)
    except ValueError:
        return Abi.X64


def _dpath(blob: bytes) -> str:
    """The probe's leaf-first component list as an absolute path."""
    return "/" + "/".join(reversed(split_strings(blob)))


def _loginuid(v: int) -> int:
    return -1 if v == 0xFFFFFFFF else v


def _readlink(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""


class Decoder:
    """Turns records into events, numbering them and converting boot-time stamps to the epoch."""

    def __init__(self, arch: Arch | None = None) -> None:
        self.arch = arch or Arch.native()
        self._boot_to_epoch = time.time_ns() - time.clock_gettime_ns(time.CLOCK_BOOTTIME)
        self.num = 0
        self.cgroups = CgroupPaths()
        self.started: list[int] = []       # tgids of new processes seen since the caller last cleared it
        self.ended: list[int] = []         # tgids whose last thread exited since then
        # The hot path: map key (abi * SYSCALL_SLOTS + nr, the x86_64 number for native calls) -> (name, blob
        # slots, how compat arguments are widened, abi) for every syscall we decode, resolved once.
        self._plain: dict[int, tuple[str, tuple[int, ...], CompatCall, Abi]] = {}
        for abi in Abi:
            for nr, call in decoded_calls(abi).items():
                if call.name not in _FORK_NAMES and call.name not in ("execve", "execveat"):
                    self._plain[abi * SYSCALL_SLOTS + nr] = (call.name, SPECS[call.name].blob_slots(), call, abi)
        # The hotter path: native calls with simple recipes -> (name, compiled builder, blobs per record).
        compiled = builders()
        self._fast: dict[int, tuple[str, Builder, int]] = {
            nr: (call.name, *compiled[call.name]) for nr, call in decoded_calls(Abi.X64).items()
            if call.name in compiled and nr in self._plain}

    def syscall_name(self, nr: int, abi: Abi = Abi.X64) -> str | None:
        return event_name(abi, nr)

    def decode(self, raw: bytes, start: int = 0) -> Event | None:
        """The event for the record at ``start`` in ``raw`` (None for a syscall we do not decode)."""
        f = _FAST_UNPACK(raw, start)
        if not f[_F_ABI]:
            fast = self._fast.get(f[_F_NR])
            if fast is not None and f[_F_NBLOBS] == fast[2]:
                # the common case: a native syscall exit with every blob present
                self.num += 1
                return Event(self.num, f[0] + self._boot_to_epoch, fast[0], f[_F_TID],
                             fast[1](f, raw, start + _HEADER_SIZE), "<", f[1], f[_F_CPU], f[_F_TGID])
        return self._decode_slow(raw, start)

    def _decode_slow(self, raw: bytes, start: int) -> Event | None:
        """Compat calls, calls with structured arguments, and the scheduler's records."""
        if start:
            raw = raw[start:start + HEADER.size + sum(_BLOB_LENS.unpack_from(raw, start + _BLOB_LENS_AT))]
        f = HEADER.unpack_from(raw)
        plain = self._plain.get(f[30] * SYSCALL_SLOTS + f[17]) if f[17] >= 0 else None
        if plain is not None:
            return self._plain_syscall(raw, f, *plain)
        h = parse_record(raw)
        if h.nr == EV_FORK:
            if h.tid == h.tgid:
                self.started.append(h.tgid)
            return self._fork(h)
        if h.nr == EV_EXEC:
            return self._exec(h)
        if h.nr == EV_EXIT:
            if h.args[0]:
                self.ended.append(h.tgid)
            return self._event(h, "procexit", _exit_params(h.ret), dir=">")
        return self._syscall(h)

    def _plain_syscall(self, raw: bytes, f: tuple[Any, ...], name: str, slots: tuple[int, ...],
                       call: CompatCall, abi: Abi) -> Event:
        """Decode an ordinary syscall exit straight from the unpacked header (no Header object)."""
        blobs: dict[int, bytes] = {}
        off = HEADER.size
        extras = [param for bit, param in extra_params(name) if f[31] & bit] if f[31] else []
        nspec = max(0, min(f[19], 8) - len(extras))
        for i, slot in enumerate(slots[:nspec]):
            n = f[21 + i]
            blobs[slot] = raw[off:off + n]
            off += n
        args = f[2:8] if abi is Abi.X64 else compat_args(abi, call, f[2:8])
        texts = {}
        for i, param in enumerate(extras):
            n = f[21 + nspec + i] if nspec + i < 8 else 0
            if param == "data":
                blobs[DATA_SLOT] = raw[off:off + n]
            else:
                texts[param] = raw[off:off + n].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            off += n
        params = build_params(RawCall(name, f[9], f[10], f[1], args, blobs))
        params.update(texts)
        if abi is not Abi.X64:
            params[ABI_PARAM] = ABI_LABELS[abi]
        self.num += 1
        return Event(num=self.num, ts=f[0] + self._boot_to_epoch, type=name, tid=f[9], params=params,
                     res=f[1], cpu=f[20], pid=f[10], source="syscall")

    def _event(self, h: Header, etype: str, params: dict[str, Any], *, res: int | None = None,
               dir: str = "<") -> Event:
        if h.abi is not Abi.X64 and h.nr != EV_EXIT:
            params[ABI_PARAM] = ABI_LABELS[h.abi]
        self.num += 1
        return Event(num=self.num, ts=h.ts + self._boot_to_epoch, type=etype, tid=h.tid, params=params,
                     dir=dir, res=res, cpu=h.cpu, pid=h.tgid, source="syscall")

    def _syscall(self, h: Header) -> Event | None:
        name = self.syscall_name(h.nr, h.abi)
        spec = SPECS.get(name or "")
        if spec is None:
            return None
        blobs = dict(zip(spec.blob_slots(), h.blobs))
        args = h.args if h.abi is Abi.X64 else compat_args(h.abi, CompatCall(spec.name), h.args)
        call = RawCall(spec.name, h.tid, h.tgid, h.ret, args, blobs)
        params = build_params(call)
        if spec.name in _FORK_NAMES:
            params.update(_proc_params(h, ptid=h.ppid))
        if spec.name in ("execve", "execveat"):
            params.update(_exec_common(h, params.get("filename", ""), []))
        return self._event(h, spec.name, params, res=h.ret)

    def _fork(self, h: Header) -> Event:
        name = self.syscall_name(h.args[2], h.abi) if h.args[2] < (1 << 63) else None
        etype = name if name in _FORK_NAMES else "clone"
        params: dict[str, Any] = {"res": 0, **_proc_params(h, ptid=h.ppid), "flags": h.args[0]}
        params.update({"uid": h.uid, "gid": h.gid, "vtid": h.args[4], "vpid": h.args[5], "pidns_init_start_ts": 0,
                       "cgroups": self.cgroups.param(h.cgroup_id)})
        return self._event(h, etype, params, res=0)

    def _exec(self, h: Header) -> Event:
        filename = h.blobs[0].split(b"\0", 1)[0].decode("utf-8", "surrogateescape") if h.blobs else ""
        argv = split_strings(h.blobs[1]) if len(h.blobs) > 1 else []
        env = split_strings(h.blobs[2]) if len(h.blobs) > 2 else []
        # args[1]: the call's number, and the executable's flags (PPM_EXE_*) above bit 32
        etype = "execveat" if self.syscall_name(h.args[1] & 0xFFFFFFFF, h.abi) == "execveat" else "execve"
        params: dict[str, Any] = {"res": 0, "exe": argv[0] if argv else filename, "args": argv[1:]}
        params.update(_proc_params(h, ptid=h.ppid))
        params.update(_exec_common(h, filename, env))
        if len(h.blobs) > 4:
            params["trusted_exepath"] = _dpath(h.blobs[3])
            params["cwd"] = _dpath(h.blobs[4])
        params["flags"] = h.args[1] >> 32
        params["vpgid"] = h.args[0] >> 32     # args[0]: the former tid, and the vpgid above bit 32
        params["cgroups"] = self.cgroups.param(h.cgroup_id)
        params.update({"exe_ino": h.args[2], "cap_effective": h.args[3], "cap_permitted": h.args[4],
                       "cap_inheritable": h.args[5]})
        return self._event(h, etype, params, res=0)


def _proc_params(h: Header, *, ptid: int) -> dict[str, Any]:
    """The process-description parameters shared by clone and execve exits."""
    return {"tid": h.tid, "pid": h.tgid, "ptid": ptid, "cwd": _readlink(f"/proc/{h.tid}/cwd"),
            "comm": h.comm, "uid": h.uid, "gid": h.gid}


def _exec_common(h: Header, filename: str, env: list[str]) -> dict[str, Any]:
    cwd = _readlink(f"/proc/{h.tid}/cwd")
    # Successful execs get the kernel's view of the executable from the probe; failed ones only the request.
    trusted = os.path.normpath(os.path.join(cwd or "/", filename)) if filename else ""
    return {"cwd": cwd, "env": env, "tty": h.tty, "loginuid": _loginuid(h.loginuid), "uid": h.uid,
            "gid": h.gid, "filename": filename, "trusted_exepath": trusted, "comm": h.comm,
            "vpgid": 0, "pgid": 0, "flags": 0, "fdlimit": 0, "cgroups": []}


def _exit_params(code: int) -> dict[str, Any]:
    """procexit: raw wait status plus its decoded exit code, signal and core flag."""
    return {"status": code, "ret": (code >> 8) & 0xFF, "sig": code & 0x7F, "core": (code >> 7) & 1,
            "reaper_tid": 0}
