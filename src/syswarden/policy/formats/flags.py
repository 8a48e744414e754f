"""firejail-style command-line shorthands: ``--drop SYSCALL[,..]`` and ``--allow SYSCALL[,..]`` (names and
``@groups``), with ``--errno NAME`` / ``--default-action ACTION``, turned into a ``Policy`` or merged into one.

Grammar of one flag value (each ``--drop``/``--allow`` may repeat)::

    list  := token ("," token)*
    token := NAME | "@" GROUP

Meaning, after firejail's ``--seccomp.drop`` / ``--seccomp.keep``:

- only ``--drop``: everything is allowed except the listed calls, which get the deny action;
- only ``--allow``: only the listed calls are allowed; everything else gets the default action
  (``--default-action``, else the deny action);
- both: the drops are checked first, then the allows, then the default.
- Merged into a base policy (``--profile``/``--policy``), drops and allows are put *before* its rules, so they
  win (first matching rule decides, ``policy.model``).

The deny action is ``kill_process`` unless ``--errno NAME`` asks for ``errno(NAME)``.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from syswarden.errors import PolicySyntaxError
from syswarden.policy import vocab
from syswarden.policy.model import ALLOW, KILL_PROCESS, Action, ActionKind, Policy, SyscallRule
from syswarden.policy.resolve import NameResolver
from syswarden.spans import SourceText, Span
from syswarden.syscalls.arch import SUB_ARCHES, Arch


def native_arches() -> tuple[Arch, ...]:
    arch = Arch.native()
    return (arch, *SUB_ARCHES.get(arch, ()))


def parse_errno(text: str) -> Action:
    """``--errno EPERM`` (or a number) -> ``errno(EPERM)``."""
    number = vocab.errno_number(text)
    if number is None:
        raise PolicySyntaxError(f"--errno: expected an errno name such as EPERM or EACCES, or a number, got {text!r}",
                                span=Span("--errno", 1, 1))
    return Action(ActionKind.ERRNO, number)


def parse_action_flag(text: str, flag: str = "--default-action") -> Action:
    action = vocab.parse_action(text)
    if action is None:
        raise PolicySyntaxError(f"{flag}: expected {vocab.ACTION_EXPECTED}, got {text!r}", span=Span(flag, 1, 1))
    return action


def _tokens(flag: str, values: Sequence[str]) -> list[tuple[str, Span]]:
    """Split comma lists, keeping each token's column in the flag value for error messages."""
    out = []
    for line, value in enumerate(values, start=1):
        col = 1
        for part in value.split(","):
            token = part.strip()
            if not token:
                raise PolicySyntaxError(f"{flag}: expected a syscall name or @group, got an empty item in {value!r}",
                                        span=Span(flag, line, col))
            out.append((token, Span(flag, line, col + len(part) - len(part.lstrip()))))
            col += len(part) + 1
    return out


def _resolve(flag: str, values: Sequence[str], arches: tuple[Arch, ...], warnings: list[str]) -> tuple[str, ...]:
    source = SourceText(flag, "\n".join(values))
    resolver = NameResolver(arches, source)
    names = resolver.names(_tokens(flag, values))
    warnings.extend(resolver.warnings)
    return names


def flag_rules(drop: Sequence[str], allow: Sequence[str], deny: Action, arches: tuple[Arch, ...],
               warnings: list[str]) -> tuple[SyscallRule, ...]:
    """The rules the flags stand for: drops first (so an explicit drop beats an allow), then allows."""
    rules = []
    if drop:
        rules.append(SyscallRule(_resolve("--drop", drop, arches, warnings), deny, comment="--drop",
                                 span=Span("--drop", 1, 1)))
    if allow:
        rules.append(SyscallRule(_resolve("--allow", allow, arches, warnings), ALLOW, comment="--allow",
                                 span=Span("--allow", 1, 1)))
    return tuple(rules)


def from_flags(drop: Sequence[str] = (), allow: Sequence[str] = (), *, deny: Action = KILL_PROCESS,
               default: Action | None = None, arches: tuple[Arch, ...] | None = None) -> Policy:
    """A stand-alone policy from the flags (see the module docstring for the meaning)."""
    chosen = arches or native_arches()
    warnings: list[str] = []
    rules = flag_rules(drop, allow, deny, chosen, warnings)
    fallback = default if default is not None else (deny if allow else ALLOW)
    return Policy(default_action=fallback, rules=rules, arches=chosen, name="flags", source="flags",
                  warnings=tuple(warnings))


def merge_flags(base: Policy, drop: Sequence[str] = (), allow: Sequence[str] = (), *, deny: Action = KILL_PROCESS,
                default: Action | None = None) -> Policy:
    """``base`` with the flag rules put first; ``default`` replaces its default action when given."""
    warnings = list(base.warnings)
    rules = flag_rules(drop, allow, deny, base.arches, warnings)
    return replace(base, rules=rules + base.rules, default_action=default or base.default_action,
                   warnings=tuple(warnings))


def as_dry_run(policy: Policy) -> Policy:
    """``--log``: every action that would stop a syscall becomes ``log`` (the call proceeds and is recorded)."""
    def soften(action: Action) -> Action:
        return action if action.kind in (ActionKind.ALLOW, ActionKind.LOG) else Action(ActionKind.LOG)

    return replace(policy, default_action=soften(policy.default_action), bad_arch_action=soften(policy.bad_arch_action),
                   rules=tuple(replace(r, action=soften(r.action)) for r in policy.rules))
