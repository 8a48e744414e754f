"""Which syscall killed CMD, and which rule of which policy denied it (sandbox stage, after the child died).

The kernel writes an ``AUDIT_SECCOMP`` (1326) record when a filter kills a task (and for ``log`` actions):
``pid=… comm="nc" exe="/usr/bin/nc" sig=31 arch=c000003e syscall=49 compat=0 ip=… code=0x80000000``.
We subscribe to the audit multicast group (or, without CAP_AUDIT_READ, tail ``/dev/kmsg``) *before* the
child starts, and after it dies look for the record with its pid. The syscall comes from the kernel, never
from a guess; the rule is then looked up in the policies we installed, following ``policy.model``'s meaning.
Audit records carry no arguments, so a rule with argument conditions is named as "when its conditions hold".
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from syswarden.sandbox.audit_watch import AUDIT_SECCOMP, SeccompWatcher
from syswarden.syscalls import tables
from syswarden.syscalls.arch import AUDIT_ARCH, X32_SYSCALL_BIT, Arch

if TYPE_CHECKING:
    from syswarden.policy.model import Action, ActionKind, Policy, SyscallRule

# The policy model is imported where a record is judged: the watcher alone is on every launch's path, and a
# launch from the filter cache loads no policy.

__all__ = ["AUDIT_SECCOMP", "SeccompRecord", "SeccompWatcher", "Verdict", "decide", "describe_policy",
           "describe_rule", "explain_kill", "parse_record", "responsible"]
_RET_ACTION_FULL = 0xFFFF0000


@dataclass(frozen=True, slots=True)
class SeccompRecord:
    """One AUDIT_SECCOMP record, decoded."""

    pid: int
    comm: str
    exe: str
    sig: int
    audit_arch: int
    nr: int
    code: int

    @property
    def arch(self) -> Arch | None:
        if self.audit_arch == AUDIT_ARCH[Arch.X86_64] and self.nr & X32_SYSCALL_BIT:
            return Arch.X32
        return next((a for a, v in AUDIT_ARCH.items() if v == self.audit_arch and a is not Arch.X32), None)

    @property
    def fatal(self) -> bool:
        """A kill, or a trap (which the kernel records with sig=0 although it raises SIGSYS)."""
        from syswarden.policy.model import ActionKind
        return bool(self.sig) or self.action_kind in (ActionKind.KILL_PROCESS, ActionKind.KILL_THREAD, ActionKind.TRAP)

    @property
    def action_kind(self) -> ActionKind | None:
        from syswarden.policy.model import ActionKind
        value = self.code & _RET_ACTION_FULL
        return next((k for k in ActionKind if k.value == value), None)

    @property
    def syscall(self) -> str:
        arch = self.arch  # the x32 table is keyed by numbers with X32_SYSCALL_BIT set, as the kernel reports them
        name = tables.name(arch, self.nr) if arch is not None else None
        return name or f"syscall_{self.nr}"


def parse_record(text: str, record_type: int | None = None) -> SeccompRecord | None:
    """Decode the text of a SECCOMP record (netlink payload or a kmsg ``audit: type=1326`` line); None when it
    is another record or lacks the fields a kill is explained with."""
    from syswarden.kernel import audit_fields  # records are rare: a launch that sees none never parses
    record = audit_fields.parse_record(text, record_type)
    if record.type not in (None, AUDIT_SECCOMP) or record.type_name not in ("", "SECCOMP"):
        return None
    pid, arch, nr = record.integer("pid"), record.integer("arch", 16), record.integer("syscall")
    if pid is None or arch is None or nr is None:
        return None
    return SeccompRecord(pid=pid, comm=record.text("comm") or "?", exe=record.text("exe") or "?",
                         sig=record.integer("sig") or 0, audit_arch=arch, nr=nr,
                         code=record.integer("code", 16) or 0)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What one policy does with a syscall: the deciding rule (None = default action)."""

    policy: Policy
    action: Action
    rule_index: int | None
    conditional: bool
    via: str = ""          # the operation reached through a multiplexer (i386 socketcall/ipc): "bind"


