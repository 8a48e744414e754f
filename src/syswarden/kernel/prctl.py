"""prctl(2) for the process attributes seccomp depends on: no_new_privs and the seccomp mode.

Bottom layer: thin calls through ``kernel/libc.py`` (no ctypes package on the launch path); ``OSError`` becomes
``KernelError`` here, at the boundary.
"""
from __future__ import annotations

import os

from syswarden.kernel import libc

PR_GET_SECCOMP = 21
PR_SET_SECCOMP = 22
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39


class kernel_errors:  # lower case: used as a context manager, named like one
    """Translate ``OSError`` raised inside into ``KernelError`` naming the operation and the errno. A class
    rather than ``contextlib.contextmanager``: this module is on every launch's start-up path."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, OSError):
            from syswarden.errors import KernelError
            name = os.strerror(exc.errno) if exc.errno else str(exc)
            raise KernelError(f"{self.what} failed: {name} (errno {exc.errno})") from exc


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    """Raw prctl; raises ``OSError`` with the kernel's errno (callers translate it)."""
    rc = libc.prctl(option, arg2, arg3, arg4, arg5)
    if rc < 0:
        err = libc.errno()
        raise OSError(err, os.strerror(err))
    return int(rc)


def set_no_new_privs() -> None:
    """Set no_new_privs for this thread (inherited across fork/clone/execve, never unset)."""
    with kernel_errors("prctl(PR_SET_NO_NEW_PRIVS)"):
        prctl(PR_SET_NO_NEW_PRIVS, 1)


def get_no_new_privs() -> bool:
    with kernel_errors("prctl(PR_GET_NO_NEW_PRIVS)"):
        return prctl(PR_GET_NO_NEW_PRIVS) == 1


def get_seccomp_mode() -> int:
    """0 = disabled, 1 = strict, 2 = filter (PR_GET_SECCOMP; in strict mode this call itself is fatal)."""
    with kernel_errors("prctl(PR_GET_SECCOMP)"):
        return prctl(PR_GET_SECCOMP)
