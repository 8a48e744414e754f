"""Explanations: which action a compiled filter takes for one syscall, which rule decided, and the path
through the program that got there (what ``syswarden check`` prints).

The answer comes from running the real program in the emulator; the compiler's metadata only names the rule
behind the return that was reached.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from syswarden.errors import UnknownSyscallError
from syswarden.seccomp.compiler import CompiledFilter
from syswarden.seccomp.decisions import BAD_ARCH_ORIGIN, DEFAULT_ORIGIN, Origin, width_notes
from syswarden.seccomp.disasm import action_text, lines
from syswarden.seccomp.emulator import Emulator, SeccompData
from syswarden.syscalls import tables
from syswarden.syscalls.arch import X32_SYSCALL_BIT, Arch


_NAME_OR_NUMBER = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*|0[xX][0-9a-fA-F]+|[0-9]+)$")


@dataclass(frozen=True, slots=True)
class Explanation:
    """The outcome of one call: action value, the origin that produced it, and the instructions run."""

    arch: Arch
    syscall: str
    nr: int
    args: tuple[int, int, int, int, int, int]
    action: int
    origin: Origin
    path: tuple[int, ...]
    width_notes: tuple[str, ...] = ()     # arguments the policy tests that the kernel reads narrower

    @property
    def action_text(self) -> str:
        return action_text(self.action)

    def render(self, compiled: CompiledFilter, *, show_path: bool = True) -> str:
        """Human-readable: the call, the action, the deciding rule, then the listing of the path taken."""
        args = ", ".join(f"{a:#x}" for a in self.args)
        out = [f"syscall:    {self.syscall} (nr {self.nr:#x} = {self.nr}, {self.arch.value})",
               f"args:       {args}",
               f"action:     {self.action_text}",
               f"decided by: {self.origin.describe()}"]
        out += [f"width:      {note}" for note in self.width_notes]
        if show_path:
            listing = lines(compiled.program, self.arch)
            out.append(f"path ({len(self.path)} instructions executed):")
            out += [listing[pc] for pc in self.path]
        return "\n".join(out)


def syscall_number(arch: Arch, syscall: str | int) -> tuple[str, int]:
    """Resolve a name (or a number, given as int or decimal/hex text) on ``arch`` to (name, nr).

    Raises:
        UnknownSyscallError: ``arch`` has no syscall of that name.
    """
    if isinstance(syscall, str) and not _NAME_OR_NUMBER.match(syscall.strip()):
        raise UnknownSyscallError(f"expected a syscall name or number, got {syscall!r}")
    if isinstance(syscall, int) or syscall.strip()[:1].isdigit():
        nr = syscall if isinstance(syscall, int) else int(syscall.strip(), 0)
        if arch is Arch.X32:
            nr |= X32_SYSCALL_BIT
        return tables.name(arch, nr) or f"#{nr}", nr
    nr_or_none = tables.number(arch, syscall)
    if nr_or_none is None:
        others = ", ".join(a.value for a in tables.arches_knowing(syscall)) or "no supported arch"
        raise UnknownSyscallError(f"{arch.value} has no syscall {syscall!r} (known on: {others})")
    return syscall, nr_or_none


def explain(compiled: CompiledFilter, arch: Arch, syscall: str | int, args: Sequence[int] = ()) -> Explanation:
    """Run ``compiled`` on one call of ``arch`` and say what it does and why."""
    name, nr = syscall_number(arch, syscall)
    padded = tuple((list(args) + [0] * 6)[:6])
    result = Emulator(compiled.program).run(SeccompData(arch.audit_arch, nr, padded))  # type: ignore[arg-type]
    origin = compiled.ret_origins.get(result.path[-1])
    if origin is None:
        origin = compiled.const_origins.get((arch, nr))
    if origin is None:
        in_policy = arch in compiled.arches
        origin = DEFAULT_ORIGIN if in_policy else BAD_ARCH_ORIGIN
    notes = tuple(width_notes(compiled.policy, arch, name))
    return Explanation(arch, name, nr, padded, result.action, origin, result.path, notes)  # type: ignore[arg-type]
