"""The light launch path of ``syswarden run``: a filter-cache hit started without importing click.

``syswarden run --profile docker-default -- CMD`` runs before every confined command, and importing click alone
costs more than firejail's whole launch. So ``cli/entry.py`` hands ``run``'s arguments here first: a small
parser reads the options a cached launch can use (``--policy``, ``--profile``, ``--drop``, ``--allow``,
``--default-action``, ``--errno``, ``--exec``, ``-q``, ``-v``) exactly as click would, and when the filter cache
has the entry and CMD exists, launches it through the same ``run_plan`` and ``supervisor`` as the full command.
Anything else — another option, ``--help``, a malformed command line, a cache miss, a CMD that is not found —
returns None, and the full click command handles it (its messages, its exit codes), so the behaviour of
``syswarden run`` never depends on which path ran.
"""
from __future__ import annotations

import sys

TYPE_CHECKING = False   # typing.TYPE_CHECKING, without importing typing on the launch path
if TYPE_CHECKING:
    from collections.abc import Sequence

# Options taking a value: long name -> (attribute, repeatable).
VALUE_OPTIONS = {"--policy": ("policy_files", True), "--profile": ("profile_names", True), "--drop": ("drop", True),
                 "--allow": ("allow", True), "--default-action": ("default_action", False),
                 "--errno": ("errno_name", False)}
FLAG_OPTIONS = {"--exec": "in_place", "-q": "quiet", "--quiet": "quiet", "-v": "verbose", "--verbose": "verbose"}


class RunArgs:
    """The options of a ``run`` command line this path can launch."""

    __slots__ = ("policy_files", "profile_names", "drop", "allow", "default_action", "errno_name", "in_place",
                 "quiet", "verbose", "cmd")

    def __init__(self) -> None:
        self.policy_files: list[str] = []
        self.profile_names: list[str] = []
        self.drop: list[str] = []
        self.allow: list[str] = []
        self.default_action: str | None = None
        self.errno_name: str | None = None
        self.in_place = self.quiet = self.verbose = False
        self.cmd: tuple[str, ...] = ()


def parse(args: Sequence[str]) -> RunArgs | None:
    """``run``'s arguments (after the word ``run``) as click reads them, or None when they use anything else.

    As click with ``allow_interspersed_args=False``: options until ``--`` or the first word that is not an
    option; ``--opt VALUE`` and ``--opt=VALUE``; the last value of a single option wins."""
    out = RunArgs()
    i = 0
    while i < len(args):
        word = args[i]
        if word == "--":
            i += 1
            break
        if not word.startswith("-") or word == "-":
            break
        name, eq, inline = word.partition("=")
        if name in VALUE_OPTIONS:
            if eq:
                value = inline
            elif i + 1 < len(args) and not args[i + 1].startswith("-"):
                value, i = args[i + 1], i + 1
            else:
                return None                      # missing value, or one click might read differently
            attr, repeatable = VALUE_OPTIONS[name]
            if repeatable:
                getattr(out, attr).append(value)
            else:
                setattr(out, attr, value)
        elif word in FLAG_OPTIONS:
            setattr(out, FLAG_OPTIONS[word], True)
        else:
            return None                          # --help, --log, Landlock options, -qv, typos...
        i += 1
    out.cmd = tuple(args[i:])
    return out if out.cmd else None


def launch(args: Sequence[str]) -> int | None:
    """Launch a cached ``run``; returns the exit status to leave with, or None to let click handle it."""
    parsed = parse(args)
    if parsed is None:
        return None
    from syswarden.sandbox import run_plan
    inputs = run_plan.FilterInputs(parsed.policy_files, parsed.profile_names, parsed.drop, parsed.allow,
                                   parsed.default_action, parsed.errno_name)
    cached = run_plan.cached_launch(parsed.cmd, inputs)
    if cached is None:
        return None
    prepared, warnings = cached
    from syswarden.cli import run_output as output
    if not parsed.quiet:
        output.report(warnings, prepared, parsed.verbose)
    from syswarden.sandbox import supervisor
    if parsed.in_place:
        supervisor.exec_in_place(prepared)
    outcome = supervisor.run(prepared, explain_landlock=not parsed.quiet)
    return output.finish(outcome)


def main_run(args: Sequence[str]) -> None:
    """Exit with the launch's status when this path handled it; return otherwise."""
    status = launch(args)
    if status is not None:
        exit_now(status)


def exit_now(status: int) -> None:
    """Leave with ``status`` without the interpreter's module teardown and final garbage collection (about
    6 ms, a fifth of a cached launch). What an exit does that anyone can see still happens: the atexit handlers
    run (as ``sys.exit`` would run them) and the standard streams are flushed; if a flush fails, the normal
    exit runs and reports it as it always does."""
    import atexit   # built in: no import cost
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # noqa: BLE001 - a closed stream at exit: leave with the status all the same
        sys.exit(status)
    import os
    os._exit(status)
