"""Which syscall killed CMD, and which rule of which policy denied it (sandbox stage, after the child died).

The kernel writes an ``AUDIT_SECCOMP`` (1326) record when a filter kills a task (and for ``log`` actions):
``pid=… comm="nc" exe="/usr/bin/nc" sig=31 arch=c000003e syscall=49 compat=0 ip=… code=0x80000000``.
We subscribe to the audit multicast group (or, without CAP_AUDIT_READ, tail ``/dev/kmsg``) *before* the
child starts, and after it dies look for the record with its pid. The syscall comes from the kernel, never
from a guess; the rule is then looked up in the policies we installed, following ``policy.model``'s meaning.
Audit records carry no arguments, so a rule with argument conditions is named as "when its conditions hold".
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from syswarden.kernel.audit_netlink import AUDIT_LANDLOCK_ACCESS, AUDIT_LANDLOCK_DOMAIN, AUDIT_SYSCALL, AuditMulticast
from syswarden.kernel.kmsg import KmsgReader
from syswarden.syscalls import tables
from syswarden.syscalls.arch import AUDIT_ARCH, X32_SYSCALL_BIT, Arch

if TYPE_CHECKING:
    from syswarden.policy.model import Action, ActionKind, Policy, SyscallRule

# The policy model is imported where a record is judged: the watcher alone is on every launch's path, and a
# launch from the filter cache loads no policy.

AUDIT_SECCOMP = 1326
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


class SeccompWatcher:
    """Collects SECCOMP records from the moment it is created; open it before starting the child."""

    def __init__(self, channels: tuple[str, ...] = ("audit-netlink", "kmsg"), landlock: bool = False) -> None:
        """Open the first channel that works, in order (``audit-netlink`` needs CAP_AUDIT_READ). ``landlock``:
        also keep Landlock records (LANDLOCK_ACCESS, LANDLOCK_DOMAIN and the SYSCALL record of the same event,
        which names the process) as ``(type, text)`` in ``landlock_records``."""
        self.records: list[SeccompRecord] = []
        self.landlock_records: list[tuple[int, str]] = []
        self._landlock = landlock
        self._landlock_serials: set[int] = set()
        self._root: int | None = None
        self._tree: dict[int, bool] = {}
        self.channel = "none"
        self._multicast: AuditMulticast | None = None
        self._kmsg: KmsgReader | None = None
        for channel in channels:
            try:
                if channel == "audit-netlink":
                    self._multicast = AuditMulticast()
                elif channel == "kmsg":
                    self._kmsg = KmsgReader()
                else:
                    continue
            except OSError:
                continue
            self.channel = channel
            break

    def _poll(self, timeout: float) -> None:
        typed: list[tuple[int, str]] = []
        if self._multicast is not None:
            typed = self._multicast.read(timeout)
        elif self._kmsg is not None:
            typed = _kmsg_records(self._kmsg.read(timeout))
        else:
            time.sleep(timeout)
        parsed = [r for r in (parse_record(t, kind) for kind, t in typed if kind == AUDIT_SECCOMP) if r is not None]
        self.records.extend(parsed)
        if self._root is not None:
            for record in parsed:
                if record.fatal and record.pid not in self._tree:
                    self._tree[record.pid] = _descends_from(record.pid, self._root)
        if self._landlock:
            self._keep_landlock(typed)

    def _keep_landlock(self, typed: list[tuple[int, str]]) -> None:
        # A SYSCALL record follows the Landlock records of its event (same serial); others are not ours to keep.
        from syswarden.kernel import audit_fields
        for kind, text in typed:
            serial = audit_fields.serial_of(text)
            if serial is None:
                continue
            if kind in (AUDIT_LANDLOCK_ACCESS, AUDIT_LANDLOCK_DOMAIN):
                self._landlock_serials.add(serial)
            elif kind != AUDIT_SYSCALL or serial not in self._landlock_serials:
                continue
            self.landlock_records.append((kind, text))

    def watch_tree(self, root: int) -> None:
        """From now on, note for each killed process whether it descends from ``root`` (CMD), looked up in /proc
        while it is still there (a zombie until its parent reaps it)."""
        self._root = root

    def in_tree(self, pid: int) -> bool | None:
        """Whether killed ``pid`` was seen in CMD's tree: True, False (it was not), or None (gone before we
        could look, or no tree watched)."""
        return self._tree.get(pid)

    @property
    def lost(self) -> bool:
        """True when records were lost on our side (socket buffer overrun): counts are then lower bounds."""
        return self._multicast is not None and self._multicast.overruns > 0

    def fileno(self) -> int:
        """The descriptor to select on while waiting (-1 without a channel)."""
        reader = self._multicast or self._kmsg
        return reader.fileno() if reader is not None else -1

    def pump(self) -> None:
        """Take in what has arrived, so a long run cannot overflow the kernel-side buffer."""
        self._poll(0)

    def find(self, pid: int, timeout: float = 1.0) -> SeccompRecord | None:
        """The kill record of ``pid``; waits up to ``timeout`` because kauditd delivers asynchronously."""
        deadline = time.monotonic() + timeout
        while True:
            hit = next((r for r in self.records if r.pid == pid and r.fatal), None)
            remaining = deadline - time.monotonic()
            if hit is not None or remaining <= 0 or self.channel == "none":
                return hit
            self._poll(min(remaining, 0.1))

    def drain(self, timeout: float = 0.2) -> list[SeccompRecord]:
        """Every record seen so far (after waiting ``timeout`` for late ones)."""
        self._poll(timeout)
        return list(self.records)

    def close(self) -> None:
        for reader in (self._multicast, self._kmsg):
            if reader is not None:
                reader.close()


def _descends_from(pid: int, root: int, limit: int = 64) -> bool | None:
    """Whether ``pid`` is ``root`` or below it, following PPid in /proc; None when the chain cannot be read."""
    for _ in range(limit):
        if pid == root:
            return True
        if pid <= 1:
            return False
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            return None
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) < 2 or not fields[1].isdigit():
            return None
        pid = int(fields[1])
    return None


def _kmsg_records(texts: list[str]) -> list[tuple[int, str]]:
    """``(type, text)`` of the kernel log lines that are audit records (``audit: type=N audit(...): ...``)."""
    from syswarden.kernel import audit_fields
    out = []
    for text in texts:
        if text.startswith("audit: type="):
            kind = audit_fields.parse_record(text).type
            if kind is not None:
                out.append((kind, text))
    return out


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
