"""Decisions: what each syscall number does on one arch, derived from a checked ``Policy``.

This is the middle of the compiler: for every (arch, nr) the rules that name the syscall and apply to the
arch become an ordered list of ``Entry`` (conditions -> action) ending in a fallback action, following the
reference meaning in ``policy/model.py`` (first matching rule in policy order wins, else the default).

Multiplexers (i386 ``socketcall``/``ipc``): a rule on ``bind`` also governs ``socketcall`` with
``args[0] == SYS_BIND``. When such a rule has argument conditions they sit behind a pointer and cannot be
checked; the entry is then *uncertain* and is resolved in the safe direction: the call gets the **stricter**
(by kernel precedence, KILL_PROCESS > KILL_THREAD > TRAP > ERRNO > NOTIFY > TRACE > LOG > ALLOW) of the
rule's action and whatever the rest of the list would decide. So a conditional deny applies to every call
through the multiplexer (deny wins), and a conditional allow is dropped when what follows is stricter (the
call falls to the default deny). A warning names each such rule.

Argument widths: each condition is compared at the width the kernel reads the argument
(``syscalls.prototypes.arg_width``): an ``int`` argument on its low 32 bits, a ``umode_t`` on its low 16,
whatever the policy format said. See ``kernel_condition``.
"""
from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from syswarden.errors import CompileError
from syswarden.policy.model import Action, ArgCondition, Op, Policy, SyscallRule
from syswarden.syscalls import prototypes, tables
from syswarden.syscalls.arch import Arch
from syswarden.syscalls.multiplexers import Multiplexer, multiplexers_for

_MAX_MUX_ENTRIES = 2048


class OriginKind(enum.Enum):
    RULE = "rule"
    DEFAULT = "default"
    BAD_ARCH = "bad-arch"


@dataclass(frozen=True, slots=True)
class Origin:
    """Why a return happens: a rule (by policy index), the default action, or the bad-arch action."""

    kind: OriginKind
    rule_index: int | None = None
    rule: SyscallRule | None = None
    note: str = ""

    def describe(self) -> str:
        if self.kind is OriginKind.BAD_ARCH:
            return "bad-arch action (architecture or ABI not in the policy)"
        if self.kind is OriginKind.DEFAULT:
            return "default action" + (f" ({self.note})" if self.note else "")
        assert self.rule is not None
        where = f" at {self.rule.span}" if self.rule.span else ""
        names = ", ".join(self.rule.names[:4]) + (", ..." if len(self.rule.names) > 4 else "")
        note = f", {self.note}" if self.note else ""
        # Numbered from 1, as run's explanations and the loaders' errors count rules.
        number = self.rule_index + 1 if self.rule_index is not None else "?"
        return f"rule {number} [{names}]{where}{note}"


DEFAULT_ORIGIN = Origin(OriginKind.DEFAULT)
BAD_ARCH_ORIGIN = Origin(OriginKind.BAD_ARCH)


@dataclass(frozen=True, slots=True)
class Entry:
    """``if all(conds): return action``. ``uncertain`` marks conditions that could not be compiled."""

    conds: tuple[ArgCondition, ...]
    action: Action
    origin: Origin
    uncertain: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    """Entries tried in order, then ``fallback``. No entries means the action does not depend on arguments."""

    entries: tuple[Entry, ...]
    fallback: Action
    fallback_origin: Origin

    @property
    def constant(self) -> bool:
        return not self.entries


def rank(action: Action) -> int:
    """Kernel precedence: the lower, the stricter (SECCOMP_RET_ACTION_FULL compared as a signed s32)."""
    value = action.kind.value
    return value - (1 << 32) if value & 0x80000000 else value


def stricter(first: Entry, second: Entry) -> Entry:
    """The stricter of two outcomes; on equal precedence the first (the rule being applied) wins."""
    return second if rank(second.action) < rank(first.action) else first


def canonical(entries: Sequence[Entry], fallback: Action, origin: Origin) -> Decision:
    """Cut after the first unconditional entry and drop trailing entries that cannot change the outcome."""
    kept: list[Entry] = []
    for entry in entries:
        if not entry.conds and not entry.uncertain:
            fallback, origin = entry.action, entry.origin
            break
        kept.append(entry)
    while kept and kept[-1].action == fallback and not kept[-1].uncertain:
        kept.pop()
    return Decision(tuple(kept), fallback, origin)


