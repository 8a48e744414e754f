"""A small ctypes binding of libseccomp 2.5: the reference peer for syscall tables and compiled filters.

syswarden does not need libseccomp to run; this binding exists so tests and benches can ask a well-known
implementation the same questions (what number is ``openat`` on aarch64? what does this policy compile to?)
and compare. Every call goes through :func:`_lib`, which loads ``libseccomp.so.2`` once.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import enum
import os
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from typing import TYPE_CHECKING

from syswarden.errors import KernelError
from syswarden.syscalls import tables
from syswarden.syscalls.arch import Arch

if TYPE_CHECKING:
    from syswarden.policy.model import Policy

# libseccomp's arch tokens are AUDIT_ARCH values, except x32 which has its own (EM_X86_64 | LE, no 64BIT bit).
ARCH_TOKEN: dict[Arch, int] = {
    Arch.X86_64: 0xC000003E,
    Arch.I386: 0x40000003,
    Arch.X32: 0x4000003E,
    Arch.AARCH64: 0xC00000B7,
    Arch.ARM: 0x40000028,
    Arch.RISCV64: 0xC00000F3,
    Arch.S390X: 0x80000016,
    Arch.PPC64LE: 0xC0000015,
}

NR_SCMP_ERROR = -1


class Cmp(enum.IntEnum):
    """``enum scmp_compare``."""

    NE = 1
    LT = 2
    LE = 3
    EQ = 4
    GE = 5
    GT = 6
    MASKED_EQ = 7


class Attr(enum.IntEnum):
    """``enum scmp_filter_attr``."""

    ACT_DEFAULT = 1
    ACT_BADARCH = 2
    CTL_NNP = 3
    CTL_TSYNC = 4
    API_TSKIP = 5
    CTL_LOG = 6
    CTL_SSB = 7
    CTL_OPTIMIZE = 8
    API_SYSRAWRC = 9


class _ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


class _Version(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint), ("minor", ctypes.c_uint), ("micro", ctypes.c_uint)]


@cache
def _load() -> ctypes.CDLL | None:
    for name in ("libseccomp.so.2", ctypes.util.find_library("seccomp")):
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name, use_errno=True)
        except OSError:
            continue
        _declare(lib)
        return lib
    return None


def _declare(lib: ctypes.CDLL) -> None:
    """Give every function we call its C signature (ctypes defaults to int, which truncates pointers)."""
    vp, u32, i32 = ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int
    sigs: dict[str, tuple[object, list[object]]] = {
        "seccomp_version": (ctypes.POINTER(_Version), []),
        "seccomp_syscall_resolve_num_arch": (vp, [u32, i32]),
        "seccomp_syscall_resolve_name_arch": (i32, [u32, ctypes.c_char_p]),
        "seccomp_syscall_resolve_name": (i32, [ctypes.c_char_p]),
        "seccomp_arch_native": (u32, []),
        "seccomp_init": (vp, [u32]),
        "seccomp_release": (None, [vp]),
        "seccomp_arch_add": (i32, [vp, u32]),
        "seccomp_arch_remove": (i32, [vp, u32]),
        "seccomp_arch_exist": (i32, [vp, u32]),
        "seccomp_rule_add_array": (i32, [vp, u32, i32, ctypes.c_uint, ctypes.POINTER(_ArgCmp)]),
        "seccomp_rule_add_exact_array": (i32, [vp, u32, i32, ctypes.c_uint, ctypes.POINTER(_ArgCmp)]),
        "seccomp_attr_set": (i32, [vp, i32, u32]),
        "seccomp_attr_get": (i32, [vp, i32, ctypes.POINTER(u32)]),
        "seccomp_export_bpf": (i32, [vp, i32]),
        "seccomp_export_pfc": (i32, [vp, i32]),
        "seccomp_merge": (i32, [vp, vp]),
        "seccomp_load": (i32, [vp]),
    }
    for fname, (restype, argtypes) in sigs.items():
        fn = getattr(lib, fname)
        fn.restype = restype
        fn.argtypes = argtypes
    libc = ctypes.CDLL(None)
    lib._free = libc.free  # type: ignore[attr-defined]
    lib._free.argtypes = [vp]


def available() -> bool:
    """Whether libseccomp.so.2 can be loaded."""
    return _load() is not None


def _lib() -> ctypes.CDLL:
    lib = _load()
    if lib is None:
        raise KernelError("libseccomp.so.2 not found (install the libseccomp2 package)")
    return lib


def version() -> tuple[int, int, int]:
    """libseccomp's (major, minor, micro)."""
    v = _lib().seccomp_version().contents
    return (v.major, v.minor, v.micro)


