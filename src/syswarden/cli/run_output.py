"""What ``syswarden run`` prints around CMD (the warnings before, the explanations after) and the status it
exits with; shared by the click command (``run_cmd.py``) and the light launch path (``fast_run.py``), so it
imports neither click nor anything a cached launch does not need."""
from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from syswarden.sandbox.supervisor import Launch, Outcome

LANDLOCK_UNLOGGED = ("note: Landlock denials are not logged while kernel audit is off; to have them named, rerun "
                     "with --landlock-audit (switches audit on for the run) or turn audit on (auditctl -e 1)")


def warn(message: str) -> None:
    from syswarden.escaping import escape_text   # only when there is something to print
    print(f"syswarden: {escape_text(message)}", file=sys.stderr, flush=True)


def report(warnings: list[str], launch: Launch, verbose: bool) -> None:
    """Before CMD starts: the policies' warnings, and what Landlock cannot enforce (all of it with -v)."""
    for warning in warnings:
        warn(f"warning: {warning}")
    landlock = launch.landlock_report
    if landlock is not None and (landlock.not_enforced or verbose):
        for line in landlock.lines():
            warn(line)


def finish(outcome: Outcome) -> int:
    """After CMD ended: print its explanations, return the status to exit with (or die of CMD's signal)."""
    from syswarden.sandbox import supervisor
    for line in outcome.explanations:
        warn(line)
    for line in outcome.landlock_explanations:
        warn(line)
    if outcome.landlock_unlogged and not outcome.landlock_explanations and _may_be_denied(outcome):
        warn(LANDLOCK_UNLOGGED)
    for line in _logged_summary(outcome):
        warn(line)
    return supervisor.pass_through(outcome)


def _may_be_denied(outcome: Outcome) -> bool:
    """Whether CMD's ending looks like a Landlock denial could be behind it: it failed (a denied open or
    connect usually ends in an error status) and no seccomp kill explains it."""
    failed = outcome.signal is not None or outcome.exit_code not in (0, None)
    return failed and not outcome.explanations


def _logged_summary(outcome: Outcome) -> list[str]:
    counts: dict[tuple[str, str], int] = {}
    for record in outcome.logged:
        key = (record.comm, record.syscall)
        counts[key] = counts.get(key, 0) + 1
    at_least = "at least " if outcome.records_lost else ""
    lines = [f"dry run: {comm}: {name} would have been denied ({at_least}{n}x)"
             for (comm, name), n in sorted(counts.items())]
    if outcome.records_lost:
        lines.append("dry run: audit records were lost in transit (socket buffer overrun); counts are lower bounds")
    return lines
