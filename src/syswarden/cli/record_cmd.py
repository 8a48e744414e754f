"""``syswarden record [OPTIONS] -- CMD [ARGS...]``: trace CMD's whole tree and write the smallest seccomp (and
Landlock) policy that lets it run again; ``--from CAPTURE`` learns from a recording, ``--widen P`` from what P
denied in a logged run. The decisions live in ``syswarden.recorder``; this module parses options and prints."""
from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click

from syswarden.cli.convert_cmd import write_policy_text
from syswarden.errors import InputError
from syswarden.escaping import escape_text

if TYPE_CHECKING:
    from syswarden.policy.model import Action
    from syswarden.recorder import session


class Interrupted(Exception):
    """SIGINT or SIGTERM reached syswarden while it was recording."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextmanager
def _interruptible() -> Iterator[None]:
    def raise_interrupted(signum: int, _frame: FrameType | None) -> None:
        raise Interrupted(signum)
    previous = {sig: signal.signal(sig, raise_interrupted) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _warn(message: str) -> None:
    click.echo(f"syswarden: {escape_text(message)}", err=True)


@click.command("record", context_settings={"allow_interspersed_args": False})
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the policy here (default: stdout, after CMD has finished).")
@click.option("--format", "fmt", type=click.Choice(["yaml", "docker"]), default="yaml", show_default=True,
              help="Policy format: syswarden YAML (may hold Landlock rules) or Docker/OCI JSON.")
@click.option("--args", "with_args", is_flag=True,
              help="Condition the syscalls whose arguments decide safety on the values seen.")
@click.option("--landlock", "with_landlock", is_flag=True,
              help="Also learn Landlock rules: paths read, written, executed; TCP ports bound and connected.")
@click.option("--merge", "merge_file", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Add what this run needs to the policy in FILE (written to -o or stdout).")
@click.option("--backend", type=click.Choice(["ptrace", "ebpf"]), default="ptrace", show_default=True,
              help="How to observe: ptrace (no privileges) or eBPF (root, far less overhead).")
@click.option("--summary", is_flag=True, help="Print a table of syscalls, calls and errors per ABI on stderr.")
@click.option("--default-action", "default_action", default="errno(EPERM)", show_default=True, metavar="ACTION",
              help="Action for syscalls the run did not make (log: a trial run that only logs).")
@click.option("--from", "capture", type=click.Path(dir_okay=False, path_type=Path), metavar="CAPTURE",
              help="Learn from a recording (capture -w: .scap or .jsonl) instead of running CMD.")
@click.option("--pid", "root_pid", type=int, metavar="PID", help="With --from: the process tree to learn from.")
@click.option("--comm", "root_comm", metavar="NAME",
              help="With --from: learn from the tree of the first process named NAME.")
@click.option("--widen", "widen_file", type=click.Path(dir_okay=False, path_type=Path), metavar="POLICY",
              help="Run CMD under POLICY in log mode and add what it would have denied.")
@click.option("-y", "--yes", is_flag=True, help="With --widen: update POLICY in place without asking.")
@click.argument("cmd", nargs=-1, type=click.UNPROCESSED, metavar="-- CMD [ARGS]...")
def record(output: Path | None, fmt: str, with_args: bool, with_landlock: bool, merge_file: Path | None,
           backend: str, summary: bool, default_action: str, capture: Path | None, root_pid: int | None,
           root_comm: str | None, widen_file: Path | None, yes: bool, cmd: tuple[str, ...]) -> None:
    """Trace CMD (threads, children, exec'd programs, every ABI) and write the smallest policy that lets it
    run again; CMD's exit status passes through.

    \b
    Examples:
      syswarden record -o ls.yaml -- ls -l /
      syswarden run --policy ls.yaml -- ls -l /
      syswarden record --args --landlock --summary -o app.yaml -- ./app
      syswarden record --merge app.yaml -o app.yaml -- ./app --selftest
      syswarden record --format docker --backend ebpf -o profile.json -- python3 -c 'import ssl'
      syswarden record --from run.scap --comm nginx -o nginx.yaml
      syswarden record --widen app.yaml -- ./app --rare-path
    """
    from syswarden.recorder import session
    options = session.Options(fmt, with_args, with_landlock, backend, _action(default_action))
    if widen_file is not None:
        _need_cmd(cmd, "--widen")
        _widen(widen_file, cmd, output, yes)
        return
    if capture is not None:
        if cmd:
            raise InputError("expected either --from CAPTURE or a command after '--', not both")
        result = session.from_capture(capture, root_pid, root_comm, options)
    else:
        if root_pid is not None or root_comm is not None:
            raise InputError("--pid and --comm choose a process tree of a capture (expected --from CAPTURE)")
        _need_cmd(cmd, "record")
        result = _run(cmd, options)
    for warning in result.warnings:
        _warn(f"warning: {warning}")
    if summary:
        from syswarden.recorder.report import summary_table
        for line in summary_table(result.recording):
            click.echo(line, err=True)
    existing = session.load_existing(merge_file) if merge_file is not None else None
    text, notes = session.render(result, options, existing)
    for note in notes:
        _warn(note)
    write_policy_text(text, output)
    if result.interrupted:
        _warn("interrupted: the policy covers the run up to the interruption; CMD's tree was killed")
        sys.exit(128 + result.interrupted)
    sys.exit(result.exit_code)


def _action(text: str) -> Action:
    from syswarden.policy import vocab
    action = vocab.parse_action(text)
    if action is None:
        raise InputError(f"unknown action {text!r} for --default-action (expected {vocab.ACTION_EXPECTED})")
    return action


def _need_cmd(cmd: tuple[str, ...], what: str) -> None:
    if not cmd:
        raise InputError(f"expected a command to run after '--' ({what} -- CMD [ARGS...])")


def _run(cmd: tuple[str, ...], options: session.Options) -> session.Result:
    from syswarden.recorder import session
    recorder = session.make_recorder(list(cmd), options)
    try:
        with _interruptible():
            recorder.run()
    except Interrupted as exc:
        recorder.close()
        return session.result_of(recorder, options.backend, interrupted=exc.signum)
    return session.result_of(recorder, options.backend)


def _widen(policy_file: Path, cmd: tuple[str, ...], output: Path | None, yes: bool) -> None:
    from syswarden.recorder import widen
    plan = widen.plan(str(policy_file), cmd)
    for line in plan.lines():
        click.echo(line, err=True)
    if not plan.added:
        _warn(f"{policy_file} already allows everything this run did; nothing to add")
        sys.exit(plan.exit_code)
    if output is None and not yes and sys.stdin.isatty():
        yes = click.confirm(f"Add these rules to {escape_text(str(policy_file))}?", default=False, err=True)
        if not yes:
            sys.exit(plan.exit_code)
    target = output if output is not None else policy_file if yes else None
    write_policy_text(plan.text, target)
    sys.exit(plan.exit_code)
