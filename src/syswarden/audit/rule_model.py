"""The checked model of an audit rules file: one command per line (add or delete a rule, delete all, a control
setting), each with the span of its line. A rule is held as the kernel holds it (``struct audit_rule_data``:
list, action, 2048-bit syscall mask, fields with operators and values), so encoding, listing and comparing with
the kernel's own listing need no guessing.
"""
from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field

from syswarden.audit.constants import (AUDIT_BITMASK_SIZE, AUDIT_SYSCALL_CLASSES, KEY_SEPARATOR, Action, F, Filter,
                                       Op)
from syswarden.errors import InputError
from syswarden.spans import SourceText, Span
from syswarden.syscalls.arch import Arch

ALL_WORD = 0xFFFFFFFF
# The mask the kernel stores for "-S all": every bit but the syscall-class bits at the top, which it consumes.
_CLASS_BITS = ((1 << AUDIT_SYSCALL_CLASSES) - 1) << (32 - AUDIT_SYSCALL_CLASSES)
MASK_ALL: tuple[int, ...] = (ALL_WORD,) * (AUDIT_BITMASK_SIZE - 1) + (ALL_WORD & ~_CLASS_BITS,)
MASK_NONE: tuple[int, ...] = (0,) * AUDIT_BITMASK_SIZE


class AuditRuleError(InputError):
    """An audit rules line (or a rule the kernel refused) is wrong; the span names the file, line and column."""

    code = "audit-rule"


@dataclass(frozen=True, slots=True)
class RuleField:
    """One ``-F``/``-C``/``-k`` condition: field, operator, value. String fields keep ``text`` (``value`` is 0;
    the encoder stores the length); numbers are held as the unsigned 32-bit value the kernel compares."""

    field: F
    op: Op
    value: int = 0
    text: str | None = None
    span: Span | None = dataclasses.field(default=None, compare=False)   # ``field`` here is the attribute above


@dataclass(frozen=True, slots=True)
class AuditRule:
    """One kernel audit rule. ``mask`` is the 64-word syscall bitmap in the kernel's form."""

    filter: Filter
    action: Action
    mask: tuple[int, ...] = MASK_NONE
    fields: tuple[RuleField, ...] = ()
    prepend: bool = False
    span: Span | None = field(default=None, compare=False)
    #: The ABI the ``-S`` names were looked up in (the rule's arch, else the machine's): for messages.
    syscall_arch: Arch | None = field(default=None, compare=False)

    @property
    def all_syscalls(self) -> bool:
        """``-S all`` as auditctl tells it: every word but the last is full."""
        return all(w == ALL_WORD for w in self.mask[:-1])

    @property
    def syscalls(self) -> tuple[int, ...]:
        """The syscall numbers set in the mask, ascending."""
        return tuple(w * 32 + b for w, word in enumerate(self.mask) if word for b in range(32) if word >> b & 1)

    @property
    def keys(self) -> tuple[str, ...]:
        """The rule's keys (``-k a -k b`` is one key field ``a\\x01b``)."""
        for f in self.fields:
            if f.field is F.FILTERKEY and f.text is not None:
                return tuple(k for k in f.text.split(KEY_SEPARATOR) if k)
        return ()

    def first(self, which: F) -> RuleField | None:
        """The first field of kind ``which``."""
        return next((f for f in self.fields if f.field is which), None)

    def same_rule(self, other: AuditRule) -> bool:
        """The kernel's notion of equal rules (``audit_compare_rule``): list, action, mask and fields."""
        return (self.filter, self.action, self.mask, self.fields) == (other.filter, other.action, other.mask,
                                                                       other.fields)


class Control(enum.Enum):
    """Settings a rules file may change (``-b -f -r -e --backlog_wait_time``)."""

    BACKLOG_LIMIT = "backlog_limit"
    FAILURE = "failure"
    RATE_LIMIT = "rate_limit"
    ENABLED = "enabled"
    BACKLOG_WAIT_TIME = "backlog_wait_time"
    LOGINUID_IMMUTABLE = "loginuid_immutable"
    RESET_LOST = "reset_lost"


@dataclass(frozen=True, slots=True)
class AddRule:
    rule: AuditRule
    span: Span | None = field(default=None, compare=False)
    text: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class DeleteRule:
    rule: AuditRule
    span: Span | None = field(default=None, compare=False)
    text: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class DeleteAll:
    """``-D`` (every rule), or ``-D -k KEY`` (the rules whose key contains KEY, as auditctl matches)."""

    key: str | None = None
    span: Span | None = field(default=None, compare=False)
    text: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class SetControl:
    what: Control
    value: int = 0
    span: Span | None = field(default=None, compare=False)
    text: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class ErrorMode:
    """``-i`` (ignore errors of later lines) or ``-c`` (continue past them, failing at the end)."""

    mode: str
    span: Span | None = field(default=None, compare=False)
    text: str = field(default="", compare=False)


Command = AddRule | DeleteRule | DeleteAll | SetControl | ErrorMode


@dataclass(frozen=True, slots=True)
class RuleWarning:
    message: str
    span: Span | None = None

    def __str__(self) -> str:
        return f"{self.span}: {self.message}" if self.span else self.message


@dataclass(frozen=True, slots=True)
class RulesFile:
    """A parsed and checked rules file."""

    name: str
    commands: tuple[Command, ...]
    warnings: tuple[RuleWarning, ...] = ()
    source: SourceText | None = field(default=None, compare=False, repr=False)

    @property
    def rules(self) -> tuple[AuditRule, ...]:
        """The rules the file adds, in order."""
        return tuple(c.rule for c in self.commands if isinstance(c, AddRule))
