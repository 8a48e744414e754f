"""``syswarden run [OPTIONS] -- CMD [ARGS...]``: run CMD confined by seccomp filters and Landlock rules.

Policy sources combine: each ``--policy``/``--profile`` becomes its own stacked filter (the kernel applies the
strictest verdict of all); ``--drop``/``--allow`` are merged in front of the first of them, or form a policy of
their own when there is none. Everything is checked before CMD starts: bad input exits 2 and runs nothing.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from syswarden.errors import InputError
from syswarden.escaping import escape_text

if TYPE_CHECKING:
    from syswarden.policy.model import Action, Policy
    from syswarden.sandbox import launcher
    from syswarden.sandbox.filter_cache import Entry
    from syswarden.policy.landlock import LandlockSpec

# Start-up time matters here (a wrapper runs before every confined command): the policy loaders, the compiler
# and Landlock are imported only when this run needs them, and a filter cache hit needs none of them.


def build_policies(policy_files: Sequence[str], profile_names: Sequence[str], drop: Sequence[str],
                   allow: Sequence[str], default_action: str | None, errno_name: str | None,
                   dry_run: bool, texts: Mapping[str, str] | None = None) -> tuple[list[Policy], LandlockSpec | None]:
    """The filters to stack, in order, and the Landlock section found in policy files (``texts``: the
    content of policy files already read, by path)."""
    from syswarden.policy import profiles
    from syswarden.policy.formats import flags
    from syswarden.policy.model import KILL_PROCESS
    from syswarden.policy.load import load_policy_file
    deny: Action = flags.parse_errno(errno_name) if errno_name else KILL_PROCESS
    default = flags.parse_action_flag(default_action) if default_action else None
    policies: list[Policy] = [profiles.load(name) for name in profile_names]
    spec: LandlockSpec | None = None
    for path in policy_files:
        policy, section = load_policy_file(path, text=(texts or {}).get(path))
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


@dataclass(frozen=True, slots=True)
class FilterInputs:
    """Everything the seccomp filters of a run are built from (the filter cache keys on all of it)."""

    policy_files: tuple[str, ...]
    profile_names: tuple[str, ...]
    drop: tuple[str, ...]
    allow: tuple[str, ...]
    default_action: str | None
    errno_name: str | None
    dry_run: bool

    def build(self, texts: Mapping[str, str] | None = None) -> tuple[list[Policy], LandlockSpec | None]:
        return build_policies(self.policy_files, self.profile_names, self.drop, self.allow, self.default_action,
                              self.errno_name, self.dry_run, texts)


def _read_policy_texts(paths: Sequence[str]) -> dict[str, bytes] | None:
    """The bytes of each --policy file, or None (no caching) when one is inline text or unreadable: the
    loader then reads it again and reports the problem."""
    out: dict[str, bytes] = {}
    for path in paths:
        if "\n" in path or path.lstrip().startswith("{") or ": " in path:
            return None  # maybe policy text rather than a file name (policy.load's rule): not cached
        try:
            with open(path, "rb") as fh:
                out[path] = fh.read()
        except OSError:
            return None
    return out


def _universal_newlines(data: bytes) -> str:
    """The text a policy file reads as (``Path.read_text``: UTF-8, universal newlines)."""
    return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


def _cache_key(inputs: FilterInputs, files: Mapping[str, bytes]) -> str | None:
    """The filter cache key for these inputs, or None when they are not cacheable (no policy, unknown profile)."""
    from syswarden.policy import profiles
    from syswarden.sandbox import filter_cache
    if not (inputs.profile_names or inputs.policy_files or inputs.drop or inputs.allow):
        return None
    parts: list[bytes | str] = []
    for name in inputs.profile_names:
        if name not in profiles.PROFILES:
            return None
        parts += ["profile", name, profiles.PROFILES[name].fmt, profiles.source_bytes(name)]
    for path in inputs.policy_files:
        parts += ["policy", path, os.path.abspath(path), files[path]]
    for label, values in (("drop", inputs.drop), ("allow", inputs.allow)):
        parts += [f"{label} {len(values)}", *values]
    parts += [f"default-action {inputs.default_action!r}", f"errno {inputs.errno_name!r}",
              f"log {inputs.dry_run}"]
    return filter_cache.make_key(parts)


def _prepare(cmd: tuple[str, ...], inputs: FilterInputs, landlock_flags: Callable[[], LandlockSpec | None],
             require_landlock: int, use_cache: bool) -> tuple[launcher.Launch, list[str]]:
    """The launch for CMD and the policy warnings to print: from the filter cache when an entry for these
    inputs is there and trusted, else built and compiled (and stored when the result is cacheable).
    ``landlock_flags`` gives the Landlock spec of the flags, after the policies (whose errors come first)."""
    files = _read_policy_texts(inputs.policy_files) if use_cache else None
    texts: dict[str, str] | None = None
    key = None
    if files is not None:
        try:
            texts = {path: _universal_newlines(data) for path, data in files.items()}
            key = _cache_key(inputs, files)
        except UnicodeDecodeError:
            texts = None
    if key is not None:
        from syswarden.sandbox import filter_cache
        entry = filter_cache.load(key)
        if entry is not None:
            launch = _launch_cached(cmd, inputs, texts, entry, landlock_flags(), require_landlock)
            return launch, list(entry.notices)
    from syswarden.sandbox import launcher
    policies, spec = inputs.build(texts)
    file_spec, flag_spec = spec, landlock_flags()
    if flag_spec is not None:
        spec = flag_spec if spec is None else spec.merged(flag_spec)
    launch = launcher.prepare(cmd, policies, spec, require_landlock)
    notices = [w for p in policies if not p.source.startswith("profile:") for w in p.warnings]
    # Launcher exemptions name this run's addresses, and a policy file's landlock: section is not in the entry.
    if key is not None and file_spec is None and launch.filters and all(f.offset == 0 for f in launch.filters):
        _store(key, launch, notices)
    return launch, notices


def _launch_cached(cmd: tuple[str, ...], inputs: FilterInputs, texts: Mapping[str, str] | None, entry: Entry,
                   spec: LandlockSpec | None, require_landlock: int) -> launcher.Launch:
    from syswarden.sandbox import launcher
    filters = [(f.image, f.flags, f.policy_index) for f in entry.filters]
    return launcher.prepare_cached(cmd, filters, lambda: inputs.build(texts)[0], spec, require_landlock)


def _store(key: str, launch: launcher.Launch, notices: list[str]) -> None:
    from syswarden.sandbox import filter_cache
    filters = tuple(filter_cache.CachedFilter(f.image, f.flags, f.policy_index) for f in launch.filters)
    filter_cache.store(key, filter_cache.Entry(filters, tuple(notices)))


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
    from syswarden.sandbox import launcher
    inputs = FilterInputs(policy_files, profile_names, drop, allow, default_action, errno_name, dry_run)
    notes: list[str] = []
    launch, warnings = _prepare(
        cmd, inputs, lambda: _landlock_spec(None, fs_read, fs_write, fs_exec, net_bind, net_connect, scopes,
                                            apparmor_file, notes),
        require_landlock or 0, not no_cache)
    if not quiet:
        for note in notes:
            _warn(f"warning: {note}")
        _report(warnings, launch, verbose)
    if in_place:
        launcher.exec_in_place(launch)
    outcome = launcher.run(launch, dry_run=dry_run, explain_landlock=not quiet, switch_audit=landlock_audit)
    for line in outcome.explanations:
        _warn(line)
    for line in outcome.landlock_explanations:
        _warn(line)
    if outcome.landlock_unlogged and (outcome.signal is not None or outcome.exit_code != 0):
        _warn("note: Landlock denials are not logged while kernel audit is off; to have them named, rerun with "
              "--landlock-audit (switches audit on for the run) or turn audit on (auditctl -e 1)")
    for line in _logged_summary(outcome):
        _warn(line)
    sys.exit(launcher.pass_through(outcome))


def _landlock_spec(spec: LandlockSpec | None, fs_read: tuple[str, ...], fs_write: tuple[str, ...],
                   fs_exec: tuple[str, ...], net_bind: tuple[int, ...], net_connect: tuple[int, ...],
                   scopes: tuple[str, ...], apparmor_file: str | None, notes: list[str]) -> LandlockSpec | None:
    if not (fs_read or fs_write or fs_exec or net_bind or net_connect or scopes or apparmor_file):
        return spec
    from syswarden.policy import landlock
    flag_spec = landlock.spec_from_flags(fs_read, fs_write, fs_exec, net_bind, net_connect, scopes)
    if not flag_spec.empty:
        spec = flag_spec if spec is None else spec.merged(flag_spec)
    if apparmor_file:
        from syswarden.policy.formats import apparmor
        profile = apparmor.load(apparmor_file)
        notes.extend(profile.warnings)
        aa_spec = landlock.spec_from_apparmor(profile)
        spec = aa_spec if spec is None else spec.merged(aa_spec)
    return spec


def _report(warnings: list[str], launch: launcher.Launch, verbose: bool) -> None:
    # ``warnings`` leaves out built-in profiles' (they name syscalls newer than our tables on purpose: as runc,
    # we skip them; not news).
    for warning in warnings:
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
