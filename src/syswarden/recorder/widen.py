"""``syswarden record --widen P -- CMD``: learning from denials, as aa-logprof does for AppArmor. CMD runs under
P with every denial turned into ``log`` (``syswarden run --log``); the kernel's SECCOMP audit records of the run
name each syscall P would have refused, and those become the allow rules P needs, shown before they are written.

Only the seccomp part is widened: Landlock is left out of the logged run (its denials are not logged per call
before ABI 7, and a denied open changes the run's path). An i386 ``socketcall`` comes back as the multiplexer
(the audit record carries no arguments), so its allow rule is the whole multiplexer.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from syswarden.policy import load as policy_load
from syswarden.policy.formats import flags
from syswarden.policy.model import Policy, SyscallRule
from syswarden.recorder.build import BuildOptions, build_policy, conditions_text, merge_into
from syswarden.recorder.recording import Recording
from syswarden.recorder.report import render
from syswarden.sandbox import launcher, supervisor
from syswarden.sandbox.denials import SeccompRecord


@dataclass(slots=True)
class WidenPlan:
    policy_file: str
    added: list[SyscallRule]
    text: str                     # the widened policy, in the format of the file
    exit_code: int
    records_lost: bool = False
    denied: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [f"widen: {name} would have been denied ({n}x)" for name, n in sorted(self.denied.items())]
        for rule in self.added:
            arches = "/".join(sorted(a.value for a in rule.arches)) if rule.arches else "all arches"
            extra = f" when {conditions_text(rule.args)}" if rule.args else ""
            out.append(f"widen: + allow {', '.join(rule.names)} ({arches}){extra}")
        if self.records_lost:
            out.append("widen: audit records were lost in transit: run again to see whether more is needed")
        return out


def _format_of(path: str) -> str:
    text, filename = policy_load.read_source(path)
    return policy_load.detect(policy_load.parse(text, filename))


def denied_recording(records: list[SeccompRecord]) -> Recording:
    """The logged SECCOMP records as a recording (arch and syscall name as the filter saw them)."""
    rec = Recording()
    for record in records:
        arch, name = record.arch, record.syscall
        if arch is not None and not name.startswith("syscall_"):
            rec.count(arch, name)
    return rec


def widened(policy: Policy, denied: Recording, docker: bool) -> tuple[Policy, list[SyscallRule]]:
    """``policy`` plus allow rules for what was denied (nothing else: no launcher additions)."""
    additions = build_policy(denied, BuildOptions(docker=docker))
    wanted = tuple(r for r in additions.rules if any((a, n) in denied.calls for n in r.names
                                                      for a in (r.arches or policy.arches)))
    trimmed = tuple(SyscallRule(tuple(n for n in r.names if any((a, n) in denied.calls
                                                                 for a in (r.arches or policy.arches))),
                                r.action, r.args, r.arches, r.comment) for r in wanted)
    return merge_into(policy, Policy(additions.default_action, trimmed, additions.arches))


def plan(policy_file: str, cmd: tuple[str, ...]) -> WidenPlan:
    """Run CMD under ``policy_file`` in log mode and work out the additions."""
    policy, spec = policy_load.load_policy_file(policy_file)
    launch = launcher.prepare(list(cmd), [flags.as_dry_run(policy)])
    outcome = supervisor.run(launch, dry_run=True)
    denied = denied_recording(list(outcome.logged))
    fmt = _format_of(policy_file)
    merged, added = widened(policy, denied, docker=fmt == "docker")
    text = render(merged, fmt, landlock=spec)
    counts = {f"{arch.value} {name}": c.calls for (arch, name), c in denied.calls.items()}
    return WidenPlan(policy_file, added, text, supervisor.pass_through(outcome) if outcome.signal is None
                     else 128 + outcome.signal, outcome.records_lost, counts)