def _applies(rule: SyscallRule, arch: Arch) -> bool:
    return rule.arches is None or arch in rule.arches


def kernel_condition(cond: ArgCondition, arch: Arch, name: str) -> ArgCondition:
    """``cond`` compared at the width the kernel reads argument ``cond.index`` of ``name`` on ``arch``.

    The condition then holds on the value the kernel uses (``arg mod 2**width``), not on register bits the
    kernel ignores: ``socket`` arg0 == 40 also catches 0x100000028. A value written as the sign extension of a
    narrower negative number (AT_FDCWD as 0xffffffffffffff9c) is taken as that number at the narrower width; any
    other value with bits above the width is kept, so it can never be equal (the compiler emits a constant
    outcome, as for ``width: 32``)."""
    width = prototypes.arg_width(arch, name, cond.index)
    if width >= cond.width:
        return cond
    value, mask = cond.value, cond.mask & ((1 << width) - 1)
    if value >> (width - 1) == (1 << (cond.width - width + 1)) - 1:
        value &= (1 << width) - 1
    return replace(cond, value=value, mask=mask, width=width)


def kernel_conditions(conds: tuple[ArgCondition, ...], arch: Arch, name: str) -> tuple[ArgCondition, ...]:
    return tuple(kernel_condition(c, arch, name) for c in conds)


def width_notes(policy: Policy, arch: Arch, name: str) -> list[str]:
    """One sentence per argument of ``name`` that the policy tests wider than the kernel reads it."""
    notes: dict[int, str] = {}
    for rule in policy.rules:
        if name not in rule.names or not _applies(rule, arch):
            continue
        for cond in rule.args:
            width = prototypes.arg_width(arch, name, cond.index)
            if width < cond.width and cond.index not in notes:
                ctype = prototypes.arg_type(arch, name, cond.index)
                notes[cond.index] = (f"arg {cond.index} of {name} is compared on its low {width} bits: the kernel "
                                     f"reads it as {ctype} ({arch.value})")
    return [notes[i] for i in sorted(notes)]


def _numbered_rules(policy: Policy, arch: Arch) -> dict[int, list[Entry]]:
    by_nr: dict[int, list[Entry]] = {}
    for index, rule in enumerate(policy.rules):
        if not _applies(rule, arch):
            continue
        seen: set[int] = set()
        for name in rule.names:
            nr = tables.number(arch, name)
            if nr is None or nr in seen:      # names this arch lacks are skipped for it
                continue
            seen.add(nr)
            conds = kernel_conditions(rule.args, arch, name)
            by_nr.setdefault(nr, []).append(Entry(conds, rule.action, Origin(OriginKind.RULE, index, rule)))
    return by_nr


def _call_condition(mux: Multiplexer, call: int) -> ArgCondition:
    if mux.call_mask == 0xFFFFFFFF:
        return ArgCondition(0, Op.EQ, call, width=32)
    return ArgCondition(0, Op.MASKED_EQ, call, mask=mux.call_mask, width=32)


def _mux_entries(policy: Policy, arch: Arch, mux: Multiplexer, warnings: list[str]) -> list[Entry]:
    entries: list[Entry] = []
    opened_by: int | None = None           # a rule naming the multiplexer itself, without conditions
    for index, rule in enumerate(policy.rules):
        if not _applies(rule, arch):
            continue
        if mux.name in rule.names:
            conds = kernel_conditions(rule.args, arch, mux.name)
            entries.append(Entry(conds, rule.action, Origin(OriginKind.RULE, index, rule)))
            if not rule.args and opened_by is None:
                opened_by = index
            continue
        for name in rule.names:
            calls = mux.sub_calls(name)
            shadowed = opened_by is not None
            if calls and opened_by is not None and (rule.args or rule.action != policy.rules[opened_by].action):
                warnings.append(f"{arch.value}: rule {index + 1} on {name} does not govern {mux.name}(call="
                                f"{calls[0]}): rule {opened_by + 1} names {mux.name} itself without conditions and "
                                f"matches first, so {name} is reachable through {mux.name} regardless")
            for call in calls:
                note = f"via {mux.name}(call={call}, {name})"
                origin = Origin(OriginKind.RULE, index, rule, note)
                entries.append(Entry((_call_condition(mux, call),), rule.action, origin, bool(rule.args)))
                if rule.args and not shadowed:
                    where = f" at {rule.span}" if rule.span else ""
                    warnings.append(
                        f"{arch.value}: rule {index + 1}{where} on {name} has argument conditions that cannot be "
                        f"checked through {mux.name}(call={call}) (the arguments sit behind a pointer); "
                        f"such calls get the stricter of {rule.action} and what applies without the rule")
    return entries


