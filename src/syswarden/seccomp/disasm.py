"""The disassembler: a ``Program`` as a readable listing, syscall numbers resolved per arch section.

In the spirit of seccomp-tools ``disasm``::

    0005: 0x15 0x00 0x01 0x00000002  if (A != open) goto 0007

The arch a comparison refers to is followed through the code: ``if (A == ARCH_X86_64)`` on the loaded arch
word fixes it for the branch taken, and on x86_64 ``if (A >= 0x40000000)`` on the syscall number switches to
the x32 table. Where paths with different arches merge, the ``arch`` argument (default: native) is used.
"""
from __future__ import annotations

from dataclasses import dataclass

from syswarden.policy.model import ActionKind
from syswarden.seccomp import insn as b
from syswarden.seccomp.insn import Insn, Program
from syswarden.syscalls import tables
from syswarden.syscalls.arch import AUDIT_ARCH, X32_SYSCALL_BIT, Arch

HEADER = " line  CODE  JT   JF      K\n=================================="

_ARCH_NAMES = {Arch.X86_64.audit_arch: "ARCH_X86_64", Arch.I386.audit_arch: "ARCH_I386",
               Arch.AARCH64.audit_arch: "ARCH_AARCH64", Arch.ARM.audit_arch: "ARCH_ARM",
               Arch.RISCV64.audit_arch: "ARCH_RISCV64", Arch.S390X.audit_arch: "ARCH_S390X",
               Arch.PPC64LE.audit_arch: "ARCH_PPC64LE"}
_ARCH_OF_AUDIT = {v: a for a, v in AUDIT_ARCH.items() if a is not Arch.X32}
_JUMP_TEXT = {b.BPF_JEQ: ("==", "!="), b.BPF_JGT: (">", "<="), b.BPF_JGE: (">=", "<")}
_ALU_TEXT = {b.BPF_ADD: "+=", b.BPF_SUB: "-=", b.BPF_MUL: "*=", b.BPF_DIV: "/=", b.BPF_OR: "|=",
             b.BPF_AND: "&=", b.BPF_LSH: "<<=", b.BPF_RSH: ">>=", b.BPF_XOR: "^=", b.BPF_MOD: "%="}


@dataclass(frozen=True, slots=True)
class _State:
    arch: Arch | None          # the arch known on this path (None: unknown / merged)
    a: str                     # what A holds: "arch", "nr" or "" (anything else)


def action_text(value: int) -> str:
    """``ALLOW``, ``ERRNO(1)``, ``KILL_PROCESS``... for a seccomp return value."""
    full = value & 0xFFFF0000
    data = value & 0xFFFF
    for kind in ActionKind:
        if kind.value == full:
            if kind in (ActionKind.ERRNO, ActionKind.TRACE, ActionKind.TRAP) and (data or kind is ActionKind.ERRNO):
                return f"{kind.name}({data})"
            return kind.name if kind is not ActionKind.NOTIFY else "USER_NOTIF"
    return f"{value:#010x}"


def _load_text(k: int) -> tuple[str, str]:
    names = {b.OFF_NR: "sys_number", b.OFF_ARCH: "arch", b.OFF_IP: "instruction_pointer",
             b.OFF_IP + 4: "instruction_pointer >> 32"}
    if k in names:
        return names[k], {b.OFF_NR: "nr", b.OFF_ARCH: "arch"}.get(k, "")
    index, half = divmod(k - b.OFF_ARGS, 8)
    return (f"args[{index}]" if half == 0 else f"args[{index}] >> 32"), ""


def _operand(k: int, state: _State, default_arch: Arch | None) -> str:
    if state.a == "arch":
        return _ARCH_NAMES.get(k, f"{k:#x}")
    if state.a == "nr":
        arch = state.arch or default_arch
        if arch is Arch.X86_64 and k & X32_SYSCALL_BIT and k != X32_SYSCALL_BIT:
            arch = Arch.X32                # a filter that does not split x32 off first still means x32 here
        name = tables.name(arch, k) if arch is not None else None
        return name if name else f"{k:#x}"
    return f"{k:#x}"


def _branch_states(ins: Insn, state: _State) -> tuple[_State, _State]:
    """States on the true and false edges of a conditional jump."""
    taken, fallen = state, state
    if state.a == "arch" and b.bpf_op(ins.code) == b.BPF_JEQ and ins.k in _ARCH_OF_AUDIT:
        taken = _State(_ARCH_OF_AUDIT[ins.k], "arch")
    if (state.a == "nr" and state.arch is Arch.X86_64 and b.bpf_op(ins.code) == b.BPF_JGE
            and ins.k == X32_SYSCALL_BIT):
        taken = _State(Arch.X32, "nr")
    return taken, fallen


