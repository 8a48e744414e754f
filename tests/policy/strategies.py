"""Hypothesis strategies for random policies, shared by the round-trip tests."""
from __future__ import annotations

from hypothesis import strategies as st

from syswarden.policy.model import Action, ActionKind, ArgCondition, Op, Policy, SyscallRule
from syswarden.syscalls import tables
from syswarden.syscalls.arch import Arch

U64 = (1 << 64) - 1
# Names every listed arch has, so no name draws an "only on other arches" warning.
X86_NAMES = sorted(set(tables.table(Arch.X86_64)) & set(tables.table(Arch.I386)) & set(tables.table(Arch.X32)))


def actions(kinds: tuple[ActionKind, ...] = tuple(ActionKind)) -> st.SearchStrategy[Action]:
    def build(kind: ActionKind, data: int) -> Action:
        return Action(kind, data if kind in (ActionKind.ERRNO, ActionKind.TRACE) else 0)
    return st.builds(build, st.sampled_from(kinds), st.integers(0, 0xFFFF))


def conditions(width_choices: tuple[int, ...]) -> st.SearchStrategy[ArgCondition]:
    def build(index: int, op: Op, value: int, mask: int, width: int) -> ArgCondition:
        limit = (1 << width) - 1
        if op is Op.MASKED_EQ:
            return ArgCondition(index, op, value & limit, mask & limit, width)
        return ArgCondition(index, op, value & limit, U64, width)
    big = st.one_of(st.integers(0, 64), st.integers(0, U64))
    return st.builds(build, st.integers(0, 5), st.sampled_from(list(Op)), big, big, st.sampled_from(width_choices))


@st.composite
def policies(draw: st.DrawFn, *, docker: bool = False) -> Policy:
    """Random policies; ``docker=True`` keeps to what a Docker profile can say."""
    kinds = tuple(k for k in ActionKind if not (docker and k is ActionKind.NOTIFY))
    default = draw(actions(kinds))
    arches = tuple(draw(st.lists(st.sampled_from([Arch.X86_64, Arch.I386, Arch.X32]), min_size=1, max_size=3,
                                 unique=True)))
    rules = []
    for _ in range(draw(st.integers(0, 6))):
        action = draw(actions().filter(lambda a: not docker or a != default))
        conds = draw(st.lists(conditions((64,) if docker else (32, 64)), max_size=3,
                              unique_by=(lambda c: c.index) if docker else None))
        rule_arches = None if docker else draw(st.none() | st.frozensets(st.sampled_from(list(arches)),
                                                                           min_size=1))
        rules.append(SyscallRule(
            names=tuple(draw(st.lists(st.sampled_from(X86_NAMES), min_size=1, max_size=4, unique=True))),
            action=action, args=tuple(conds), arches=rule_arches,
            comment=draw(st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12)),
        ))
    return Policy(
        default_action=default, rules=tuple(rules), arches=arches,
        bad_arch_action=Action(ActionKind.KILL_THREAD) if docker else draw(actions()),
        flags=draw(st.frozensets(st.sampled_from(["tsync", "log", "spec_allow"]))),
        name="" if docker else draw(st.text("abcxyz-_ ", max_size=8)),
        source="p.txt",
    )
