"""Architectures syswarden knows: their AUDIT_ARCH value (what seccomp_data.arch holds) and their names in
the formats people write (Docker ``SCMP_ARCH_X86_64``, Go ``amd64``, uname ``x86_64``)."""
from __future__ import annotations

import enum
import platform

X32_SYSCALL_BIT = 0x40000000


class Arch(enum.Enum):
    """An ABI a syscall can arrive through. X32 shares AUDIT_ARCH_X86_64 and sets ``X32_SYSCALL_BIT`` in nr."""

    X86_64 = "x86_64"
    I386 = "i386"
    X32 = "x32"
    AARCH64 = "aarch64"
    ARM = "arm"
    RISCV64 = "riscv64"
    S390X = "s390x"
    PPC64LE = "ppc64le"

    @property
    def audit_arch(self) -> int:
        return AUDIT_ARCH[self]

    @property
    def docker_name(self) -> str:
        return "SCMP_ARCH_" + {"i386": "X86"}.get(self.value, self.value.upper())

    @classmethod
    def parse(cls, text: str) -> "Arch":
        """Accept every common spelling: x86_64, amd64, SCMP_ARCH_X86_64, i386, x86, 386, arm64, aarch64 ..."""
        key = text.strip().lower()
        if key.startswith("scmp_arch_"):
            key = key[len("scmp_arch_"):]
        arch = _ALIASES.get(key)
        if arch is None:
            raise ValueError(f"unknown architecture {text!r} (expected one of: {', '.join(a.value for a in cls)})")
        return arch

    @classmethod
    def native(cls) -> "Arch":
        return cls.parse(platform.machine())


AUDIT_ARCH: dict[Arch, int] = {
    Arch.X86_64: 0xC000003E,
    Arch.I386: 0x40000003,
    Arch.X32: 0xC000003E,
    Arch.AARCH64: 0xC00000B7,
    Arch.ARM: 0x40000028,
    Arch.RISCV64: 0xC00000F3,
    Arch.S390X: 0x80000016,
    Arch.PPC64LE: 0xC0000015,
}

_ALIASES: dict[str, Arch] = {
    "x86_64": Arch.X86_64, "amd64": Arch.X86_64, "x86-64": Arch.X86_64,
    "i386": Arch.I386, "x86": Arch.I386, "386": Arch.I386, "i686": Arch.I386, "ia32": Arch.I386,
    "x32": Arch.X32,
    "aarch64": Arch.AARCH64, "arm64": Arch.AARCH64,
    "arm": Arch.ARM, "armv7l": Arch.ARM,
    "riscv64": Arch.RISCV64,
    "s390x": Arch.S390X,
    "ppc64le": Arch.PPC64LE,
}

# The ABIs a native arch also accepts syscalls through (what Docker's archMap lists as sub-architectures).
SUB_ARCHES: dict[Arch, tuple[Arch, ...]] = {
    Arch.X86_64: (Arch.I386, Arch.X32),
    Arch.AARCH64: (Arch.ARM,),
}
