"""execve(2) from memory prepared before fork, for a launcher whose seccomp filter allows only *that* call.

Bottom layer. ``os.execve`` builds its path and argument arrays after the filters are installed, at addresses
nobody knows in advance; a filter that denies execve but must let CMD's through (``sandbox/launcher.py``'s
exemption) can only recognise the call by its path pointer. ``ExecBuffers`` holds the path, argv and envp as
C arrays at fixed addresses, made in the parent before forking, and ``execve`` passes exactly those.
"""
from __future__ import annotations

import ctypes
import os
from collections.abc import Mapping, Sequence

# The C library the interpreter already links (find_library would run ldconfig at every start-up).
_libc = ctypes.CDLL(None, use_errno=True)


class ExecBuffers:
    """``path``, ``argv`` and ``envp`` as NUL-terminated C arrays that live as long as this object."""

    __slots__ = ("_path", "_argv", "_envp", "_keep")

    def __init__(self, path: str, argv: Sequence[str], env: Mapping[str, str]) -> None:
        self._path = ctypes.create_string_buffer(os.fsencode(path))
        args = [ctypes.c_char_p(os.fsencode(a)) for a in argv]
        envs = [ctypes.c_char_p(os.fsencode(f"{k}={v}")) for k, v in env.items()]
        self._argv = (ctypes.c_char_p * (len(args) + 1))(*args, None)
        self._envp = (ctypes.c_char_p * (len(envs) + 1))(*envs, None)
        self._keep = (args, envs)

    @property
    def path_address(self) -> int:
        """The address execve's first argument will hold (what a filter exemption compares)."""
        return ctypes.addressof(self._path)

    def execve(self) -> int:
        """execve with the prepared arrays; returns the errno only if the kernel refused (else never returns)."""
        _libc.execve(self._path, self._argv, self._envp)
        return ctypes.get_errno()
