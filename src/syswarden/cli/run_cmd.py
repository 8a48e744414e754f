"""``syswarden run [OPTIONS] -- CMD [ARGS...]``: run CMD confined by seccomp filters and Landlock rules.

Policy sources combine: each ``--policy``/``--profile`` becomes its own stacked filter (the kernel applies the
strictest verdict of all); ``--drop``/``--allow`` are merged in front of the first of them, or form a policy of
their own when there is none. Everything is checked before CMD starts: bad input exits 2 and runs nothing.
"""
from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from syswarden.errors import InputError
from syswarden.escaping import escape_text
from syswarden.policy import profiles
from syswarden.policy.formats import flags
from syswarden.policy.model import KILL_PROCESS, Action, Policy
from syswarden.sandbox import landlock, launcher
from syswarden.sandbox.landlock import LandlockSpec
from syswarden.sandbox.policy_file import load_run_policy


def _split(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(values)


def build_policies(policy_files: Sequence[str], profile_names: Sequence[str], drop: Sequence[str],
                   allow: Sequence[str], default_action: str | None, errno_name: str | None,
                   dry_run: bool) -> tuple[list[Policy], LandlockSpec | None]:
    """The filters to stack, in order, and the Landlock section found in policy files."""
    deny: Action = flags.parse_errno(errno_name) if errno_name else KILL_PROCESS
    default = flags.parse_action_flag(default_action) if default_action else None
    policies: list[Policy] = [profiles.load(name) for name in profile_names]
    spec: LandlockSpec | None = None
    for path in policy_files:
        policy, section = load_run_policy(path)
        policies.append(policy)
        if section is not None:
            spec = section if spec is None else spec.merged(section)
    if drop or allow:
        if policies:
            policies[0] = flags.merge_flags(policies[0], drop, allow, deny=deny, default=default)
        else:
            policies.append(flags.from_flags(drop, allow, deny=deny, default=default))
    elif default is not None:
        if not policies:
            raise InputError("--default-action needs a policy to apply to (--profile, --policy, --drop or --allow)")
        policies[0] = flags.merge_flags(policies[0], default=default)
    if dry_run:
        policies = [flags.as_dry_run(p) for p in policies]
    return policies, spec


def _warn(message: str) -> None:
    click.echo(f"syswarden: {escape_text(message)}", err=True)


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
@click.option("--require-landlock", type=click.IntRange(1, 64), default=None, metavar="N",
              help="Fail unless Landlock ABI >= N enforces every requested rule.")
@click.option("--apparmor", "apparmor_file", metavar="PROFILE",
              help="AppArmor profile whose file and TCP rules Landlock can enforce.")
@click.option("--exec", "in_place", is_flag=True,
              help="Exec CMD in place: no supervising process, so no denial explanation.")
@click.option("-q", "--quiet", is_flag=True, help="Do not print Landlock and policy warnings.")
@click.option("-v", "--verbose", is_flag=True, help="Also say what Landlock enforces when nothing is missing.")
@click.argument("cmd", nargs=-1, required=True, type=click.UNPROCESSED, metavar="-- CMD [ARGS]...")
def run(policy_files: tuple[str, ...], profile_names: tuple[str, ...], drop: tuple[str, ...],
        allow: tuple[str, ...], default_action: str | None, errno_name: str | None, dry_run: bool,
        fs_read: tuple[str, ...], fs_write: tuple[str, ...], fs_exec: tuple[str, ...], net_bind: tuple[int, ...],
        net_connect: tuple[int, ...], require_landlock: int | None, apparmor_file: str | None, in_place: bool,
        quiet: bool, verbose: bool, cmd: tuple[str, ...]) -> None:
    """Run CMD confined by seccomp filters and Landlock rules; CMD's exit status passes through.

    \b
    Examples:
      syswarden run --profile docker-default -- unshare --user true
      syswarden run --drop bind --errno EPERM -- python3 -m http.server 8000
      syswarden run --fs-read /usr --fs-read /lib --fs-write /tmp/out -- sh -c 'ls > /tmp/out/ls.txt'
    """
    policies, spec = build_policies(policy_files, profile_names, drop, allow, default_action, errno_name, dry_run)
    notes: list[str] = []
    spec = _landlock_spec(spec, fs_read, fs_write, fs_exec, net_bind, net_connect, apparmor_file, notes)
    launch = launcher.prepare(cmd, policies, spec, require_landlock or 0)
    if not quiet:
        for note in notes:
            _warn(f"warning: {note}")
        _report(launch, verbose)
    if in_place:
        launcher.exec_in_place(launch)
    outcome = launcher.run(launch, dry_run=dry_run)
    for line in outcome.explanations:
        _warn(line)
    for line in _logged_summary(outcome):
        _warn(line)
    sys.exit(launcher.pass_through(outcome))


def _landlock_spec(spec: LandlockSpec | None, fs_read: tuple[str, ...], fs_write: tuple[str, ...],
                   fs_exec: tuple[str, ...], net_bind: tuple[int, ...], net_connect: tuple[int, ...],
                   apparmor_file: str | None, notes: list[str]) -> LandlockSpec | None:
    flag_spec = landlock.spec_from_flags(fs_read, fs_write, fs_exec, net_bind, net_connect)
    if not flag_spec.empty:
        spec = flag_spec if spec is None else spec.merged(flag_spec)
    if apparmor_file:
        from syswarden.policy.formats import apparmor
        profile = apparmor.load(apparmor_file)
        notes.extend(profile.warnings)
        aa_spec = landlock.spec_from_apparmor(profile)
        spec = aa_spec if spec is None else spec.merged(aa_spec)
    return spec


def _report(launch: launcher.Launch, verbose: bool) -> None:
    # Built-in profiles name syscalls newer than our tables on purpose (as runc, we skip them): not news.
    for policy in launch.policies:
        if policy.source.startswith("profile:"):
            continue
        for warning in policy.warnings:
            _warn(f"warning: {warning}")
    report = launch.landlock_report
    if report is not None and (report.not_enforced or verbose):
        for line in report.lines():
            _warn(line)


def _logged_summary(outcome: launcher.Outcome) -> list[str]:
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
