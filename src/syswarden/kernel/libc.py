"""The two libc entry points a seccomp launch needs, ``syscall(2)`` and ``prctl(2)``, and C memory to point them at,
bound through ``_ctypes`` alone.

Bottom layer, on every ``syswarden run``'s start-up path: the ``ctypes`` package defines dozens of types and
libraries when imported (about 3 ms per launch, as much as the rest of the launch's imports); what a launch
calls needs two integer types, two function-pointer types and a char array. Other callers (libbpf, ptrace,
exec buffers) keep using ``ctypes``. Return values are C ``long``; ``errno()`` is the thread's saved errno
after the last call.
"""
from __future__ import annotations

from _ctypes import (FUNCFLAG_CDECL, FUNCFLAG_USE_ERRNO, Array, CFuncPtr, _SimpleCData, addressof, dlopen, dlsym,
                     get_errno)


class c_long(_SimpleCData):  # type: ignore[type-arg]  # generic in typeshed only
    _type_ = "l"


class c_int(_SimpleCData):  # type: ignore[type-arg]  # generic in typeshed only
    _type_ = "i"


class _char(_SimpleCData):  # type: ignore[type-arg]  # generic in typeshed only
    _type_ = "c"


class _Function(CFuncPtr):       # long f(...)
    _flags_ = FUNCFLAG_CDECL | FUNCFLAG_USE_ERRNO
    _restype_ = c_long


class _IntFunction(CFuncPtr):    # int f(...)
    _flags_ = FUNCFLAG_CDECL | FUNCFLAG_USE_ERRNO
    _restype_ = c_int


_RTLD_NOW = 2
_libc = dlopen(None, _RTLD_NOW)  # type: ignore[arg-type]  # None: the C library the interpreter links
_syscall = _Function(dlsym(_libc, "syscall"))
_prctl = _IntFunction(dlsym(_libc, "prctl"))
_arrays: dict[int, type] = {}


def syscall(number: int, *args: int) -> int:
    """``syscall(number, args...)``: every argument passed as a C long (pointers as addresses)."""
    return int(_syscall(c_long(number), *(c_long(a) for a in args)))


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    return int(_prctl(c_long(option), c_long(arg2), c_long(arg3), c_long(arg4), c_long(arg5)))


def errno() -> int:
    return int(get_errno())


class Buffer:
    """``size`` bytes of C memory (zeroed) at a fixed ``address``, alive as long as this object."""

    __slots__ = ("_mem",)

    def __init__(self, size: int, data: bytes = b"") -> None:
        kind = _arrays.get(size)
        if kind is None:
            kind = _arrays[size] = type(f"char_{size}", (Array,), {"_type_": _char, "_length_": size})
        self._mem = kind()
        if data:
            self.write(data)

    @property
    def address(self) -> int:
        return int(addressof(self._mem))

    def write(self, data: bytes) -> None:
        """Store ``data`` at the start (the rest keeps its bytes)."""
        self._mem[:len(data)] = data

    def read(self) -> bytes:
        return bytes(self._mem.raw)
