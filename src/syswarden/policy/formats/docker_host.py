"""The host a Docker profile is resolved against (moby resolves ``includes``/``excludes`` per container):
native arch, capability bounding set and kernel version, with the running machine and Docker's default
capabilities filling in whatever the caller does not give."""
from __future__ import annotations

import platform
import re
from collections.abc import Iterable
from dataclasses import dataclass

from syswarden.errors import PolicyError
from syswarden.policy import resolve
from syswarden.syscalls.arch import Arch

# Docker's default bounding set (moby oci/caps/defaults.go DefaultCapabilities).
DEFAULT_CAPS: frozenset[str] = frozenset({
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
    "CAP_AUDIT_WRITE",
})

_KERNEL = re.compile(r"^(\d+)\.(\d+)")


@dataclass(frozen=True, slots=True)
class Host:
    """What moby resolves a profile against: native arch, capability bounding set, kernel version."""

    arch: Arch
    caps: frozenset[str]
    kernel: tuple[int, int]


def normalize_cap(cap: str) -> str:
    """``sys_admin`` / ``SYS_ADMIN`` / ``CAP_SYS_ADMIN`` -> ``CAP_SYS_ADMIN``."""
    cap = cap.strip().upper()
    return cap if cap.startswith("CAP_") else "CAP_" + cap


def parse_kernel(text: str) -> tuple[int, int] | None:
    """``"6.18.0-1-amd64"`` -> ``(6, 18)``; moby ignores patch level and suffixes."""
    m = _KERNEL.match(text.strip())
    return (int(m.group(1)), int(m.group(2))) if m else None


def make_host(native_arch: Arch | None = None, caps: Iterable[str] | None = None,
              kernel: tuple[int, int] | str | None = None) -> Host:
    """Fill in the running host for what the caller did not give."""
    if isinstance(kernel, str):
        parsed = parse_kernel(kernel)
        if parsed is None:
            raise PolicyError(f"bad kernel version {kernel!r} (expected MAJOR.MINOR)")
        kernel = parsed
    return Host(
        arch=native_arch or resolve.native_arch(),
        caps=DEFAULT_CAPS if caps is None else frozenset(normalize_cap(c) for c in caps),
        kernel=kernel or parse_kernel(platform.release()) or (0, 0),
    )
