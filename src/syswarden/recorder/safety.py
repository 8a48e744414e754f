"""The syscalls whose arguments decide safety, which arguments, and the conditions ``--args`` makes of the
values a run passed them.

The list is the issue's and the field's (Docker's default profile conditions personality, clone and socket;
minijail's generator warns about ioctl, socket, prctl, mmap and mprotect): socket/socketpair domain and type,
clone flags (the namespace bits only: thread and fork flags vary with libc, namespaces are the risk),
personality, prctl option, ioctl request, mmap/mprotect PROT_EXEC, setsockopt level and name, and the signal of
kill/tkill/tgkill. ``clone3`` takes its flags in memory, which a filter cannot read: it is allowed whole when
seen (``EPERM`` on it would break glibc's fallback to ``clone``; see docs/recorder.md).

i386 ``socketcall``/``ipc`` calls whose operation has no direct syscall (``accept``, ``semtimedop``) are kept
as the multiplexer with its call number, always, with or without ``--args``: allowing the multiplexer whole
would allow every socket operation.
"""
from __future__ import annotations

from dataclasses import dataclass

from syswarden.policy.model import ArgCondition, Op

U32 = 0xFFFFFFFF
PROT_EXEC = 0x4
# CLONE_NEWTIME | CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID
# | CLONE_NEWNET
CLONE_NAMESPACES = 0x00000080 | 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 \
    | 0x40000000


@dataclass(frozen=True, slots=True)
class SafetyArg:
    """One argument that decides safety: its index, the bits that matter, and whether it is an ``int``."""

    index: int
    mask: int = U32
    is_int: bool = True


@dataclass(frozen=True, slots=True)
class SafetyArgs:
    args: tuple[SafetyArg, ...]
    exec_bit: int = 0      # mmap/mprotect: values without this bit collapse into one rule

    @property
    def indexes(self) -> tuple[int, ...]:
        return tuple(a.index for a in self.args)


def _one(index: int, mask: int = U32, is_int: bool = True) -> SafetyArgs:
    return SafetyArgs((SafetyArg(index, mask, is_int),))


_PROT = SafetyArgs((SafetyArg(2),), exec_bit=PROT_EXEC)

# By the name a filter uses on x86_64, x32 and i386 (i386's ``mmap`` takes a pointer to its arguments: none).
SAFETY_ARGS: dict[str, SafetyArgs] = {
    "socket": SafetyArgs((SafetyArg(0), SafetyArg(1))),
    "socketpair": SafetyArgs((SafetyArg(0), SafetyArg(1))),
    "clone": _one(0, CLONE_NAMESPACES, is_int=False),
    "personality": _one(0),
    "prctl": _one(0),
    "ioctl": _one(1),
    "mmap": _PROT,
    "mmap2": _PROT,
    "mprotect": _PROT,
    "pkey_mprotect": _PROT,
    "setsockopt": SafetyArgs((SafetyArg(1), SafetyArg(2))),
    "kill": _one(1),
    "tkill": _one(1),
    "tgkill": _one(2),
}
# Recorded always: the operation number of a multiplexer kept under its own name.
MULTIPLEXER_ARGS: dict[str, SafetyArgs] = {"socketcall": _one(0), "ipc": _one(0, 0xFFFF)}


def safety_args(name: str, with_args: bool, i386: bool) -> SafetyArgs | None:
    """Which arguments of ``name`` to record (None: only count it)."""
    if i386 and name in MULTIPLEXER_ARGS:
        return MULTIPLEXER_ARGS[name]
    if not with_args or (i386 and name == "mmap"):
        return None
    return SAFETY_ARGS.get(name)


def wanted_values(spec: SafetyArgs, args: tuple[int, ...]) -> tuple[int, ...]:
    """The values to keep of one call's arguments: the bits that matter (all of them for an exec mapping)."""
    out = []
    for arg in spec.args:
        value = args[arg.index] if arg.index < len(args) else 0
        if spec.exec_bit and value & spec.exec_bit:
            out.append(value & U32)
        else:
            out.append(value & (spec.exec_bit or arg.mask))
    return tuple(out)


def conditions(spec: SafetyArgs, values: tuple[int, ...], docker: bool) -> tuple[ArgCondition, ...]:
    """The conditions allowing exactly ``values`` (as ``wanted_values`` kept them).

    An ``int`` argument is compared on its low 32 bits (the kernel reads an int as 32 bits): ``width: 32`` in
    our format, ``MASKED_EQ`` with a 32-bit mask in Docker's (which compares 64 bits only)."""
    out = []
    for arg, value in zip(spec.args, values):
        mask = arg.mask
        if spec.exec_bit:
            mask = U32 if value & spec.exec_bit else spec.exec_bit
        out.append(_condition(arg.index, mask, value, arg.is_int, docker))
    return tuple(out)


def _condition(index: int, mask: int, value: int, is_int: bool, docker: bool) -> ArgCondition:
    if docker:
        return ArgCondition(index, Op.MASKED_EQ, value & mask, mask=mask)
    width = 32 if is_int else 64
    full = U32 if is_int else (1 << 64) - 1
    if mask == full:
        return ArgCondition(index, Op.EQ, value, width=width)
    return ArgCondition(index, Op.MASKED_EQ, value & mask, mask=mask, width=width)
