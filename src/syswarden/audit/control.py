"""Rules files into the kernel and back: load (all or nothing), list, delete, status (over ``kernel.audit_netlink``).

``load`` applies a checked ``RulesFile`` command by command. When the kernel refuses one, everything this file
did is undone before the error is raised: the rules it added are deleted (newest first), the rules it deleted
(``-d``, ``-D``) are added back, and the status values it set (``-b -f -r -e --backlog_wait_time``) are restored;
the error names the line. A file that says ``-i`` asks for kernel errors to be ignored (they become warnings,
as with auditctl); ``-c`` continues to the end to report every error, then undoes the file.
"""
from __future__ import annotations

import errno as _errno
import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from syswarden.audit.constants import STRING_FIELDS
from syswarden.audit.rule_encode import decode, encode
from syswarden.audit.rule_model import (AddRule, AuditRuleError, Command, Control, DeleteAll,
                                        DeleteRule, ErrorMode, RulesFile, SetControl)
from syswarden.errors import KernelError
from syswarden.kernel import audit_netlink

_STATUS_KEYS = {Control.BACKLOG_LIMIT: "backlog_limit", Control.FAILURE: "failure",
                Control.RATE_LIMIT: "rate_limit", Control.BACKLOG_WAIT_TIME: "backlog_wait_time"}


@dataclass(slots=True)
class LoadReport:
    """What a load did: counts, and the kernel errors a ``-i`` file asked to ignore."""

    added: int = 0
    deleted: int = 0
    settings: int = 0
    ignored: list[str] = field(default_factory=list)


def _kernel_message(exc: OSError, command: Command) -> str:
    what = "add" if isinstance(command, AddRule) else "delete" if isinstance(command, DeleteRule) else "apply"
    reason = {_errno.EEXIST: "the rule exists already", _errno.ENOENT: "no such rule in the kernel",
              _errno.EINVAL: "the kernel refused the rule as invalid (a field or operator this kernel does not "
                             "support, or a path it cannot watch)",
              _errno.EPERM: "not permitted (needs CAP_AUDIT_CONTROL; or audit is locked with -e 2)"}.get(
        exc.errno or 0, exc.strerror or str(exc))
    return f"kernel: cannot {what} this rule: {reason}"


class _Undo:
    """The inverse of every kernel change made so far, applied newest first."""

    def __init__(self) -> None:
        self.steps: list[Callable[[], None]] = []

    def run(self) -> list[str]:
        problems = []
        for step in reversed(self.steps):
            try:
                step()
            except OSError as exc:
                problems.append(str(exc))
        self.steps.clear()
        return problems


def _apply(command: Command, undo: _Undo, report: LoadReport, status: dict[str, int]) -> None:
    if isinstance(command, AddRule):
        raw = encode(command.rule)
        audit_netlink.add_rule(raw)
        undo.steps.append(lambda: audit_netlink.delete_rule(raw))
        report.added += 1
    elif isinstance(command, DeleteRule):
        raw = encode(command.rule)
        audit_netlink.delete_rule(raw)
        undo.steps.append(lambda: audit_netlink.add_rule(raw))
        report.deleted += 1
    elif isinstance(command, DeleteAll):
        for raw in _matching(command.key):
            audit_netlink.delete_rule(raw)
            undo.steps.append(functools.partial(audit_netlink.add_rule, raw))
            report.deleted += 1
    elif isinstance(command, SetControl):
        _set(command, undo, status)
        report.settings += 1


def _set(command: SetControl, undo: _Undo, status: dict[str, int]) -> None:
    if command.what is Control.ENABLED:
        before = status.get("enabled", 0)
        audit_netlink.set_audit_enabled(command.value)
        if before in (0, 1):
            undo.steps.append(lambda: audit_netlink.set_audit_enabled(before))
    elif command.what is Control.LOGINUID_IMMUTABLE:
        audit_netlink.set_loginuid_immutable()
    elif command.what is Control.RESET_LOST:
        audit_netlink.reset_lost()
    else:
        key = _STATUS_KEYS[command.what]
        before = status.get(key, 0)
        audit_netlink.set_status(**{key: command.value})
        undo.steps.append(lambda: audit_netlink.set_status(**{key: before}))


def _matching(key: str | None) -> list[bytes]:
    """The kernel rules ``-D`` (or ``-D -k KEY``: those whose key string contains KEY) removes."""
    raws = audit_netlink.list_rules()
    if key is None:
        return raws
    return [raw for raw in raws if any(key in k for k in decode(raw).keys)]


def load(rules: RulesFile, *, allow_immutable: bool = False) -> LoadReport:
    """Apply ``rules`` to the kernel, all or nothing (see the module doc). Raises ``AuditRuleError`` naming the
    line the kernel refused, after undoing the file; ``KernelError`` when audit cannot be controlled at all."""
    for command in rules.commands:
        if isinstance(command, SetControl) and not allow_immutable and (
                (command.what is Control.ENABLED and command.value == 2)
                or command.what is Control.LOGINUID_IMMUTABLE):
            raise AuditRuleError(f"{command.text.strip()!r} cannot be undone until reboot; refused without "
                                 "--allow-immutable", span=command.span)
        rule = getattr(command, "rule", None)
        if rule is not None and any(f.text is not None and f.field not in STRING_FIELDS for f in rule.fields):
            raise AuditRuleError("a user or group name in this rule is unknown on this machine", span=command.span,
                                 source=rules.source)
    try:
        status = audit_netlink.get_status()
    except OSError as exc:
        raise KernelError(f"cannot talk to the kernel's audit subsystem: {exc.strerror or exc} (root or "
                          "CAP_AUDIT_CONTROL is needed)") from None
    if status.get("enabled") == 2:
        raise KernelError("audit is locked (enabled 2): no rule can change until reboot")
    report = LoadReport()
    undo = _Undo()
    mode = ""
    errors: list[AuditRuleError] = []
    for command in rules.commands:
        if isinstance(command, ErrorMode):
            mode = command.mode
            continue
        try:
            _apply(command, undo, report, status)
        except OSError as exc:
            error = AuditRuleError(_kernel_message(exc, command), span=command.span, source=rules.source)
            if mode == "ignore":
                report.ignored.append(str(error))
                continue
            errors.append(error)
            if mode != "continue":
                break
    if errors:
        problems = undo.run()
        first = errors[0]
        if len(errors) > 1:
            first.with_context(f"and {len(errors) - 1} more: " + "; ".join(str(e) for e in errors[1:4]))
        first.with_context(f"nothing from {rules.name} was kept" if not problems else
                           f"undoing {rules.name} failed partly: {'; '.join(problems)}")
        raise first
    return report


def delete_all(key: str | None = None) -> int:
    """``auditctl -D [-k KEY]``: delete every rule (or those whose key contains KEY); returns how many."""
    raws = _matching(key)
    for raw in raws:
        audit_netlink.delete_rule(raw)
    return len(raws)
