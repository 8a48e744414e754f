"""What ``syswarden record`` writes: the policy text (through the policy formats' own dumpers, with the call
counts as comments in our YAML) and the ``--summary`` table (``strace -c``'s columns, per ABI)."""
from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from syswarden.errors import InputError
from syswarden.policy.formats import native_yaml
from syswarden.policy.landlock import SECTION, LandlockSpec, dump_section
from syswarden.policy.load import dump_policy
from syswarden.policy.model import Policy
from syswarden.recorder.recording import Recording
from syswarden.syscalls.arch import Arch


def _count_note(calls: int, errors: int) -> str:
    note = f"{calls} call{'s' if calls != 1 else ''}"
    return note + (f", {errors} failed" if errors else "")


def notes_for(policy: Policy, recording: Recording) -> dict[int, dict[str, str]]:
    """Per rule index, per name: how often the run called it on the rule's ABI (``launcher`` for names only
    ``syswarden run`` needs)."""
    out: dict[int, dict[str, str]] = {}
    for index, rule in enumerate(policy.rules):
        arches = rule.arches or frozenset(policy.arches)
        for name in rule.names:
            counts = [recording.calls[(a, name)] for a in arches if (a, name) in recording.calls]
            calls, errors = sum(c.calls for c in counts), sum(c.errors for c in counts)
            note = _count_note(calls, errors) if counts else "needed by syswarden run (launcher)"
            if rule.args:
                note += " (all argument values)"
            out.setdefault(index, {})[name] = note
    return out


def header(recording: Recording, backend: str) -> list[str]:
    lines = ["Recorded by `syswarden record`"]
    for command in recording.commands[:8]:
        lines.append(f"  from: {shlex.join(command)}")
    if len(recording.commands) > 8:
        lines.append(f"  ... and {len(recording.commands) - 8} more runs")
    lines.append(f"  backend: {backend}; {recording.total_calls()} syscalls seen; comments count calls per ABI")
    return lines


def render(policy: Policy, fmt: str, recording: Recording | None = None, backend: str = "",
           landlock: LandlockSpec | None = None) -> str:
    """The policy in ``fmt`` (``yaml``, ``docker`` or ``go-seccomp``); the Landlock part only in YAML: the
    other formats have no place for it. With ``recording``, our YAML carries the counts as comments."""
    if fmt != "yaml" or recording is None:
        if landlock is not None and fmt != "yaml":
            raise InputError(f"a {'Docker/OCI' if fmt == 'docker' else fmt} policy cannot hold Landlock rules "
                             "(expected --format yaml with --landlock)")
        return dump_policy(policy, fmt, landlock)
    text = native_yaml.dump(policy, notes_for(policy, recording), header(recording, backend))
    if landlock is not None and not landlock.empty:
        text += native_yaml.dump_section(SECTION, dump_section(landlock))
    return text


@dataclass(frozen=True, slots=True)
class SummaryRow:
    arch: Arch
    name: str
    calls: int
    errors: int
    percent: float


def summary_rows(recording: Recording) -> list[SummaryRow]:
    """Per ABI, syscalls by calls (most first), with their share of that ABI's calls."""
    rows: list[SummaryRow] = []
    for arch in recording.arches():
        entries = [(name, recording.calls[(arch, name)]) for name in recording.names(arch)]
        total = sum(c.calls for _, c in entries) or 1
        entries.sort(key=lambda e: (-e[1].calls, e[0]))
        rows.extend(SummaryRow(arch, name, c.calls, c.errors, 100.0 * c.calls / total) for name, c in entries)
    return rows


def summary_table(recording: Recording) -> list[str]:
    """``strace -c``'s table without times (% calls, calls, errors, syscall), one block per ABI."""
    out: list[str] = []
    rows = summary_rows(recording)
    for arch in recording.arches():
        mine = [r for r in rows if r.arch is arch]
        out.append(f"ABI {arch.value}:")
        out.append(f"{'% calls':>7} {'calls':>9} {'errors':>9} syscall")
        out.append(f"{'-' * 7} {'-' * 9} {'-' * 9} {'-' * 16}")
        for r in mine:
            errors = str(r.errors) if r.errors else ""
            out.append(f"{r.percent:7.2f} {r.calls:>9} {errors:>9} {r.name}")
        out.append(f"{'-' * 7} {'-' * 9} {'-' * 9} {'-' * 16}")
        out.append(f"{100.0:7.2f} {sum(r.calls for r in mine):>9} {sum(r.errors for r in mine) or '':>9} total")
    return out


def unknown_warnings(recording: Recording) -> Sequence[str]:
    return [f"{arch.value} syscall number {nr} ({n} calls) has no name in syswarden's tables; it is not in the "
            "policy and will get the default action" for (arch, nr), n in sorted(recording.unknown.items(),
                                                                                 key=lambda kv: kv[0][1])]
