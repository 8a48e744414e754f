"""The typed policy model every format loads into and the compiler reads.

Meaning (the reference the compiler and its differential tests are held to):
for a syscall ``S`` arriving on arch ``A`` with arguments ``a0..a5``:

1. If ``A`` is not in ``policy.arches`` -> ``policy.bad_arch_action``.
2. The rules that name ``S`` and apply to ``A`` (``rule.arches`` is None or contains ``A``) are tried in
   policy order; the first whose conditions *all* hold (AND) decides the action.
3. Otherwise -> ``policy.default_action``.

Argument values are unsigned 64-bit; a condition with ``width=32`` compares only the low 32 bits. Whatever the
condition says, it is compared no wider than the kernel reads that argument of that syscall on that arch: an
``int`` parameter (socket's family, ioctl's cmd) on its low 32 bits, a ``umode_t`` on its low 16, so
``socket(0x100000028)`` is judged as the ``socket(40)`` the kernel runs (``syscalls.prototypes``; a value
written as the sign extension of a negative number means that number at the narrow width). On 32-bit ABIs
(i386, arm) every condition compares the low 32 bits at most: a 64-bit process entering through ``int 0x80``
can put anything in the high half of the register seccomp sees.
``MASKED_EQ`` holds when ``(arg & mask) == value``.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field

from syswarden.spans import Span
from syswarden.syscalls.arch import Arch


class ActionKind(enum.Enum):
    """Seccomp return actions, valued by their SECCOMP_RET_* constant (data bits zero)."""

    KILL_PROCESS = 0x80000000
    KILL_THREAD = 0x00000000
    TRAP = 0x00030000
    ERRNO = 0x00050000
    NOTIFY = 0x7FC00000
    TRACE = 0x7FF00000
    LOG = 0x7FFC0000
    ALLOW = 0x7FFF0000


@dataclass(frozen=True, slots=True)
class Action:
    """An action with its 16-bit data (errno number for ERRNO, message for TRACE/TRAP)."""

    kind: ActionKind
    data: int = 0

    @property
    def kernel_value(self) -> int:
        """The 32-bit value a seccomp filter returns."""
        return self.kind.value | (self.data & 0xFFFF)

    def __str__(self) -> str:
        name = self.kind.name.lower()
        return f"{name}({self.data})" if self.kind in (ActionKind.ERRNO, ActionKind.TRACE) else name


ALLOW = Action(ActionKind.ALLOW)
KILL_PROCESS = Action(ActionKind.KILL_PROCESS)


class Op(enum.Enum):
    EQ = "eq"
    NE = "ne"
    LT = "lt"
    LE = "le"
    GT = "gt"
    GE = "ge"
    MASKED_EQ = "masked_eq"


@dataclass(frozen=True, slots=True)
class ArgCondition:
    """``arg[index] OP value``; for MASKED_EQ, ``(arg[index] & mask) == value``. Values are unsigned."""

    index: int
    op: Op
    value: int
    mask: int = 0xFFFFFFFFFFFFFFFF
    width: int = 64
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class SyscallRule:
    """One rule: these syscalls, when all ``args`` hold, get ``action``. ``arches`` None means every arch."""

    names: tuple[str, ...]
    action: Action
    args: tuple[ArgCondition, ...] = ()
    arches: frozenset[Arch] | None = None
    comment: str = ""
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Policy:
    """A checked policy. ``flags`` holds seccomp filter flags by name (``tsync``, ``log``, ``spec_allow``)."""

    default_action: Action
    rules: tuple[SyscallRule, ...] = ()
    arches: tuple[Arch, ...] = (Arch.X86_64, Arch.I386, Arch.X32)
    bad_arch_action: Action = KILL_PROCESS
    flags: frozenset[str] = frozenset()
    name: str = ""
    source: str = ""                   # where it came from: a file path, "profile:NAME", "flags"
    warnings: tuple[str, ...] = field(default=(), compare=False)
