"""What a ``syswarden run`` installs, decided below the CLI: how the policy sources stack, the filter-cache key
of a run, when a compiled launch is stored, and the launch itself (sandbox stage; ``cli/run_cmd.py`` and the
light launch path ``cli/fast_run.py`` only parse options and print).

Stacking: each ``--policy``/``--profile`` becomes its own filter (the kernel applies the strictest verdict of
all); ``--drop``/``--allow`` are merged in front of the first of them, or form a policy of their own when there
is none; ``--default-action`` changes the first; ``--log`` turns every denial into a logged allow.

Start-up time matters (a wrapper runs before every confined command): a launch from the filter cache needs the
key, the entry and ``supervisor``; the policy loaders, the compiler and Landlock are imported only when a run
needs them.
"""
from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from syswarden.policy.landlock import LandlockSpec
    from syswarden.policy.model import Action, Policy
    from syswarden.sandbox.filter_cache import Entry
    from syswarden.sandbox.supervisor import Launch


class FilterInputs:
    """Everything the seccomp filters of a run are built from (the filter cache keys on all of it). A plain
    class: the cached launch path does not import dataclasses."""

    __slots__ = ("policy_files", "profile_names", "drop", "allow", "default_action", "errno_name", "dry_run")

    def __init__(self, policy_files: Sequence[str] = (), profile_names: Sequence[str] = (),
                 drop: Sequence[str] = (), allow: Sequence[str] = (), default_action: str | None = None,
                 errno_name: str | None = None, dry_run: bool = False) -> None:
        self.policy_files, self.profile_names = tuple(policy_files), tuple(profile_names)
        self.drop, self.allow = tuple(drop), tuple(allow)
        self.default_action, self.errno_name, self.dry_run = default_action, errno_name, dry_run

    def build(self, texts: Mapping[str, str] | None = None) -> tuple[list[Policy], LandlockSpec | None]:
        """The filters to stack, in order, and the Landlock section found in policy files (``texts``: the
        content of policy files already read, by path)."""
        from syswarden.errors import InputError
        from syswarden.policy import landlock, profiles
        from syswarden.policy.formats import flags
        from syswarden.policy.load import load_policy_file
        from syswarden.policy.model import KILL_PROCESS
        deny: Action = flags.parse_errno(self.errno_name) if self.errno_name else KILL_PROCESS
        default = flags.parse_action_flag(self.default_action) if self.default_action else None
        policies: list[Policy] = [profiles.load(name) for name in self.profile_names]
        spec: LandlockSpec | None = None
        for path in self.policy_files:
            policy, section = load_policy_file(path, text=(texts or {}).get(path))
            policies.append(policy)
            spec = landlock.merge(spec, section)
        if self.drop or self.allow:
            if policies:
                policies[0] = flags.merge_flags(policies[0], self.drop, self.allow, deny=deny, default=default)
            else:
                policies.append(flags.from_flags(self.drop, self.allow, deny=deny, default=default))
        elif default is not None:
            if not policies:
                raise InputError("--default-action needs a policy to apply to (--profile, --policy, --drop or "
                                 "--allow)")
            policies[0] = flags.merge_flags(policies[0], default=default)
        if self.dry_run:
            policies = [flags.as_dry_run(p) for p in policies]
        return policies, spec


def read_policy_files(paths: Sequence[str]) -> dict[str, bytes] | None:
    """The bytes of each --policy file, or None (no caching) when one is policy text rather than a file name, or
    unreadable: the loader then reads it again and reports the problem."""
    from syswarden.input_file import MAX_DOCUMENT_BYTES, read_regular
    out: dict[str, bytes] = {}
    for path in paths:
        from syswarden.policy.source_text import looks_like_text   # (not imported by a launch without files)
        if looks_like_text(path):
            return None  # the policy text itself: not cached
        try:
            # the loader's bound and its refusal of FIFOs and devices, so this read cannot hang or grow first
            out[path] = read_regular(path, OSError, what="policy file", max_bytes=MAX_DOCUMENT_BYTES)
        except OSError:
            return None
    return out


def _universal_newlines(data: bytes) -> str:
    """The text a policy file reads as (``Path.read_text``: UTF-8, universal newlines)."""
    return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


def cache_key(inputs: FilterInputs, files: Mapping[str, bytes]) -> str | None:
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


class _Cacheable:
    """The key of a run and the policy texts it was computed from (None: not cacheable)."""

    __slots__ = ("key", "texts")

    def __init__(self, inputs: FilterInputs, use_cache: bool) -> None:
        self.key: str | None = None
        self.texts: dict[str, str] | None = None
        files = read_policy_files(inputs.policy_files) if use_cache else None
        if files is None:
            return
        try:
            self.texts = {path: _universal_newlines(data) for path, data in files.items()}
        except UnicodeDecodeError:
            return
        self.key = cache_key(inputs, files)


