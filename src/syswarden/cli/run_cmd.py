"""``syswarden run [OPTIONS] -- CMD [ARGS...]``: run CMD confined by seccomp filters and Landlock rules.

This module parses the options and prints; how policies stack, the filter cache and the launch are decided in
``sandbox/run_plan.py``. Everything is checked before CMD starts: bad input exits 2 and runs nothing; a CMD that
does not exist exits 127, one that cannot be executed 126 (as the shell and Docker do).
"""
from __future__ import annotations

import sys

import click

from syswarden.cli.run_output import finish, report, warn
from syswarden.sandbox.run_plan import FilterInputs

# Start-up time matters here (a wrapper runs before every confined command): the policy loaders, the compiler
# and Landlock are imported only when this run needs them, and a filter cache hit needs none of them. The
# common cached launch does not even get here: ``cli/fast_run.py`` handles it before click is imported.


@click.command("run", context_settings={"ignore_unknown_options": False, "allow_interspersed_args": False})
@click.option("--policy", "policy_files", multiple=True, metavar="FILE",
              help="Policy file: native YAML (may hold a landlock: section) or Docker/OCI JSON. Repeatable.")
@click.option("--profile", "profile_names", multiple=True, metavar="NAME",
              help="Built-in profile (see `syswarden profiles list`). Repeatable.")
@click.option("--drop", multiple=True, metavar="SYSCALL[,..]", help="Deny these syscalls or @groups.")
@click.option("--allow", multiple=True, metavar="SYSCALL[,..]", help="Allow these syscalls or @groups.")
@click.option("--default-action", metavar="ACTION", help="Action for syscalls no rule names.")
@click.option("--errno", "errno_name", metavar="NAME", help="Deny with this errno (EPERM...) instead of killing.")
@click.option("--log", "dry_run", is_flag=True, help="Log instead of deny (dry run); list what was logged.")
@click.option("--fs-read", multiple=True, metavar="PATH", help="Landlock: allow reading (and executing) beneath PATH.")
@click.option("--fs-write", multiple=True, metavar="PATH", help="Landlock: allow reading and writing beneath PATH.")
@click.option("--fs-exec", multiple=True, metavar="PATH", help="Landlock: allow executing beneath PATH.")
@click.option("--net-bind", multiple=True, type=click.IntRange(0, 65535), metavar="PORT",
              help="Landlock: allow binding this TCP port (all others denied).")
@click.option("--net-connect", multiple=True, type=click.IntRange(0, 65535), metavar="PORT",
              help="Landlock: allow connecting to this TCP port (all others denied).")
@click.option("--scope", "scopes", multiple=True, metavar="SCOPE[,..]",
              help="Landlock (ABI 6): keep abstract-unix-socket and/or signal inside the sandbox. Repeatable.")
@click.option("--require-landlock", type=click.IntRange(1, 64), default=None, metavar="N",
              help="Fail unless Landlock ABI >= N enforces every requested rule.")
@click.option("--apparmor", "apparmor_file", metavar="PROFILE",
              help="AppArmor profile whose file and TCP rules Landlock can enforce.")
@click.option("--exec", "in_place", is_flag=True,
              help="Exec CMD in place: no supervising process, so no denial explanation.")
@click.option("--no-cache", "no_cache", is_flag=True,
              help="Compile the policies even when the filter cache has them (and do not store them).")
@click.option("--landlock-audit", "landlock_audit", is_flag=True,
              help="Switch kernel audit on for the run when it is off, so Landlock denials can be named "
                   "(ABI 7). Audit is a system-wide setting: off by default.")
@click.option("-q", "--quiet", is_flag=True, help="Do not print Landlock and policy warnings.")
@click.option("-v", "--verbose", is_flag=True, help="Also say what Landlock enforces when nothing is missing.")
@click.argument("cmd", nargs=-1, required=True, type=click.UNPROCESSED, metavar="-- CMD [ARGS]...")
def run(policy_files: tuple[str, ...], profile_names: tuple[str, ...], drop: tuple[str, ...],
        allow: tuple[str, ...], default_action: str | None, errno_name: str | None, dry_run: bool,
        fs_read: tuple[str, ...], fs_write: tuple[str, ...], fs_exec: tuple[str, ...], net_bind: tuple[int, ...],
        net_connect: tuple[int, ...], scopes: tuple[str, ...], require_landlock: int | None,
        apparmor_file: str | None, in_place: bool, no_cache: bool, landlock_audit: bool, quiet: bool,
        verbose: bool, cmd: tuple[str, ...]) -> None:
    """Run CMD confined by seccomp filters and Landlock rules; CMD's exit status passes through.

    \b
    Examples:
      syswarden run --profile docker-default -- unshare --user true
      syswarden run --drop bind --errno EPERM -- python3 -m http.server 8000
      syswarden run --fs-read /usr --fs-read /lib --fs-write /tmp/out -- sh -c 'ls > /tmp/out/ls.txt'
      syswarden run --fs-read / --scope signal -- kill 1

    \b
    With Landlock ABI 7 and kernel audit on (or --landlock-audit), each file, port or scope Landlock denied CMD
    is named after it exits (not with -q or --exec).
    """
    from syswarden.sandbox import run_plan, supervisor
    inputs = FilterInputs(policy_files, profile_names, drop, allow, default_action, errno_name, dry_run)
    notes: list[str] = []
    launch, warnings = run_plan.prepare(
        cmd, inputs, lambda: run_plan.landlock_from_flags(fs_read, fs_write, fs_exec, net_bind, net_connect, scopes,
                                                          apparmor_file, notes),
        require_landlock or 0, not no_cache)
    if not quiet:
        for note in notes:
            warn(f"warning: {note}")
        report(warnings, launch, verbose)
    if in_place:
        supervisor.exec_in_place(launch)
    outcome = supervisor.run(launch, dry_run=dry_run, explain_landlock=not quiet, switch_audit=landlock_audit)
    sys.exit(finish(outcome))
