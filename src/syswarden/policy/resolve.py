"""Checking what a policy names: syscall tokens (names and ``@groups``) become checked syscall names, and
argument conditions are range-checked. Every format calls these, so all formats agree on what is unknown.

Rules for names (see docs/policy-format.md):
- ``@group`` expands to its members; members no supported arch knows (newer than our tables) are dropped.
- A name no supported arch knows is an ``UnknownSyscallError`` (or, for Docker profiles, a warning, as runc
  ignores them).
- A name that exists only on arches the policy does not list is kept, with a warning; the compiler skips a
  name on every arch that lacks it.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from syswarden.errors import PolicyError, UnknownSyscallError
from syswarden.policy.model import ArgCondition, Op, Policy
from syswarden.spans import SourceText, Span
from syswarden.syscalls import groups, tables
from syswarden.syscalls.arch import Arch

MAX_ARG = 5
U64 = (1 << 64) - 1
U32 = (1 << 32) - 1


@dataclass(slots=True)
class NameResolver:
    """Resolves syscall tokens for one policy; collects its warnings."""

    arches: tuple[Arch, ...]
    source: SourceText | None = None
    ignore_unknown: bool = False
    warnings: list[str] = field(default_factory=list)

    def names(self, tokens: Iterable[tuple[str, Span | None]]) -> tuple[str, ...]:
        """The checked, de-duplicated syscall names the tokens stand for, in first-seen order."""
        out: dict[str, None] = {}
        for token, span in tokens:
            for name in self._one(token.strip(), span):
                out.setdefault(name, None)
        return tuple(out)

    def _one(self, token: str, span: Span | None) -> tuple[str, ...]:
        if groups.is_group(token):
            try:
                members = groups.expand(token, span=span)
            except PolicyError as err:
                err.source = self.source
                raise
            return tuple(m for m in members if tables.is_known(m))
        if not tables.is_known(token):
            return self._unknown(token, span)
        if not any(tables.number(a, token) is not None for a in self.arches):
            where = ", ".join(a.value for a in tables.arches_knowing(token))
            self._warn(f"syscall {token!r} exists only on {where}, not on this policy's arches "
                       f"({', '.join(a.value for a in self.arches)}); it is skipped there", span)
        return (token,)

    def rule_arches(self, arches: frozenset[Arch] | None, span: Span | None) -> None:
        """A rule for arches the policy does not list never applies there: say so."""
        extra = sorted(a.value for a in (arches or frozenset()) - set(self.arches))
        if extra:
            self._warn(f"rule names arches the policy does not list ({', '.join(extra)}); it never applies "
                       "there", span)

    def _unknown(self, token: str, span: Span | None) -> tuple[str, ...]:
        close = difflib.get_close_matches(token, sorted(tables.all_names()), n=3, cutoff=0.75)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        message = f"unknown syscall {token!r}: no supported architecture has it{hint}"
        if self.ignore_unknown:
            self._warn(message + " (ignored)", span)
            return ()
        raise UnknownSyscallError(message, span=span, source=self.source)

    def _warn(self, message: str, span: Span | None) -> None:
        self.warnings.append(f"{span}: {message}" if span else message)


def condition(index: int, op: Op, value: int, *, mask: int = U64, width: int = 64, span: Span | None = None,
              source: SourceText | None = None) -> ArgCondition:
    """A range-checked ``ArgCondition``; non-masked comparisons always carry the model's default mask.

    Raises:
        PolicyError: index outside 0..5, width not 32/64, or value/mask too wide for ``width``.
    """
    def fail(message: str) -> PolicyError:
        return PolicyError(message, span=span, source=source)

    if not 0 <= index <= MAX_ARG:
        raise fail(f"argument index {index} out of range (expected 0..{MAX_ARG})")
    if width not in (32, 64):
        raise fail(f"argument width {width} not supported (expected 32 or 64)")
    limit = U32 if width == 32 else U64
    if not 0 <= value <= limit:
        raise fail(f"argument value {value:#x} does not fit in {width} bits")
    if op is not Op.MASKED_EQ:
        mask = U64        # the model's default: a mask only means something for masked_eq
    elif not 0 <= mask <= limit:
        raise fail(f"argument mask {mask:#x} does not fit in {width} bits")
    return ArgCondition(index, op, value, mask, width, span)


def native_arch() -> Arch:
    """This machine's arch, as a PolicyError when syswarden does not support it (policies default to it)."""
    try:
        return Arch.native()
    except ValueError as exc:
        raise PolicyError(f"this machine's architecture is not supported ({exc}); give the arch explicitly") \
            from exc


def arch_list(names: Sequence[tuple[str, Span | None]], source: SourceText | None = None) -> tuple[Arch, ...]:
    """Parse architecture names (any common spelling) into distinct ``Arch``es, in order."""
    out: dict[Arch, None] = {}
    for text, span in names:
        try:
            out.setdefault(Arch.parse(text), None)
        except ValueError as exc:
            raise PolicyError(str(exc), span=span, source=source) from exc
    return tuple(out)


def check(policy: Policy) -> Policy:
    """Check a ``Policy`` built in code (not parsed) the way the loaders check parsed ones.

    Returns the policy with the warnings its names and rule arches draw (names only other arches have, rule
    arches the policy does not list); conditions are range-checked.

    Raises:
        PolicyError: no arches, or a bad condition.
        UnknownSyscallError: a name no supported arch has.
    """
    if not policy.arches:
        raise PolicyError("a policy needs at least one architecture")
    resolver = NameResolver(policy.arches)
    for rule in policy.rules:
        resolver.rule_arches(rule.arches, rule.span)
        for cond in rule.args:
            condition(cond.index, cond.op, cond.value, mask=cond.mask, width=cond.width, span=cond.span)
        if any(groups.is_group(n) for n in rule.names):
            raise PolicyError(f"rule names a group ({', '.join(rule.names)}); expand groups before building "
                              "a Policy", span=rule.span)
        resolver.names((n, rule.span) for n in rule.names)
    return replace(policy, warnings=(*policy.warnings, *resolver.warnings))