def _contradicts(a: Iterable[ArgCondition], b: Iterable[ArgCondition]) -> bool:
    """True when two sets of equality conditions on the same word cannot both hold (a0==1 vs a0==2)."""
    for x in a:
        for y in b:
            same_shape = (x.index, x.op, x.mask, x.width) == (y.index, y.op, y.mask, y.width)
            if same_shape and x.op in (Op.EQ, Op.MASKED_EQ) and x.value != y.value:
                return True
    return False


def _reachable_rest(rest: Sequence[Entry], conds: tuple[ArgCondition, ...], fallback: Entry) -> list[Entry]:
    """The outcomes the entries after an uncertain one can produce for calls satisfying ``conds``."""
    out: list[Entry] = []
    for entry in rest:
        if _contradicts(conds, entry.conds):
            continue
        out.append(entry)
        if not entry.uncertain and set(entry.conds) <= set(conds):
            return out                        # always matches here: nothing after it is reachable
    return [*out, fallback]


def resolve_uncertain(entries: Sequence[Entry], fallback: Entry) -> list[Entry]:
    """Rewrite uncertain entries so each call gets the stricter of the entry and what follows it.

    An entry at least as strict as everything after it becomes certain (on equal precedence the earlier rule
    wins); one less strict than everything after it is dropped; otherwise the rest of the list is copied under
    the entry's checkable conditions with every action raised to at least the entry's (exactly "the stricter
    of both" for every call, at the cost of size).
    """
    work = list(entries)
    i = 0
    while i < len(work):
        entry = work[i]
        if not entry.uncertain:
            i += 1
            continue
        rest = work[i + 1:]
        outcomes = _reachable_rest(rest, entry.conds, fallback)
        if all(rank(entry.action) <= rank(o.action) for o in outcomes):
            work[i] = replace(entry, uncertain=False)
            i += 1
        elif all(rank(entry.action) > rank(o.action) for o in outcomes):
            del work[i]
        else:
            raised = [replace(stricter(entry, o), conds=tuple(dict.fromkeys(entry.conds + o.conds)),
                              uncertain=o.uncertain)
                      for o in outcomes]
            work[i:i + 1] = raised
            if len(work) > _MAX_MUX_ENTRIES:
                raise CompileError("multiplexed syscall rules expand beyond "
                                   f"{_MAX_MUX_ENTRIES} entries; simplify the conditional socket/ipc rules")
    return work


def arch_decisions(policy: Policy, arch: Arch, warnings: list[str] | None = None) -> dict[int, Decision]:
    """Every syscall number of ``arch`` whose action is not simply the default, with its decision."""
    sink = warnings if warnings is not None else []
    default = policy.default_action
    out: dict[int, Decision] = {}
    for nr, entries in _numbered_rules(policy, arch).items():
        out[nr] = canonical(entries, default, DEFAULT_ORIGIN)
    for mux in multiplexers_for(arch):
        mux_nr = tables.number(arch, mux.name)
        if mux_nr is None:
            continue
        fallback = Entry((), default, DEFAULT_ORIGIN)
        entries = resolve_uncertain(_mux_entries(policy, arch, mux, sink), fallback)
        out[mux_nr] = canonical(entries, default, DEFAULT_ORIGIN)
    return {nr: d for nr, d in out.items() if not (d.constant and d.fallback == default)}