def resolve_num(arch: Arch, nr: int) -> str | None:
    """The name libseccomp gives syscall ``nr`` on ``arch`` (x32 numbers include the 0x40000000 bit)."""
    lib = _lib()
    ptr = lib.seccomp_syscall_resolve_num_arch(ARCH_TOKEN[arch], nr)
    if not ptr:
        return None
    try:
        return ctypes.string_at(ptr).decode()
    finally:
        lib._free(ptr)


def resolve_name(arch: Arch, name: str) -> int | None:
    """The number of ``name`` on ``arch``; None when the arch lacks it (libseccomp's pseudo numbers are < 0)."""
    nr = _lib().seccomp_syscall_resolve_name_arch(ARCH_TOKEN[arch], name.encode())
    return nr if nr >= 0 else None


def resolve_name_any(name: str) -> int:
    """The native number of ``name``, libseccomp's negative pseudo number if the native arch lacks it,
    or ``NR_SCMP_ERROR`` if no arch knows it. This is the number ``seccomp_rule_add`` expects."""
    nr: int = _lib().seccomp_syscall_resolve_name(name.encode())
    return nr


def _check(rc: int, what: str) -> None:
    if rc < 0:
        raise KernelError(f"libseccomp {what} failed: {os.strerror(-rc)}")


# (arg index, comparison, datum_a, datum_b); the comparison is a Cmp, its int, or an op name ("eq", "masked_eq").
Condition = tuple[int, "int | str | enum.Enum", int, int]


class LibseccompFilter:
    """A libseccomp filter context. Close it (or use ``with``) to release the C memory."""

    def __init__(self, default_action: int) -> None:
        self._lib = _lib()
        self._ctx = self._lib.seccomp_init(default_action)
        if not self._ctx:
            raise KernelError(f"libseccomp seccomp_init({default_action:#x}) failed")

    def __enter__(self) -> LibseccompFilter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._ctx:
            self._lib.seccomp_release(self._ctx)
            self._ctx = None

    def __del__(self) -> None:
        self.close()

    def add_arch(self, arch: Arch) -> None:
        """Add ``arch`` (EEXIST is not an error, so the native arch can be listed too)."""
        rc = self._lib.seccomp_arch_add(self._ctx, ARCH_TOKEN[arch])
        if rc != -17:
            _check(rc, f"arch_add({arch.value})")

    def remove_arch(self, arch: Arch) -> None:
        _check(self._lib.seccomp_arch_remove(self._ctx, ARCH_TOKEN[arch]), f"arch_remove({arch.value})")

    def has_arch(self, arch: Arch) -> bool:
        return bool(self._lib.seccomp_arch_exist(self._ctx, ARCH_TOKEN[arch]) == 0)

    def add_rule(self, action_value: int, syscall_nr: int, conditions: Sequence[Condition] = (),
                 *, exact: bool = False) -> None:
        """``seccomp_rule_add_array``; each condition is ``(arg_index, op, datum_a, datum_b)``, op being a
        ``Cmp``, our model's ``Op`` or its name; for masked_eq datum_a is the mask and datum_b the value."""
        arr = (_ArgCmp * max(len(conditions), 1))()
        for i, (index, op, a, b) in enumerate(conditions):
            arr[i] = _ArgCmp(index, _cmp(op), a & 0xFFFFFFFFFFFFFFFF, b & 0xFFFFFFFFFFFFFFFF)
        fn = self._lib.seccomp_rule_add_exact_array if exact else self._lib.seccomp_rule_add_array
        _check(fn(self._ctx, action_value, syscall_nr, len(conditions), arr), f"rule_add(nr={syscall_nr})")

    def set_attr(self, attr: Attr, value: int) -> None:
        _check(self._lib.seccomp_attr_set(self._ctx, int(attr), value), f"attr_set({attr.name})")

    def get_attr(self, attr: Attr) -> int:
        value = ctypes.c_uint32()
        _check(self._lib.seccomp_attr_get(self._ctx, int(attr), ctypes.byref(value)), f"attr_get({attr.name})")
        return value.value

    def merge(self, other: LibseccompFilter) -> None:
        """Merge ``other`` (disjoint arches, same attributes) into this filter; ``other`` is consumed."""
        _check(self._lib.seccomp_merge(self._ctx, other._ctx), "merge")
        other._ctx = None

    def load(self) -> None:
        """Install the filter on the calling thread. Only ever call this in a child process."""
        _check(self._lib.seccomp_load(self._ctx), "load")

    def export_bpf(self) -> bytes:
        """The classic BPF program, 8 bytes per instruction, native byte order."""
        return self._export(self._lib.seccomp_export_bpf, "export_bpf")

    def export_pfc(self) -> str:
        """libseccomp's pseudo-filter-code listing (human-readable)."""
        return self._export(self._lib.seccomp_export_pfc, "export_pfc").decode()

    def _export(self, fn: Callable[[object, int], int], what: str) -> bytes:
        fd = os.memfd_create("syswarden-libseccomp", os.MFD_CLOEXEC)
        try:
            _check(fn(self._ctx, fd), what)
            os.lseek(fd, 0, os.SEEK_SET)
            chunks = []
            while chunk := os.read(fd, 1 << 16):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)


