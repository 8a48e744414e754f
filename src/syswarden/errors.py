"""The one exception tree of syswarden, and the exit codes the CLI maps them to.

Every class below, and no other, derives from ``SyswardenError``; those defined next to the code that raises
them name their module. ``tests/test_errors.py`` walks ``SyswardenError.__subclasses__()`` against this
picture, so a new class lands here too (and an ``except InputError`` really catches every exit-2 input error).

::

    SyswardenError                      exit 1  (code "error")
    ├── InputError                      exit 2  bad input from the user: files, flags, names
    │   ├── PolicyError                         a policy file or flag is wrong
    │   │   ├── PolicySyntaxError               malformed YAML/JSON, bad key or value
    │   │   ├── UnknownSyscallError             a name no supported arch knows
    │   │   └── AppArmorError                   policy.formats.apparmor: an AppArmor profile it cannot read
    │   ├── RuleLoadError                       a rules file cannot be loaded
    │   │   ├── UndefinedMacroError             rules.passes.errors: a condition names no macro
    │   │   ├── MacroLoopError                  rules.passes.errors: macros that reference each other
    │   │   ├── MacroSizeError                  rules.passes.errors: too deep or too large once substituted
    │   │   ├── UndefinedListError              rules.passes.errors: ``in name`` names no list
    │   │   ├── ListValueError                  rules.passes.errors: a long list where one value goes
    │   │   ├── ListSizeError                   rules.passes.errors: lists that expand past the limit
    │   │   ├── InvalidCheckError               rules.passes.errors: operator or constant wrong for the field
    │   │   ├── UnknownFieldError               rules.fields.registry: no such field
    │   │   └── FieldArgumentError              rules.fields.registry: a field's [argument] is wrong
    │   ├── FilterSyntaxError                   a filter expression does not parse
    │   ├── OutputFormatError                   rules.output_format: an output string names no field
    │   ├── ConfigError                         service.config: a falco.yaml or --option value is wrong
    │   ├── AuditRuleError                      audit.rule_model: an auditctl rule line is wrong
    │   ├── CaptureError                        a capture/replay file is malformed or truncated
    │   ├── CommandNotFoundError        exit 127  run's CMD does not exist (as the shell and docker run say)
    │   └── CommandNotExecutableError   exit 126  run's CMD cannot be executed
    ├── CompileError                    exit 2  a valid policy cannot be compiled (too large, ...)
    ├── SourceError                     exit 1  an event source failed at run time
    ├── OutputError                     exit 1  an alert output failed
    │   └── AlertRejectedError                  outputs.queue: a sink refused one alert for good (not retried)
    └── KernelError                     exit 1  the kernel refused (seccomp, landlock, bpf, netlink)
        └── TraceeGoneError                     kernel.ptrace: ESRCH, the tracee was killed while stopped (skipped)

Every error may carry a ``Span``; ``str(err)`` renders ``file:line:col: message`` and ``detail()`` adds the
source line with a caret and the chain of locations (``in condition of rule 'X' (file:L:C)``).
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import ClassVar

from syswarden.spans import SourceText, Span, render_snippet


class SyswardenError(Exception):
    """Base class. ``code`` is stable and machine-readable; ``exit_code`` is what the CLI returns."""

    exit_code: ClassVar[int] = 1
    code: ClassVar[str] = "error"

    def __init__(
        self,
        message: str,
        *,
        span: Span | None = None,
        source: SourceText | None = None,
        context: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.span = span
        self.source = source
        self.context = context

    def __str__(self) -> str:
        where = f"{self.span}: " if self.span else ""
        return f"{where}{self.message}"

    def with_context(self, where: str) -> "SyswardenError":
        """Add one level to the chain of locations (outermost last) and return self for ``raise``."""
        self.context = (*self.context, where)
        return self

    def detail(self) -> str:
        """Multi-line rendering: message, caret snippet, chain of locations."""
        parts = [str(self)]
        snippet = render_snippet(self.source, self.span)
        if snippet:
            parts.append(snippet)
        parts.extend(f"  {c}" for c in self.context)
        return "\n".join(parts)


class InputError(SyswardenError):
    exit_code = 2
    code = "input"


class CommandNotFoundError(InputError):
    """``run``'s CMD does not exist: 127, as the shell and ``docker run`` report it (not a usage error)."""

    exit_code = 127
    code = "command-not-found"


class CommandNotExecutableError(InputError):
    """``run``'s CMD exists but cannot be executed (a directory, no execute permission): 126."""

    exit_code = 126
    code = "command-not-executable"


class PolicyError(InputError):
    code = "policy"


class PolicySyntaxError(PolicyError):
    code = "policy-syntax"


class UnknownSyscallError(PolicyError):
    code = "unknown-syscall"


class RuleLoadError(InputError):
    code = "rule-load"


class FilterSyntaxError(InputError):
    code = "filter-syntax"


class CaptureError(InputError):
    code = "capture"


class CompileError(SyswardenError):
    exit_code = 2
    code = "compile"


class SourceError(SyswardenError):
    code = "source"


class OutputError(SyswardenError):
    code = "output"


class KernelError(SyswardenError):
    code = "kernel"


def did_you_mean(word: str, choices: Iterable[str], *, cutoff: float = 0.6) -> str:
    """``, did you mean 'a' or 'b'?`` for the known names closest to ``word`` (empty when none is close)."""
    close = difflib.get_close_matches(word, list(choices), n=3, cutoff=cutoff)
    return ", did you mean " + " or ".join(f"'{c}'" for c in close) + "?" if close else ""
