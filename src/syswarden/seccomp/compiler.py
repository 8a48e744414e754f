"""The seccomp compiler: a checked ``Policy`` -> one classic BPF ``Program`` covering several arches.

Shape of the output (every jump goes forward)::

    A = arch; if A == AUDIT_ARCH_X86_64 goto x86; if A == AUDIT_ARCH_I386 goto i386; return BAD_ARCH
    x86:  A = nr; if A >= 0x40000000 goto x32-tree (or BAD_ARCH when x32 is not in the policy)
          x86_64 tree ...     x32 tree ...     argument blocks ...     shared returns
    i386: A = nr; i386 tree ...

Each tree is a balanced binary search (``jge``) over intervals of syscall numbers that share an outcome, so
instructions executed grow with log2 of the number of intervals. An interval whose action does not depend
on arguments jumps straight to a shared ``ret``: that path holds only ``ld nr/arch``, ``jeq/jge K``, ``ja``
and ``ret``, which the kernel's constant-action cache (Linux >= 5.11) understands. Syscalls whose action
depends on arguments jump to an argument block that tests 64-bit values as two 32-bit halves, and arguments the
kernel reads narrower (``int``: 32 bits, ``umode_t``: 16; ``decisions.kernel_condition``) on their low bits only.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from syswarden.errors import CompileError
from syswarden.policy.model import Action, ActionKind, ArgCondition, Op, Policy
from syswarden.seccomp import insn as b
from syswarden.seccomp.asm import Branch, Goto, Item, Label, Stmt, assemble
from syswarden.seccomp.decisions import (
    BAD_ARCH_ORIGIN, DEFAULT_ORIGIN, Decision, Entry, Origin, OriginKind, arch_decisions,
)
from syswarden.seccomp.emulator import check_program
from syswarden.seccomp.insn import Program
from syswarden.syscalls.arch import X32_SYSCALL_BIT, Arch

_U32 = 0xFFFFFFFF
_BIG_ENDIAN_ARCHES = frozenset({Arch.S390X})
# ABIs whose syscalls take 32-bit arguments. The kernel hands seccomp the full 64-bit register, and a 64-bit
# process entering through `int 0x80` chooses the high half freely (tested: dup(0x100000001) via int 0x80 runs
# as dup(1)), so every condition there compares the low 32 bits only (libseccomp does the same).
NARROW_ARCHES = frozenset({Arch.I386, Arch.ARM})
# nr -1 runs nothing: it is what a tracer sets to skip a call (strace's fault injection, RET_TRACE
# supervisors), and the kernel runs the filter on it before skipping. Killing it (x32's bad-arch action, or
# an allow-list's default) kills traced programs for a call that never happens, so every listed arch allows it.
NO_SYSCALL = 0xFFFFFFFF
SKIP = Decision((), Action(ActionKind.ALLOW), Origin(OriginKind.DEFAULT, note="nr -1: no syscall runs"))
_LD_W_ABS = b.BPF_LD | b.BPF_W | b.BPF_ABS
_RET_K = b.BPF_RET | b.BPF_K
_JEQ, _JGE, _JGT = b.BPF_JMP | b.BPF_JEQ | b.BPF_K, b.BPF_JMP | b.BPF_JGE | b.BPF_K, b.BPF_JMP | b.BPF_JGT | b.BPF_K

Tag = Origin


@dataclass(frozen=True, slots=True)
class CompiledFilter:
    """A compiled filter and what is needed to explain its decisions.

    ``ret_origins`` maps the pc of a ``ret`` that belongs to one rule (argument blocks, bad-arch returns) to
    its origin; shared constant returns are explained per syscall through ``const_origins[(arch, nr)]``.
    """

    program: Program
    policy: Policy
    arches: tuple[Arch, ...]
    ret_origins: Mapping[int, Origin] = field(default_factory=dict)
    const_origins: Mapping[tuple[Arch, int], Origin] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def flags(self) -> frozenset[str]:
        return self.policy.flags

    def to_bytes(self) -> bytes:
        return self.program.to_bytes()


@dataclass(frozen=True, slots=True)
class _Interval:
    start: int
    leaf: Decision


def _leaf_key(d: Decision) -> object:
    return ("const", d.fallback) if d.constant else ("args", d)


class _Section:
    """Code for one AUDIT_ARCH value: trees, argument blocks and shared returns, all labelled."""

    def __init__(self, policy: Policy, big_endian: bool, narrow: bool) -> None:
        self.policy = policy
        self.big_endian = big_endian
        self.narrow = narrow
        self.items: list[Item[Tag]] = []
        self.tail: list[Item[Tag]] = []
        self.blocks: dict[Decision, Label] = {}
        self.bad_arch = Label("bad-arch")
        self._rets: dict[Action, Label] = {}

    def finish(self) -> list[Item[Tag]]:
        bad = Stmt(_RET_K, self.policy.bad_arch_action.kernel_value, BAD_ARCH_ORIGIN)
        return [*self.items, *self.tail, self.bad_arch, bad]

    # -- dispatch on the syscall number ------------------------------------------------------------------

    def tree(self, decisions: Mapping[int, Decision], lo: int, hi: int) -> Label:
        """Emit a binary search over [lo, hi), then its returns; return the label to jump to for it."""
        default = Decision((), self.policy.default_action, DEFAULT_ORIGIN)
        self._rets = {}
        root = self._subtree(_intervals(decisions, lo, hi, default))
        # One return per action, right after the tree: every leaf jump stays short (no trampoline) while
        # the tree is under 256 nodes, and the code is about one instruction per interval.
        for action, label in self._rets.items():
            self.items += [label, Stmt(_RET_K, action.kernel_value)]
        return root

    def _subtree(self, ivs: Sequence[_Interval]) -> Label:
        if len(ivs) == 1:
            return self._leaf(ivs[0].leaf)
        mid = len(ivs) // 2
        node = Label(f"node {ivs[mid].start:#x}")
        self.items.append(node)
        slot = len(self.items)
        self.items.append(node)            # placeholder, replaced once both subtrees have labels
        left = self._subtree(ivs[:mid])
        right = self._subtree(ivs[mid:])
        self.items[slot] = Branch(_JGE, ivs[mid].start, right, left)
        return node

    def _leaf(self, decision: Decision) -> Label:
        if decision.constant:
            if decision.fallback not in self._rets:
                self._rets[decision.fallback] = Label(f"ret {decision.fallback}")
            return self._rets[decision.fallback]
        if decision not in self.blocks:
            self.blocks[decision] = label = Label("args")
            self.tail += [label, *self._arg_block(decision)]
        return self.blocks[decision]

    # -- argument blocks ---------------------------------------------------------------------------------

    def _arg_block(self, decision: Decision) -> list[Item[Tag]]:
        code: list[Item[Tag]] = []
        fallback = Label("fallback")
        starts = [Label("entry") for _ in decision.entries] + [fallback]
        for n, entry in enumerate(decision.entries):
            code += [starts[n], *self._entry(entry, starts[n + 1])]
        code += [fallback, Stmt(_RET_K, decision.fallback.kernel_value, decision.fallback_origin)]
        return code

    def _entry(self, entry: Entry, fail: Label) -> list[Item[Tag]]:
        code: list[Item[Tag]] = []
        for cond in entry.conds:
            passed = Label("pass")
            code += [*self.condition(cond, passed, fail), passed]
        return [*code, Stmt(_RET_K, entry.action.kernel_value, entry.origin)]

    def condition(self, cond: ArgCondition, ok: Label, fail: Label) -> list[Item[Tag]]:
        """Code that jumps to ``ok`` when ``cond`` holds for the 64-bit (or low 32-bit) argument, else ``fail``."""
        if self.narrow and cond.width > 32:
            cond = ArgCondition(cond.index, cond.op, cond.value, cond.mask, 32)
        if cond.op is Op.NE:
            return self.condition(ArgCondition(cond.index, Op.EQ, cond.value, cond.mask, cond.width), fail, ok)
        if cond.op is Op.LT:
            return self.condition(ArgCondition(cond.index, Op.GE, cond.value, cond.mask, cond.width), fail, ok)
        if cond.op is Op.LE:
            return self.condition(ArgCondition(cond.index, Op.GT, cond.value, cond.mask, cond.width), fail, ok)
        lo_off, hi_off = b.arg_offsets(cond.index, self.big_endian)
        if cond.op in (Op.EQ, Op.MASKED_EQ):
            mask = cond.mask if cond.op is Op.MASKED_EQ else (1 << 64) - 1
            return _masked_eq(lo_off, hi_off, cond.width, mask, cond.value, ok, fail)
        return _ordered(lo_off, hi_off, cond.width, cond.value, cond.op is Op.GE, ok, fail)


def _masked_eq(lo_off: int, hi_off: int, width: int, mask: int, value: int, ok: Label,
               fail: Label) -> list[Item[Tag]]:
    mask &= (1 << width) - 1
    if value & ~mask:                      # bits the mask clears can never equal a set bit of value
        return [Goto(fail)]
    code: list[Item[Tag]] = []
    halves = ((hi_off, mask >> 32, value >> 32), (lo_off, mask & _U32, value & _U32))
    for n, (off, m, v) in enumerate(halves):
        if m == 0:
            continue
        code.append(Stmt(_LD_W_ABS, off))
        if m != _U32:
            code.append(Stmt(b.BPF_ALU | b.BPF_AND | b.BPF_K, m))
        nxt = ok if n == 1 else Label("lo")
        code.append(Branch(_JEQ, v, nxt, fail))
        if n == 0:
            code.append(nxt)
    if not code or isinstance(code[-1], Label):
        code.append(Goto(ok))              # the low half is unmasked out: the high half decided
    return code


def _ordered(lo_off: int, hi_off: int, width: int, value: int, inclusive: bool, ok: Label,
             fail: Label) -> list[Item[Tag]]:
    """``arg > value`` (or ``>=``): decide on the high words, and on the low words when the high ones are equal."""
    vh, vl = value >> 32, value & _U32
    last = Branch(_JGE if inclusive else _JGT, vl, ok, fail)
    if width <= 32:
        # Only the low ``width`` bits count: a value past them is never reached (always false for > and >=).
        if value >> width:
            return [Goto(fail)]
        low_word: list[Item[Tag]] = [Stmt(_LD_W_ABS, lo_off)]
        if width < 32:
            low_word.append(Stmt(b.BPF_ALU | b.BPF_AND | b.BPF_K, (1 << width) - 1))
        return [*low_word, last]
    low = Label("lo")
    tail: list[Item[Tag]] = [low, Stmt(_LD_W_ABS, lo_off), last]
    if vh == 0:                            # any high bit set is already greater
        return [Stmt(_LD_W_ABS, hi_off), Branch(_JEQ, 0, low, ok), *tail]
    if vh == _U32:                         # nothing is greater in the high word
        return [Stmt(_LD_W_ABS, hi_off), Branch(_JEQ, vh, low, fail), *tail]
    equal = Label("hi-equal")
    return [Stmt(_LD_W_ABS, hi_off), Branch(_JGT, vh, ok, equal), equal, Branch(_JEQ, vh, low, fail), *tail]


def _intervals(decisions: Mapping[int, Decision], lo: int, hi: int, default: Decision) -> list[_Interval]:
    """Split [lo, hi) into maximal runs of numbers with the same leaf (gaps take the default)."""
    out: list[_Interval] = []

    def add(start: int, leaf: Decision) -> None:
        if out and out[-1].start == start:     # a number's own leaf replaces the gap started there
            out.pop()
        if out and _leaf_key(out[-1].leaf) == _leaf_key(leaf):
            return
        out.append(_Interval(start, leaf))

    add(lo, default)
    for nr in sorted(n for n in decisions if lo <= n < hi):
        add(nr, decisions[nr])
        if nr + 1 < hi:
            add(nr + 1, default)
    return out


def _arch_order(arches: Sequence[Arch]) -> list[int]:
    """AUDIT_ARCH values to test, native first (most syscalls take the first branch)."""
    try:
        native = Arch.native()
    except ValueError:
        native = None
    audits = list(dict.fromkeys(a.audit_arch for a in arches))
    if native is not None and native.audit_arch in audits:
        audits.remove(native.audit_arch)
        audits.insert(0, native.audit_arch)
    return audits


def _const_origins(arch: Arch, decisions: Mapping[int, Decision]) -> dict[tuple[Arch, int], Origin]:
    return {(arch, nr): d.fallback_origin for nr, d in decisions.items() if d.constant}


def _section(policy: Policy, audit: int, arches: Sequence[Arch], warnings: list[str],
             origins: dict[tuple[Arch, int], Origin]) -> list[Item[Tag]]:
    members = [a for a in arches if a.audit_arch == audit]
    sec = _Section(policy, any(a in _BIG_ENDIAN_ARCHES for a in members), all(a in NARROW_ARCHES for a in members))
    sec.items.append(Stmt(_LD_W_ABS, b.OFF_NR))
    per_arch = {a: {**arch_decisions(policy, a, warnings), NO_SYSCALL: SKIP} for a in members}
    for arch, decisions in per_arch.items():
        origins.update(_const_origins(arch, decisions))
    if audit != Arch.X86_64.audit_arch:
        (arch,) = members
        root = sec.tree(per_arch[arch], 0, 1 << 32)
        if sec.items[1:2] != [root]:       # the tree is a single return: jump to it
            sec.items.insert(1, Goto(root))
        return sec.finish()
    # x86_64 and x32 share AUDIT_ARCH_X86_64; x32 calls carry X32_SYSCALL_BIT. Split on it first so an
    # ABI the policy does not list can never reach the syscall checks of the other.
    split = Branch(_JGE, X32_SYSCALL_BIT, sec.bad_arch, sec.bad_arch)
    sec.items.append(split)
    low = sec.tree(per_arch[Arch.X86_64], 0, X32_SYSCALL_BIT) if Arch.X86_64 in per_arch else sec.bad_arch
    if Arch.X32 in per_arch:
        high = sec.tree(per_arch[Arch.X32], X32_SYSCALL_BIT, 1 << 32)
    else:
        high, skip = Label("x32-or-skip"), Label("skip")
        sec.tail += [high, Branch(_JEQ, NO_SYSCALL, skip, sec.bad_arch), skip,
                     Stmt(_RET_K, SKIP.fallback.kernel_value, SKIP.fallback_origin)]
    sec.items[1] = Branch(_JGE, X32_SYSCALL_BIT, high, low)
    return sec.finish()


def compile_policy(policy: Policy, arches: Sequence[Arch] | None = None) -> CompiledFilter:
    """Compile ``policy`` to one seccomp filter for ``arches`` (default: ``policy.arches``).

    Calls from an arch (or the x32 ABI) not compiled in get ``policy.bad_arch_action``.

    Raises:
        CompileError: the filter exceeds the kernel's 4096-instruction limit, or the policy lists no arch.
    """
    chosen = tuple(dict.fromkeys(arches if arches is not None else policy.arches))
    if not chosen:
        raise CompileError("the policy lists no architecture to compile for")
    warnings: list[str] = []
    origins: dict[tuple[Arch, int], Origin] = {}
    audits = _arch_order(chosen)
    sections = [(Label(f"arch {audit:#x}"), _section(policy, audit, chosen, warnings, origins))
                for audit in audits]
    items: list[Item[Tag]] = [Stmt(_LD_W_ABS, b.OFF_ARCH)]
    for (label, _), audit in zip(sections, audits):
        nxt = Label("next-arch")
        items += [Branch(_JEQ, audit, label, nxt), nxt]
    items.append(Stmt(_RET_K, policy.bad_arch_action.kernel_value, BAD_ARCH_ORIGIN))
    for label, code in sections:
        items += [label, *code]
    out = assemble(items)
    if len(out.program) > b.BPF_MAXINSNS:
        raise CompileError(f"the compiled filter has {len(out.program)} instructions; the kernel accepts at most "
                           f"{b.BPF_MAXINSNS} (BPF_MAXINSNS): split the policy or drop arches with --arch")
    check_program(out.program)
    return CompiledFilter(out.program, policy, chosen, out.tags, origins, tuple(dict.fromkeys(warnings)))