def _cmp(op: int | str | enum.Enum) -> int:
    """Cmp, int, model Op (valued by its name) or an op name -> libseccomp's scmp_compare value."""
    if isinstance(op, Cmp) or (isinstance(op, int) and not isinstance(op, enum.Enum)):
        return int(op)
    name = op.value if isinstance(op, enum.Enum) else op
    return int(_CMP_OF_OP[str(name).lower()])


_CMP_OF_OP = {"eq": Cmp.EQ, "ne": Cmp.NE, "lt": Cmp.LT, "le": Cmp.LE, "gt": Cmp.GT, "ge": Cmp.GE,
              "masked_eq": Cmp.MASKED_EQ}


def _conditions(rule_args: Iterable[object]) -> list[Condition]:
    """Our ArgConditions as libseccomp comparisons. width=32 has no libseccomp spelling: callers skip it."""
    out: list[Condition] = []
    for cond in rule_args:
        op = _CMP_OF_OP[cond.op.value]  # type: ignore[attr-defined]
        if op is Cmp.MASKED_EQ:
            out.append((cond.index, op, cond.mask, cond.value))  # type: ignore[attr-defined]
        else:
            out.append((cond.index, op, cond.value, 0))  # type: ignore[attr-defined]
    return out


# Our filter flags as libseccomp attributes (seccomp_merge requires both filters to agree on them).
_FLAG_ATTRS = {"tsync": Attr.CTL_TSYNC, "log": Attr.CTL_LOG, "spec_allow": Attr.CTL_SSB}


def from_policy(policy: Policy) -> LibseccompFilter:
    """libseccomp's filter for ``policy``: one filter per arch (so per-arch rules stay per arch), merged.

    Differences from our model that callers comparing behaviour must keep in mind: libseccomp ORs the rules of
    one syscall instead of taking the first match, refuses rules whose action equals the default (we skip
    them), has no 32-bit-wide comparisons (a ``width=32`` condition raises ``ValueError``), and on i386/s390x/
    ppc64le a socket or SysV IPC rule also matches the multiplexed ``socketcall``/``ipc`` call with that
    sub-call number in arg 0. On 32-bit ABIs (i386, x32, arm) libseccomp compares only 32 bits and truncates
    the datum, so a condition such as ``arg < 1<<32`` becomes ``arg < 0`` there.
    """
    merged: LibseccompFilter | None = None
    for arch in policy.arches:
        one = _filter_for_arch(policy, arch)
        if merged is None:
            merged = one
        else:
            merged.merge(one)
    if merged is None:
        raise ValueError("policy lists no architectures")
    return merged


def _filter_for_arch(policy: Policy, arch: Arch) -> LibseccompFilter:
    flt = LibseccompFilter(policy.default_action.kernel_value)
    flt.set_attr(Attr.CTL_NNP, 0)
    flt.set_attr(Attr.ACT_BADARCH, policy.bad_arch_action.kernel_value)
    for flag in sorted(policy.flags):
        if flag in _FLAG_ATTRS:
            flt.set_attr(_FLAG_ATTRS[flag], 1)
    native = ARCH_TOKEN.get(Arch.native()) if _native_known() else None
    flt.add_arch(arch)
    if native is not None and ARCH_TOKEN[arch] != native:
        flt.remove_arch(Arch.native())
    for rule in policy.rules:
        if rule.arches is not None and arch not in rule.arches:
            continue
        if rule.action == policy.default_action:
            continue
        if any(c.width == 32 for c in rule.args):
            raise ValueError("libseccomp has no 32-bit argument comparisons")
        conds = _conditions(rule.args)
        for name in rule.names:
            # libseccomp wants the native number (or its pseudo number) and maps it to ``arch`` by name.
            nr = resolve_name_any(name)
            if tables.number(arch, name) is None or nr == NR_SCMP_ERROR:
                continue
            flt.add_rule(rule.action.kernel_value, nr, conds)
    return flt


def _native_known() -> bool:
    try:
        Arch.native()
    except ValueError:
        return False
    return True