def decide(policy: Policy, name: str, arch: Arch) -> Verdict:
    """The action ``policy`` gives ``name`` on ``arch`` when argument conditions are unknown.

    Rules are tried in order (``policy.model``); the first rule without conditions decides. A rule with
    conditions that would deny is reported as the likely decider, marked conditional.
    """
    from syswarden.policy.model import ActionKind
    if arch not in policy.arches:
        return Verdict(policy, policy.bad_arch_action, None, False)
    conditional: Verdict | None = None
    for index, rule in enumerate(policy.rules):
        if name not in rule.names or (rule.arches is not None and arch not in rule.arches):
            continue
        if not rule.args:
            return conditional or Verdict(policy, rule.action, index, False)
        if conditional is None and rule.action.kind is not ActionKind.ALLOW:
            conditional = Verdict(policy, rule.action, index, True)
    return conditional or Verdict(policy, policy.default_action, None, False)


def responsible(policies: list[Policy], record: SeccompRecord) -> Verdict | None:
    """The installed policy whose verdict matches the action the kernel reported. A multiplexer (i386
    ``socketcall``/``ipc``) is judged through the operations it reaches: the audit record carries no
    arguments, so the call number is unknown and the first rule on such an operation with that action is named
    (with ``via``), as the compiled filter applies those rules to the multiplexer."""
    arch = record.arch
    if arch is None:
        return None
    verdicts = [decide(p, record.syscall, arch) for p in policies]
    direct = next((v for v in verdicts if v.action.kind is record.action_kind), None)
    if direct is not None and direct.rule_index is not None:
        return direct
    return _via_multiplexer(policies, record, arch) or direct


def _via_multiplexer(policies: list[Policy], record: SeccompRecord, arch: Arch) -> Verdict | None:
    from syswarden.syscalls.multiplexers import multiplexers_for
    mux = next((m for m in multiplexers_for(arch) if m.name == record.syscall), None)
    if mux is None:
        return None
    for policy in policies:
        for index, rule in enumerate(policy.rules):
            if rule.action.kind is not record.action_kind or (rule.arches is not None and arch not in rule.arches):
                continue
            operation = next((name for name in rule.names if mux.sub_calls(name)), None)
            if operation is not None:
                return Verdict(policy, rule.action, index, bool(rule.args), via=operation)
    return None


def describe_policy(policy: Policy) -> str:
    source = policy.source
    if source.startswith("profile:"):
        return f"profile '{source.split(':', 1)[1]}'"
    if source == "flags":
        return "the --drop/--allow flags"
    return f"policy '{policy.name or source or 'unnamed'}'"


def describe_rule(verdict: Verdict) -> str:
    if verdict.rule_index is None:
        return f"its default action ({verdict.action})"
    rule: SyscallRule = verdict.policy.rules[verdict.rule_index]
    where = f" at {rule.span}" if rule.span else ""
    note = f" '{rule.comment}'" if rule.comment else ""
    cond = " when its argument conditions hold" if verdict.conditional and not verdict.via else ""
    via = f", on {verdict.via} reached through {rule_mux(verdict)}" if verdict.via else ""
    return f"rule {verdict.rule_index + 1}{note}{where} ({rule.action}){cond}{via}"


def rule_mux(verdict: Verdict) -> str:
    """The multiplexer a ``via`` verdict went through (socketcall for socket operations, else ipc)."""
    from syswarden.syscalls.multiplexers import SOCKETCALL
    return "socketcall" if SOCKETCALL.sub_calls(verdict.via) else "ipc"


def explain_kill(record: SeccompRecord | None, policies: list[Policy], comm: str, pid: int) -> str:
    """The one-line explanation printed when CMD died of SIGSYS or a seccomp kill (``comm`` unescaped)."""
    if record is None:
        return (f"{comm} (pid {pid}) was killed by SIGSYS, but the kernel's SECCOMP audit record was not "
                f"found (no CAP_AUDIT_READ, or the printk rate limit dropped it); the syscall is unknown")
    arch = record.arch.value if record.arch else f"arch {record.audit_arch:#x}"
    head = f"{record.comm} (pid {pid}) was killed: syscall {record.syscall} ({record.nr}, {arch})"
    verdict = responsible(policies, record)
    if verdict is None:
        return f"{head} was denied (code {record.code:#x}) by a filter syswarden did not install"
    rule = verdict.policy.rules[verdict.rule_index] if verdict.rule_index is not None else None
    if rule is not None and rule.comment in ("--drop", "--allow") and verdict.policy.source != "flags":
        # flag rules merged in front of a profile: the flag decided, not the profile's own rules
        via = f" on {verdict.via} reached through {rule_mux(verdict)}" if verdict.via else ""
        return f"{head} is denied by the {rule.comment} flag{via} (merged into {describe_policy(verdict.policy)})"
    return f"{head} is denied by {describe_policy(verdict.policy)}, {describe_rule(verdict)}"
