"""The Landlock kernel ABI: its three syscalls, the attribute structs, the access-right bits and which ABI
version introduced each of them. Bottom layer: nothing here decides policy, it only talks to the kernel.

Sources for the constants: the kernel's ``include/uapi/linux/landlock.h`` and
``Documentation/userspace-api/landlock.rst`` (ABI table in ``/work/shared/notes/audit-and-peers.md`` §e).
"""
from __future__ import annotations

import ctypes
import enum
import errno
import os

# The landlock syscalls were added after the syscall-number unification, so every arch uses the same numbers.
SYS_LANDLOCK_CREATE_RULESET = 444
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446

CREATE_RULESET_VERSION = 1 << 0
RULE_PATH_BENEATH = 1
RULE_NET_PORT = 2

# ``landlock_restrict_self()`` flags (ABI 7: audit). By default a domain's denials are logged only until the
# next execve; a launcher that restricts itself and then execs CMD needs LOG_NEW_EXEC_ON to see CMD's denials.
RESTRICT_SELF_LOG_SAME_EXEC_OFF = 1 << 0
RESTRICT_SELF_LOG_NEW_EXEC_ON = 1 << 1
RESTRICT_SELF_LOG_SUBDOMAINS_OFF = 1 << 2


class FsAccess(enum.IntFlag):
    """``LANDLOCK_ACCESS_FS_*`` rights, checked on file hierarchies."""

    EXECUTE = 1 << 0
    WRITE_FILE = 1 << 1
    READ_FILE = 1 << 2
    READ_DIR = 1 << 3
    REMOVE_DIR = 1 << 4
    REMOVE_FILE = 1 << 5
    MAKE_CHAR = 1 << 6
    MAKE_DIR = 1 << 7
    MAKE_REG = 1 << 8
    MAKE_SOCK = 1 << 9
    MAKE_FIFO = 1 << 10
    MAKE_BLOCK = 1 << 11
    MAKE_SYM = 1 << 12
    REFER = 1 << 13
    TRUNCATE = 1 << 14
    IOCTL_DEV = 1 << 15


class NetAccess(enum.IntFlag):
    """``LANDLOCK_ACCESS_NET_*`` rights, checked per TCP port."""

    BIND_TCP = 1 << 0
    CONNECT_TCP = 1 << 1


class Scope(enum.IntFlag):
    """``LANDLOCK_SCOPE_*``: IPC that may not leave the domain."""

    ABSTRACT_UNIX_SOCKET = 1 << 0
    SIGNAL = 1 << 1


# The rights (and the restrict_self flags) each ABI version adds; a right absent from the running ABI cannot
# be handled, so the ruleset degrades by dropping it (landlock.rst "Compatibility").
_FS_ABI1 = FsAccess(0x1FFF)  # EXECUTE .. MAKE_SYM
FS_BY_ABI: dict[int, FsAccess] = {
    1: _FS_ABI1,
    2: _FS_ABI1 | FsAccess.REFER,
    3: _FS_ABI1 | FsAccess.REFER | FsAccess.TRUNCATE,
    4: _FS_ABI1 | FsAccess.REFER | FsAccess.TRUNCATE,
    5: _FS_ABI1 | FsAccess.REFER | FsAccess.TRUNCATE | FsAccess.IOCTL_DEV,
}
NET_MIN_ABI = 4
SCOPE_MIN_ABI = 6
AUDIT_MIN_ABI = 7
KERNEL_FOR_ABI: dict[int, str] = {1: "5.13", 2: "5.19", 3: "6.2", 4: "6.7", 5: "6.10", 6: "6.12", 7: "6.15"}


def fs_rights_for(abi: int) -> FsAccess:
    """Every filesystem right the given ABI version can handle (0 when Landlock is absent)."""
    if abi <= 0:
        return FsAccess(0)
    return FS_BY_ABI[min(abi, max(FS_BY_ABI))]


def net_rights_for(abi: int) -> NetAccess:
    return NetAccess.BIND_TCP | NetAccess.CONNECT_TCP if abi >= NET_MIN_ABI else NetAccess(0)


def scopes_for(abi: int) -> Scope:
    return Scope.ABSTRACT_UNIX_SOCKET | Scope.SIGNAL if abi >= SCOPE_MIN_ABI else Scope(0)


class RulesetAttr(ctypes.Structure):
    """``struct landlock_ruleset_attr``; the size passed to the kernel shrinks with the ABI version."""

    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class PathBeneathAttr(ctypes.Structure):
    """``struct landlock_path_beneath_attr`` (packed: 12 bytes)."""

    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class NetPortAttr(ctypes.Structure):
    """``struct landlock_net_port_attr``."""

    _fields_ = [("allowed_access", ctypes.c_uint64), ("port", ctypes.c_uint64)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def abi_version() -> int:
    """The highest Landlock ABI the running kernel offers; 0 when Landlock is absent or disabled at boot."""
    result = _libc.syscall(ctypes.c_long(SYS_LANDLOCK_CREATE_RULESET), None, ctypes.c_size_t(0),
                           ctypes.c_uint32(CREATE_RULESET_VERSION))
    if result < 0:
        if ctypes.get_errno() in (errno.ENOSYS, errno.EOPNOTSUPP):
            return 0
        _check(result, "landlock_create_ruleset(VERSION)")
    return int(result)


def _attr_size(abi: int) -> int:
    if abi >= SCOPE_MIN_ABI:
        return 24
    return 16 if abi >= NET_MIN_ABI else 8


def create_ruleset(fs: int, net: int, scoped: int, abi: int) -> int:
    """Create a ruleset handling these rights; returns its fd (the caller closes it)."""
    attr = RulesetAttr(fs, net, scoped)
    result = _libc.syscall(ctypes.c_long(SYS_LANDLOCK_CREATE_RULESET), ctypes.byref(attr),
                           ctypes.c_size_t(_attr_size(abi)), ctypes.c_uint32(0))
    return _check(int(result), "landlock_create_ruleset")


def add_path_rule(ruleset_fd: int, path_fd: int, access: int) -> None:
    attr = PathBeneathAttr(access, path_fd)
    result = _libc.syscall(ctypes.c_long(SYS_LANDLOCK_ADD_RULE), ctypes.c_int(ruleset_fd),
                           ctypes.c_int(RULE_PATH_BENEATH), ctypes.byref(attr), ctypes.c_uint32(0))
    _check(int(result), "landlock_add_rule(path_beneath)")


def add_port_rule(ruleset_fd: int, port: int, access: int) -> None:
    attr = NetPortAttr(access, port)
    result = _libc.syscall(ctypes.c_long(SYS_LANDLOCK_ADD_RULE), ctypes.c_int(ruleset_fd),
                           ctypes.c_int(RULE_NET_PORT), ctypes.byref(attr), ctypes.c_uint32(0))
    _check(int(result), "landlock_add_rule(net_port)")


def restrict_self(ruleset_fd: int, flags: int = 0) -> None:
    """Enforce the ruleset on the calling thread (and what it execs); needs no_new_privs or CAP_SYS_ADMIN."""
    result = _libc.syscall(ctypes.c_long(SYS_LANDLOCK_RESTRICT_SELF), ctypes.c_int(ruleset_fd),
                           ctypes.c_uint32(flags))
    _check(int(result), "landlock_restrict_self")