def _text(pc: int, ins: Insn, state: _State, default_arch: Arch | None) -> str:
    code, k = ins.code, ins.k
    cls = b.bpf_class(code)
    if code == b.BPF_LD | b.BPF_W | b.BPF_ABS:
        return f"A = {_load_text(k)[0]}"
    if cls == b.BPF_RET:
        return "return A" if code & b.BPF_A else f"return {action_text(k)}"
    if code == b.BPF_JMP | b.BPF_JA:
        return f"goto {pc + 1 + k:04d}"
    if cls == b.BPF_JMP:
        rhs = "X" if b.bpf_src(code) == b.BPF_X else _operand(k, state, default_arch)
        t, f = pc + 1 + ins.jt, pc + 1 + ins.jf
        if b.bpf_op(code) == b.BPF_JSET:
            pos, neg = f"A & {rhs}", f"!(A & {rhs})"
        elif b.bpf_op(code) not in _JUMP_TEXT:
            return f"<unknown opcode {code:#06x}>"
        else:
            yes, no = _JUMP_TEXT[b.bpf_op(code)]
            pos, neg = f"A {yes} {rhs}", f"A {no} {rhs}"
        if ins.jt == 0:
            return f"if ({neg}) goto {f:04d}"
        if ins.jf == 0:
            return f"if ({pos}) goto {t:04d}"
        return f"if ({pos}) goto {t:04d} else goto {f:04d}"
    if cls == b.BPF_ALU:
        if b.bpf_op(code) == b.BPF_NEG:
            return "A = -A"
        rhs = "X" if b.bpf_src(code) == b.BPF_X else f"{k:#x}"
        return f"A {_ALU_TEXT.get(b.bpf_op(code), '?=')} {rhs}"
    simple = {b.BPF_LD | b.BPF_IMM: f"A = {k:#x}", b.BPF_LDX | b.BPF_IMM: f"X = {k:#x}",
              b.BPF_LD | b.BPF_MEM: f"A = mem[{k}]", b.BPF_LDX | b.BPF_MEM: f"X = mem[{k}]",
              b.BPF_ST: f"mem[{k}] = A", b.BPF_STX: f"mem[{k}] = X", b.BPF_MISC | b.BPF_TAX: "X = A",
              b.BPF_MISC | b.BPF_TXA: "A = X", b.BPF_LD | b.BPF_W | b.BPF_LEN: "A = 64",
              b.BPF_LDX | b.BPF_W | b.BPF_LEN: "X = 64"}
    return simple.get(code, f"<unknown opcode {code:#06x}>")


def _next_state(ins: Insn, state: _State) -> _State:
    if ins.code == b.BPF_LD | b.BPF_W | b.BPF_ABS:
        return _State(state.arch, _load_text(ins.k)[1])
    if b.bpf_class(ins.code) in (b.BPF_LD, b.BPF_ALU, b.BPF_MISC):
        return _State(state.arch, "")
    return state


def _merge(old: _State | None, new: _State) -> _State:
    if old is None or old == new:
        return new
    return _State(old.arch if old.arch == new.arch else None, old.a if old.a == new.a else "")


def lines(program: Program, arch: Arch | None = None) -> list[str]:
    """One listing line per instruction (no header)."""
    default_arch = arch
    if default_arch is None:
        try:
            default_arch = Arch.native()
        except ValueError:
            default_arch = None
    states: list[_State | None] = [None] * len(program)
    states[0] = _State(None, "")
    out: list[str] = []
    for pc, ins in enumerate(program):
        state = states[pc] or _State(None, "")
        out.append(f" {pc:04d}: 0x{ins.code:02x} 0x{ins.jt:02x} 0x{ins.jf:02x} 0x{ins.k:08x}  "
                   f"{_text(pc, ins, state, default_arch)}")
        _propagate(program, pc, ins, _next_state(ins, state), states)
    return out


def _propagate(program: Program, pc: int, ins: Insn, state: _State, states: list[_State | None]) -> None:
    cls = b.bpf_class(ins.code)
    if cls == b.BPF_RET:
        return
    targets: list[tuple[int, _State]]
    if ins.code == b.BPF_JMP | b.BPF_JA:
        targets = [(pc + 1 + ins.k, state)]
    elif cls == b.BPF_JMP:
        taken, fallen = _branch_states(ins, state)
        targets = [(pc + 1 + ins.jt, taken), (pc + 1 + ins.jf, fallen)]
    else:
        targets = [(pc + 1, state)]
    for target, st in targets:
        if target < len(program):
            states[target] = _merge(states[target], st)


def disassemble(program: Program, arch: Arch | None = None, *, header: bool = True) -> str:
    """The full listing, with seccomp-tools' column header."""
    body = "\n".join(lines(program, arch))
    return f"{HEADER}\n{body}\n" if header else body + "\n"
