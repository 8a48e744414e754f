"""A recording -> the smallest allow-list ``Policy`` that lets the run happen again (the learning stage's output,
built as the policy model every format dumps).

- One ``allow`` rule per (ABI, syscall group) in our format, the ABI named in the rule (``arches``), so an i386
  child's ``mmap2`` is allowed on i386 only. Docker/OCI profiles cannot name a rule's ABI: there the rules are
  the union over ABIs (the format's limit, as in every Docker profile).
- Groups are systemd's (``@file-system``, ``@network-io``...), first match in ``GROUP_ORDER``: a reader sees what
  kind of access each block grants; the rule's comment names the group.
- ``--args``: the syscalls of ``safety.SAFETY_ARGS`` get one conditional rule per distinct value seen.
- The default action is the caller's (``errno(EPERM)`` unless told otherwise); every ABI of the native arch is
  listed so an ABI the run never used gets the default action, not a kill.
- ``LAUNCHER_NEEDS``: what ``syswarden run`` itself calls between installing the filter and CMD's first
  instruction (docs/recorder.md says how it was found); ``TIMING_DEPENDENT``: what a run may call or not by
  timing alone once it has made the call that triggers it (a thread, a handler, a timed wait).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from syswarden.policy.formats.native_yaml import default_arches
from syswarden.policy.model import ALLOW, Action, ActionKind, ArgCondition, Policy, SyscallRule
from syswarden.policy.resolve import check
from syswarden.recorder.recording import Recording
from syswarden.recorder.safety import conditions, safety_args
from syswarden.syscalls import groups, tables
from syswarden.syscalls.arch import Arch

EPERM = 1
DEFAULT_ACTION = Action(ActionKind.ERRNO, EPERM)
GROUP_ORDER = ("@basic-io", "@file-system", "@io-event", "@network-io", "@ipc", "@process", "@signal", "@timer",
               "@default", "@memlock", "@resources", "@setuid", "@chown", "@sync", "@aio", "@sandbox", "@pkey",
               "@clock", "@cpu-emulation", "@debug", "@keyring", "@module", "@mount", "@raw-io", "@reboot",
               "@swap", "@privileged", "@obsolete")
OTHER = "other"
# Found by experiment (docs/recorder.md): after the launcher's seccomp() returns in the child, the only call
# before CMD's first instruction is the execve of CMD; it is exempted by pointer already, but a policy that
# does not allow execve would then refuse every later exec of the run. ``execve`` is therefore always kept.
LAUNCHER_NEEDS: tuple[str, ...] = ("execve",)
# Calls a run makes or skips by timing alone, which one trace cannot be trusted to show, brought along on the ABI
# where their trigger was seen (the ones its table has; companions trigger in turn). Errs towards running: every
# companion is in systemd's @default (always allowed there) and in Docker's default profile.
# - a created task: a lock found taken or a join that has to wait is a futex call, absent from a run where the
#   other side was quicker (1 recording in 40 of a four-thread program); glibc aborts on EPERM from futex;
# - an installed handler runs when a signal comes and returns through rt_sigreturn (sigreturn for i386's old
#   handlers); denied, the process dies on the way back;
# - a sleep or timed wait stopped by SIGSTOP and continued resumes through restart_syscall.
_TASKS = ("futex", "futex_time64")
_HANDLERS = ("rt_sigreturn", "sigreturn")
_RESTART = ("restart_syscall",)
TIMING_DEPENDENT: dict[str, tuple[str, ...]] = {
    "clone": _TASKS, "clone3": _TASKS,
    "rt_sigaction": _HANDLERS, "sigaction": _HANDLERS, "signal": _HANDLERS,
    **dict.fromkeys(("nanosleep", "clock_nanosleep", "clock_nanosleep_time64", "poll", "futex", "futex_time64"),
                    _RESTART),
}


@dataclass(frozen=True, slots=True)
class BuildOptions:
    default_action: Action = DEFAULT_ACTION
    with_args: bool = False
    docker: bool = False          # rules without arches, 64-bit comparisons (what Docker/OCI can say)
    name: str = ""


def group_of(name: str) -> str:
    """The first group of ``GROUP_ORDER`` holding ``name``, else ``other``."""
    return _GROUP_INDEX.get(name, OTHER)


def _group_index() -> dict[str, str]:
    out: dict[str, str] = {}
    for group in reversed(GROUP_ORDER):
        for member in groups.expand(group):
            out[member] = group
    return out


_GROUP_INDEX = _group_index()


def needed_calls(recording: Recording, native: Arch | None = None) -> dict[Arch, set[str]]:
    """(ABI -> names) the policy must allow: what was seen plus what the launcher needs on the native ABI."""
    out: dict[Arch, set[str]] = {}
    for arch, name in recording.calls:
        out.setdefault(arch, set()).add(name)
    out.setdefault(native or Arch.native(), set()).update(LAUNCHER_NEEDS)
    for arch, names in out.items():
        triggers = names & TIMING_DEPENDENT.keys()
        while triggers:                       # a companion can be a trigger (futex -> restart_syscall)
            added = {n for t in triggers for n in TIMING_DEPENDENT[t] if tables.number(arch, n) is not None}
            triggers = (added - names) & TIMING_DEPENDENT.keys()
            names.update(added)
    return out


def build_policy(recording: Recording, options: BuildOptions = BuildOptions()) -> Policy:
    """The allow-list policy for ``recording`` (checked like a loaded one)."""
    needed = needed_calls(recording)
    plain: dict[tuple[str, Arch | None], set[str]] = {}
    conditional: list[SyscallRule] = []
    for arch, names in needed.items():
        rule_arch = None if options.docker else arch
        for name in names:
            spec = safety_args(name, options.with_args, arch is Arch.I386)
            values = recording.arg_values.get((arch, name))
            if spec is None or not values:
                plain.setdefault((group_of(name), rule_arch), set()).add(name)
                continue
            for vals in values:
                conditional.append(SyscallRule((name,), ALLOW, conditions(spec, vals, options.docker),
                                               _arches(rule_arch), comment=group_of(name)))
    rules = [SyscallRule(tuple(sorted(names)), ALLOW, (), _arches(arch), comment=group)
             for (group, arch), names in plain.items()]
    rules = sorted(rules, key=_rule_order) + sorted(_unique(conditional), key=_rule_order)
    policy = Policy(options.default_action, tuple(rules), default_arches(), name=options.name, source="recorded")
    return check(policy)


def _arches(arch: Arch | None) -> frozenset[Arch] | None:
    return None if arch is None else frozenset({arch})


def _unique(rules: list[SyscallRule]) -> list[SyscallRule]:
    return list(dict.fromkeys(rules))


def _rule_order(rule: SyscallRule) -> tuple[object, ...]:
    group_rank = GROUP_ORDER.index(rule.comment) if rule.comment in GROUP_ORDER else len(GROUP_ORDER)
    arch_rank = min((list(Arch).index(a) for a in rule.arches), default=-1) if rule.arches else -1
    return (arch_rank, group_rank, rule.names, tuple((c.index, c.op.value, c.value, c.mask) for c in rule.args))


def covered(policy: Policy, rule: SyscallRule) -> bool:
    """Whether ``policy`` already allows every call ``rule`` allows (same rule, or an unconditional allow)."""
    from syswarden.seccomp.decisions import arch_decisions
    from syswarden.syscalls import tables
    if rule in policy.rules:
        return True
    for arch in sorted(rule.arches or policy.arches, key=list(Arch).index):
        if arch not in policy.arches:
            return False
        decisions = arch_decisions(policy, arch)
        for name in rule.names:
            nr = tables.number(arch, name)
            if nr is None:
                continue
            decision = decisions.get(nr)
            action = policy.default_action if decision is None else decision.fallback
            if (decision is not None and not decision.constant) or action.kind is not ActionKind.ALLOW:
                return False
    return True


def merge_into(existing: Policy, recorded: Policy) -> tuple[Policy, list[SyscallRule]]:
    """``existing`` plus the rules of ``recorded`` it does not cover yet (appended: an explicit deny of the
    existing policy still wins, as its author wrote it). Returns the merged policy and the added rules."""
    added = []
    for rule in recorded.rules:
        missing = tuple(n for n in rule.names if not covered(existing, replace(rule, names=(n,))))
        if missing:
            added.append(replace(rule, names=missing))
    merged = replace(existing, rules=existing.rules + tuple(added), warnings=())
    return check(merged), added


def shadowed(policy: Policy, rule: SyscallRule) -> list[str]:
    """Names of ``rule`` that an earlier non-allow rule of ``policy`` decides first (the addition has no effect)."""
    out: list[str] = []
    for earlier in policy.rules:
        if earlier is rule:
            break
        if earlier.action.kind not in (ActionKind.ALLOW, ActionKind.LOG):
            out.extend(n for n in rule.names if n in earlier.names and not earlier.args)
    return out


def conditions_text(conds: tuple[ArgCondition, ...]) -> str:
    """``arg1 == 0x5401`` for messages."""
    parts = []
    for c in conds:
        op = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}.get(c.op.value)
        parts.append(f"arg{c.index} {op} {c.value:#x}" if op else f"arg{c.index} & {c.mask:#x} == {c.value:#x}")
    return " && ".join(parts)
