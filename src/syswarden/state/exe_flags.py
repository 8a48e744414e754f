"""The executable's flags (Falco's execve ``flags``) from /proc: for the ptrace source, which has no kernel view
of an exec, and for processes seeded from /proc.

Falco's drivers read them from the kernel at exec (the eBPF probe does the same, ``probe_exec.h``):

* ``EXE_WRITABLE``: the caller may write the executable: not on a read-only superblock nor immutable, and the
  caller's fsuid owns it, or the group (fsgid or a supplementary group) or other write bit allows it, or it has
  CAP_DAC_OVERRIDE with the file's uid and gid mapped in its user namespace, or CAP_FOWNER with the uid mapped
  (POSIX ACLs are not consulted, as in Falco);
* ``EXE_UPPER_LAYER`` / ``EXE_LOWER_LAYER``: the file is on an overlayfs mount, in its upper layer (the upper
  directory holds it: overlayfs then shows that copy) or only in a lower one;
* ``EXE_FROM_MEMFD``: a memfd (``/memfd:NAME`` is all the exe link shows).

From /proc the overlay test reads the mount holding the exe in the process's ``mountinfo`` and looks the same
relative path up in the ``upperdir=`` it was mounted with, through the process's root and then ours: an upper
directory neither can reach (mounted away) reads as the lower layer. A /proc seed computes only what libscap's
does (writable, memfd).
"""
from __future__ import annotations

import fcntl
import os
import stat
import struct

EXE_WRITABLE, EXE_UPPER_LAYER, EXE_FROM_MEMFD, EXE_LOWER_LAYER = 1, 2, 4, 8
_FS_IOC_GETFLAGS = 0x80086601
_FS_IMMUTABLE_FL = 0x10
_CAP_DAC_OVERRIDE, _CAP_FOWNER = 1, 3
_MAY_WRITE = 2


def exe_flags(pid: int, *, exec_time: bool = True, proc: str = "/proc") -> int:
    """The PPM_EXE_* flags of process ``pid``'s executable (0 where /proc cannot tell). ``exec_time`` false: only
    what libscap's /proc scan computes (memfd and writable, the latter from the mode and the mount alone)."""
    base = f"{proc}/{pid}"
    try:
        link = os.readlink(f"{base}/exe").removesuffix(" (deleted)")
    except OSError:
        return 0
    flags = EXE_FROM_MEMFD if link.startswith("/memfd:") else 0
    flags |= _writable(base, attrs=exec_time)
    if exec_time and link.startswith("/"):
        flags |= _overlay_layer(base, link)
    return flags


def _status(base: str) -> dict[str, list[str]]:
    try:
        with open(f"{base}/status") as f:
            return {k: v.split() for k, _, v in (line.partition(":") for line in f)}
    except OSError:
        return {}


def _immutable(path: str) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        return bool(struct.unpack("l", fcntl.ioctl(fd, _FS_IOC_GETFLAGS, b"\0" * 8))[0] & _FS_IMMUTABLE_FL)
    except OSError:
        return False                # a filesystem without inode flags
    finally:
        os.close(fd)


def _writable(base: str, *, attrs: bool) -> int:
    exe = f"{base}/exe"
    try:
        st, vfs = os.stat(exe), os.statvfs(exe)
    except OSError:
        return 0
    if vfs.f_flag & os.ST_RDONLY and (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        return 0
    if attrs and _immutable(exe):
        return 0
    status = _status(base)
    try:
        fsuid, fsgid = int(status["Uid"][3]), int(status["Gid"][3])
        groups = {int(g) for g in status.get("Groups", [])}
        caps = int(status["CapEff"][0], 16)
    except (KeyError, IndexError, ValueError):
        return 0
    if fsuid == st.st_uid:
        return EXE_WRITABLE
    mode = st.st_mode >> 3 if st.st_gid == fsgid or st.st_gid in groups else st.st_mode
    if mode & _MAY_WRITE:
        return EXE_WRITABLE
    uid_ok, gid_ok = _mapped(f"{base}/uid_map", st.st_uid), _mapped(f"{base}/gid_map", st.st_gid)
    if caps >> _CAP_DAC_OVERRIDE & 1 and uid_ok and gid_ok:
        return EXE_WRITABLE
    return EXE_WRITABLE if caps >> _CAP_FOWNER & 1 and uid_ok else 0


def _mapped(path: str, kernel_id: int) -> bool:
    """Whether a kernel (init namespace) id has a mapping in the process's user namespace map."""
    try:
        with open(path) as f:
            rows = [line.split() for line in f]
    except OSError:
        return False
    return any(len(r) == 3 and int(r[1]) <= kernel_id < int(r[1]) + int(r[2]) for r in rows)


def _unescape(text: str) -> str:
    """mountinfo's octal escapes (``\\040`` for a space ...)."""
    if "\\" not in text:
        return text
    return text.encode("latin-1", "backslashreplace").decode("unicode_escape").encode("latin-1").decode(
        "utf-8", "surrogateescape")


def _overlay_layer(base: str, path: str) -> int:
    best: tuple[str, str, str] | None = None          # (mount point, root in the fs, super options)
    try:
        with open(f"{base}/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
            lines = f.read().splitlines()
    except OSError:
        return 0
    for line in lines:
        left, sep, right = line.partition(" - ")
        cols, tail = left.split(), right.split()
        if not sep or len(cols) < 5 or len(tail) < 3:
            continue
        point = _unescape(cols[4])
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= len(best[0])):
            best = (point, _unescape(cols[3]), tail[2] if tail[0] == "overlay" else "")
    if best is None or not best[2]:
        return 0
    point, root, options = best
    upper = next((_unescape(o[len("upperdir="):]) for o in options.split(",") if o.startswith("upperdir=")), "")
    rel = path[len(point.rstrip("/")):].lstrip("/")
    within = os.path.join(root, rel).lstrip("/")
    if upper and any(os.path.lexists(os.path.join(prefix + upper, within)) for prefix in (f"{base}/root", "")):
        return EXE_UPPER_LAYER
    return EXE_LOWER_LAYER


__all__ = ["EXE_WRITABLE", "EXE_UPPER_LAYER", "EXE_FROM_MEMFD", "EXE_LOWER_LAYER", "exe_flags"]
