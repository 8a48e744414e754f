"""An ``AuditRule`` in auditctl's canonical listing form (``auditctl -l``, audit-userspace 3.0.9), so that
``syswarden audit list`` prints what auditctl prints for the same kernel rules.

auditctl's conventions, kept: a rule whose fields are only path/dir, perm and key, on every syscall, is a
watch (``-w PATH -p PERM -k KEY``); otherwise ``-a ACTION,LIST``, the arch as ``b64``/``b32``, the syscalls
(``-S all`` or names in number order), then every field in order. Numbers print signed (``auid!=-1``), ``a0``..``a3``
in hex, ``exit`` as an errno name when negative, ``msgtype`` by name, ``inode`` unsigned; keys one by one.
"""
from __future__ import annotations

import errno as _errno

from syswarden.audit import syscall_names
from syswarden.audit.constants import (ARG_FIELDS, ARCH_64BIT, COMPARISON_LISTING, FIELD_LISTING_NAME, FS_TYPES,
                                       KEY_SEPARATOR, PERM_BITS, PERM_ORDER, F, Filter, record_type_names)
from syswarden.audit.rule_model import AuditRule, RuleField

_WATCH_FIELDS = frozenset({F.PERM, F.FILTERKEY, F.DIR, F.WATCH})
_NO_SYSCALLS = frozenset({Filter.USER, Filter.TASK, Filter.EXCLUDE, Filter.FS})
_FS_NAMES = {v: k for k, v in FS_TYPES.items()}


def is_watch(rule: AuditRule) -> bool:
    """auditctl's test: only watch fields, a perm among them, and every syscall (for lists that take them)."""
    if any(f.field not in _WATCH_FIELDS for f in rule.fields):
        return False
    perm = any(f.field is F.PERM for f in rule.fields)
    return perm and (rule.filter in _NO_SYSCALLS or rule.all_syscalls)


def _signed(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def _arch_text(value: int) -> str | None:
    if syscall_names.arch_of(value) is None:
        return None
    return "b64" if value & ARCH_64BIT else "b32"


def _syscalls(rule: AuditRule) -> str:
    if rule.filter in _NO_SYSCALLS:
        return ""
    if rule.all_syscalls:
        return " -S all"
    arch_field = rule.first(F.ARCH)
    from syswarden.syscalls.arch import Arch
    arch = syscall_names.arch_of(arch_field.value) if arch_field is not None else Arch.native()
    names = []
    for nr in rule.syscalls:
        name = syscall_names.audit_name(arch, nr) if arch is not None else None
        names.append(name or str(nr))
    return " -S " + ",".join(names) if names else ""


def _perms(value: int) -> str:
    return "".join(ch for ch in PERM_ORDER if value & PERM_BITS[ch])


def _field(f: RuleField, watch: bool) -> str:
    op = f.op.symbol
    name = FIELD_LISTING_NAME.get(int(f.field), f"f{int(f.field)}")
    field = f.field
    if field is F.MSGTYPE:
        return f" -F {name}{op}{record_type_names().get(f.value, _signed(f.value))}"
    if field is F.WATCH:
        return f"-w {f.text}" if watch else f" -F path={f.text}"
    if field is F.DIR:
        return f"-w {f.text}" if watch else f" -F dir={f.text}"
    if field is F.FILTERKEY:
        keys = [k for k in (f.text or "").split(KEY_SEPARATOR) if k]
        return "".join(f" -k {k}" if watch else f" -F key={k}" for k in keys)
    if f.text is not None:
        return f" -F {name}{op}{f.text}"
    if field is F.PERM:
        return f" -p {_perms(f.value)}" if watch else f" -F perm={_perms(f.value)}"
    if field is F.INODE:
        return f" -F {name}{op}{f.value & 0xFFFFFFFF}"
    if field is F.FIELD_COMPARE:
        template = COMPARISON_LISTING.get(f.value)
        return f" -C {template % op}" if template else f" -C {f.value}"
    if field in ARG_FIELDS:
        return f" -F {name}{op}0x{f.value & 0xFFFFFFFF:X}"
    if field is F.EXIT:
        value = _signed(f.value)
        err = _errno.errorcode.get(-value) if value < 0 else None
        return f" -F {name}{op}-{err}" if err else f" -F {name}{op}{value}"
    if field is F.FSTYPE:
        return f" -F {name}{op}{_FS_NAMES.get(f.value, _signed(f.value))}"
    return f" -F {name}{op}{_signed(f.value)}"


def listing(rule: AuditRule) -> str:
    """The line ``auditctl -l`` prints for ``rule``."""
    watch = is_watch(rule)
    out = []
    if not watch:
        out.append(f"-a {rule.action.name.lower()},{rule.filter.keyword}")
        for f in rule.fields:
            if f.field is F.ARCH:
                text = _arch_text(f.value)
                out.append(f" -F arch{f.op.symbol}{text}" if text else f" -F arch{f.op.symbol}0x{f.value:X}")
        out.append(_syscalls(rule))
    out.extend(_field(f, watch) for f in rule.fields if f.field is not F.ARCH)
    return "".join(out)