def cached_launch(cmd: Sequence[str], inputs: FilterInputs, landlock_spec: LandlockSpec | None = None,
                  require_landlock: int = 0) -> tuple[Launch, list[str]] | None:
    """The launch for CMD from the filter cache, and the warnings stored with it; None on a miss, when the
    inputs are not cacheable, or when CMD cannot be found (the full path reports that)."""
    from syswarden.sandbox import supervisor
    executable = supervisor.find_executable(cmd[0]) if cmd else None
    if executable is None or os.path.isdir(executable) or not os.access(executable, os.X_OK):
        return None
    cacheable = _Cacheable(inputs, True)
    if cacheable.key is None:
        return None
    from syswarden.sandbox import filter_cache
    entry = filter_cache.load(cacheable.key)
    if entry is None:
        return None
    return _launch_cached(cmd, inputs, cacheable.texts, entry, landlock_spec, require_landlock), list(entry.notices)


def _launch_cached(cmd: Sequence[str], inputs: FilterInputs, texts: Mapping[str, str] | None, entry: Entry,
                   spec: LandlockSpec | None, require_landlock: int) -> Launch:
    from syswarden.sandbox import supervisor
    filters = [supervisor.InstalledFilter(f.image, f.flags, 0, f.policy_index) for f in entry.filters]
    rebuild: Callable[[], Sequence[Policy]] = lambda: inputs.build(texts)[0]  # noqa: E731
    if spec is None and not require_landlock:
        executable = supervisor.find_executable(cmd[0]) if cmd else None
        if executable is not None and os.access(executable, os.X_OK) and not os.path.isdir(executable):
            launch = supervisor.Launch(tuple(cmd), executable, ())
            launch.rebuild = rebuild
            launch.set_filters(filters)
            return launch
    from syswarden.sandbox import launcher    # Landlock, or an error about CMD to report: the full planner
    return launcher.prepare_cached(cmd, [(f.image, f.flags, f.policy_index) for f in filters], rebuild, spec,
                                   require_landlock)


def prepare(cmd: Sequence[str], inputs: FilterInputs, landlock_flags: Callable[[], LandlockSpec | None],
            require_landlock: int, use_cache: bool) -> tuple[Launch, list[str]]:
    """The launch for CMD and the policy warnings to print: from the filter cache when an entry for these
    inputs is there and trusted, else built and compiled (and stored when the result is cacheable).
    ``landlock_flags`` gives the Landlock spec of the flags, after the policies (whose errors come first)."""
    cacheable = _Cacheable(inputs, use_cache)
    if cacheable.key is not None:
        from syswarden.sandbox import filter_cache
        entry = filter_cache.load(cacheable.key)
        if entry is not None:
            launch = _launch_cached(cmd, inputs, cacheable.texts, entry, landlock_flags(), require_landlock)
            return launch, list(entry.notices)
    from syswarden.policy import landlock
    from syswarden.sandbox import launcher
    policies, file_spec = inputs.build(cacheable.texts)
    spec = landlock.merge(file_spec, landlock_flags())
    launch = launcher.prepare(cmd, policies, spec, require_landlock)
    # Built-in profiles' warnings are about our own data (pinned by their tests): not printed at every run.
    notices = [w for p in policies if not p.source.startswith("profile:") for w in p.warnings]
    # Launcher exemptions name this run's addresses, and a policy file's landlock: section is not in the entry.
    if cacheable.key is not None and file_spec is None and launch.filters and all(f.offset == 0
                                                                                 for f in launch.filters):
        _store(cacheable.key, launch, notices)
    return launch, notices


def _store(key: str, launch: Launch, notices: list[str]) -> None:
    from syswarden.sandbox import filter_cache
    filters = tuple(filter_cache.CachedFilter(f.image, f.flags, f.policy_index) for f in launch.filters)
    filter_cache.store(key, filter_cache.Entry(filters, tuple(notices)))


def landlock_from_flags(fs_read: tuple[str, ...], fs_write: tuple[str, ...], fs_exec: tuple[str, ...],
                        net_bind: tuple[int, ...], net_connect: tuple[int, ...], scopes: tuple[str, ...],
                        apparmor_file: str | None, notes: list[str]) -> LandlockSpec | None:
    """The Landlock spec of ``run``'s flags and ``--apparmor`` profile (None when none is given); the AppArmor
    loader's warnings go to ``notes``."""
    if not (fs_read or fs_write or fs_exec or net_bind or net_connect or scopes or apparmor_file):
        return None
    from syswarden.policy import landlock
    spec = landlock.spec_from_flags(fs_read, fs_write, fs_exec, net_bind, net_connect, scopes)
    result = None if spec.empty else spec
    if apparmor_file:
        from syswarden.policy.formats import apparmor
        profile = apparmor.load(apparmor_file)
        notes.extend(profile.warnings)
        result = landlock.merge(result, landlock.spec_from_apparmor(profile))
    return result
