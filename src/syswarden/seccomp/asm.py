"""The label assembler: symbolic instructions with named jump targets -> a ``Program`` with offsets.

The compiler emits code whose jumps all go forward to ``Label``s. Classic BPF conditional jumps reach at most
255 instructions ahead; when a target is farther, the assembler routes that side through a ``ja``
trampoline placed right after the jump (``ja`` has a 32-bit offset), and repeats layout until every offset
fits (inserting trampolines only lengthens jumps, so this terminates).
"""
from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar, Union

from syswarden.seccomp import insn as b
from syswarden.seccomp.insn import Insn, Program

T = TypeVar("T")
_ids = itertools.count()


@dataclass(frozen=True, slots=True)
class Label:
    """A position in the code; ``hint`` only makes debugging output readable."""

    hint: str = ""
    uid: int = field(default_factory=lambda: next(_ids))


@dataclass(frozen=True, slots=True)
class Stmt(Generic[T]):
    """A non-jump instruction; ``tag`` is carried to the output (the compiler tags returns with origins)."""

    code: int
    k: int = 0
    tag: T | None = None


@dataclass(frozen=True, slots=True)
class Goto:
    """``ja target``."""

    target: Label


@dataclass(frozen=True, slots=True)
class Branch:
    """``if (A <op> k) goto jt else goto jf``."""

    code: int
    k: int
    jt: Label
    jf: Label


Item = Union[Label, Stmt[T], Goto, Branch]


@dataclass(frozen=True, slots=True)
class Assembled(Generic[T]):
    program: Program
    tags: dict[int, T]
    labels: dict[Label, int]


def _layout(items: Sequence[Item[T]], far: set[tuple[int, bool]]) -> tuple[dict[Label, int], list[int]]:
    labels: dict[Label, int] = {}
    starts: list[int] = []
    pc = 0
    for i, item in enumerate(items):
        starts.append(pc)
        if isinstance(item, Label):
            labels[item] = pc
        elif isinstance(item, Branch):
            pc += 1 + ((i, True) in far) + ((i, False) in far)
        else:
            pc += 1
    return labels, starts


def _find_far(items: Sequence[Item[T]], labels: dict[Label, int], starts: list[int],
              far: set[tuple[int, bool]]) -> set[tuple[int, bool]]:
    new: set[tuple[int, bool]] = set()
    for i, item in enumerate(items):
        if not isinstance(item, Branch):
            continue
        for side, target in ((True, item.jt), (False, item.jf)):
            offset = labels[target] - starts[i] - 1
            if offset < 0:
                raise AssertionError(f"backward jump to {target} (compiler bug)")
            if offset > 255 and (i, side) not in far:
                new.add((i, side))
    return new


def assemble(items: Sequence[Item[T]]) -> Assembled[T]:
    """Resolve labels to offsets, adding ``ja`` trampolines for conditional jumps beyond 255."""
    far: set[tuple[int, bool]] = set()
    while True:
        labels, starts = _layout(items, far)
        new = _find_far(items, labels, starts, far)
        if not new:
            break
        far |= new
    out: list[Insn] = []
    tags: dict[int, T] = {}
    for i, item in enumerate(items):
        pc = len(out)
        if isinstance(item, Label):
            continue
        if isinstance(item, Stmt):
            if item.tag is not None:
                tags[pc] = item.tag
            out.append(b.stmt(item.code, item.k))
        elif isinstance(item, Goto):
            out.append(b.stmt(b.BPF_JMP | b.BPF_JA, labels[item.target] - pc - 1))
        else:
            out.extend(_branch(item, pc, labels, (i, True) in far, (i, False) in far))
    return Assembled(Program(tuple(out)), tags, labels)


def _branch(item: Branch, pc: int, labels: dict[Label, int], far_t: bool, far_f: bool) -> list[Insn]:
    tramps: list[Label] = [t for t, is_far in ((item.jt, far_t), (item.jf, far_f)) if is_far]
    jt = tramps.index(item.jt) if far_t else labels[item.jt] - pc - 1
    jf = (len(tramps) - 1 if far_f else labels[item.jf] - pc - 1)
    code = [b.jump(item.code, item.k, jt, jf)]
    for n, target in enumerate(tramps):
        code.append(b.stmt(b.BPF_JMP | b.BPF_JA, labels[target] - (pc + 1 + n) - 1))
    return code
