"""Planning a ``syswarden run`` launch: which seccomp filters to install, in which order and with which flags,
and the launcher's own exemptions (sandbox stage; ``supervisor.py`` forks, confines, execs and waits).

Two syscalls must pass the filters after they are installed although a policy may deny them: the ``execve`` of
CMD and, with several filters, the ``seccomp()`` installing the next one. Each filter that would not allow
them gets a leading rule allowing exactly that call *by pointer*: ``execve`` only when its path argument is the
address of the buffer syswarden prepared before forking (``kernel/exec.py``), ``seccomp`` only with the address
of the next ``sock_fprog``. Known limit: a hostile program that maps memory at that exact address can use the
exemption once more (the values are in ``docs/sandbox.md``); a policy that really must forbid execve should be
applied by the program itself (``syswarden.sandbox.apply``). A policy too large for one filter is split per
arch (systemd's layout).
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from syswarden.errors import (
    CommandNotExecutableError, CommandNotFoundError, CompileError, InputError, SyswardenError,
)
from syswarden.kernel import seccomp_abi
from syswarden.kernel.exec import ExecBuffers
from syswarden.sandbox.denials import decide
from syswarden.sandbox.supervisor import InstalledFilter, Launch, find_executable
from syswarden.syscalls.arch import Arch

if TYPE_CHECKING:
    from syswarden.policy.landlock import LandlockSpec
    from syswarden.policy.model import Policy, SyscallRule
    from syswarden.seccomp.compiler import CompiledFilter

EXEMPTION = "launcher:"


def resolve_executable(argv0: str) -> str:
    """The path execve will run. Before anything is forked: a missing command exits 127 and one that is not an
    executable file 126, as the shell and Docker report them (bad options keep 2)."""
    found = find_executable(argv0)
    if found is None:
        raise CommandNotFoundError(f"command not found: {argv0!r} (expected a program on PATH or a path)")
    if os.path.isdir(found) or not os.access(found, os.X_OK):
        raise CommandNotExecutableError(f"cannot execute {argv0!r}: "
                                        f"{'is a directory' if os.path.isdir(found) else 'permission denied'}")
    return found


def prepare(argv: Sequence[str], policies: Sequence[Policy], landlock_spec: LandlockSpec | None = None,
            require_landlock: int = 0, landlock_abi: int | None = None) -> Launch:
    """Check and compile everything; raises syswarden errors (bad input exits 2 before CMD runs)."""
    launch = _new_launch(argv, tuple(policies), landlock_spec, require_landlock, landlock_abi)
    _compile_filters(launch)
    return launch


def prepare_cached(argv: Sequence[str], filters: Sequence[tuple[bytes, int, int]],
                   rebuild: Callable[[], Sequence[Policy]],
                   landlock_spec: LandlockSpec | None = None, require_landlock: int = 0,
                   landlock_abi: int | None = None) -> Launch:
    """As ``prepare``, with filters compiled earlier: (image, seccomp() flags, policy index) each, none of them
    with launcher exemptions (those name this run's addresses). ``rebuild`` loads the policies again, should
    a kill need explaining."""
    launch = _new_launch(argv, (), landlock_spec, require_landlock, landlock_abi)
    launch.rebuild = rebuild
    launch.set_filters([InstalledFilter(image, flags, 0, policy_index) for image, flags, policy_index in filters])
    return launch


def _new_launch(argv: Sequence[str], policies: tuple[Policy, ...], landlock_spec: LandlockSpec | None,
                require_landlock: int, landlock_abi: int | None) -> Launch:
    if not argv:
        raise InputError("expected a command to run after '--'")
    launch = Launch(tuple(argv), resolve_executable(argv[0]), policies)
    if landlock_spec is not None and not landlock_spec.empty:
        from syswarden.sandbox import landlock
        landlock.check_paths(landlock_spec)
        from syswarden.kernel import landlock_abi as abi_mod
        report = landlock.plan(landlock_spec, abi_mod.abi_version() if landlock_abi is None else landlock_abi)
        if require_landlock:
            landlock.require(report, require_landlock)
        launch.landlock_spec, launch.landlock_report = landlock_spec, report
    elif require_landlock:
        from syswarden.kernel import landlock_abi as abi_mod
        from syswarden.sandbox import landlock
        from syswarden.policy.landlock import LandlockSpec
        landlock.require(landlock.plan(LandlockSpec(), abi_mod.abi_version()), require_landlock)
    return launch


def _exemptions(policy: Policy, exe_addr: int, later_fprogs: Sequence[int]) -> tuple[SyscallRule, ...]:
    from syswarden.policy.model import ALLOW, ArgCondition, Op, SyscallRule
    native = Arch.native()
    rules = []
    if not _allows(policy, "execve", native):
        rules.append(SyscallRule(("execve",), ALLOW, (ArgCondition(0, Op.EQ, exe_addr),), frozenset({native}),
                                 comment=f"{EXEMPTION} execve of CMD"))
    if later_fprogs and not _allows(policy, "seccomp", native):
        rules.extend(SyscallRule(("seccomp",), ALLOW, (ArgCondition(0, Op.EQ, seccomp_abi.SECCOMP_SET_MODE_FILTER),
                                                       ArgCondition(2, Op.EQ, addr)), frozenset({native}),
                                 comment=f"{EXEMPTION} next filter") for addr in later_fprogs)
    return tuple(rules)


def _allows(policy: Policy, name: str, arch: Arch) -> bool:
    from syswarden.policy.model import ActionKind
    verdict = decide(policy, name, arch)
    return verdict.action.kind in (ActionKind.ALLOW, ActionKind.LOG) and not verdict.conditional \
        and not _has_conditions(policy, name)


def _has_conditions(policy: Policy, name: str) -> bool:
    return any(name in r.names and r.args for r in policy.rules)


def split_by_arch(policy: Policy) -> list[Policy]:
    """One filter per arch (other arches ALLOW there, each covered by its sibling) plus a guard that gives
    every arch outside the policy its bad-arch action: systemd's layout, for policies too large for one filter."""
    from syswarden.policy.model import ALLOW
    if len(policy.arches) < 2:
        return [policy]
    per_arch = [replace(policy, arches=(arch,), bad_arch_action=ALLOW) for arch in policy.arches]
    guard = replace(policy, rules=(), default_action=ALLOW, name=policy.name, warnings=())
    return [*per_arch, guard]


def fit_filters(policy: Policy) -> list[Policy]:
    """The policy as one filter, or split per arch when it is too large for BPF_MAXINSNS."""
    from syswarden.seccomp.compiler import compile_policy
    try:
        compile_policy(policy)
        return [policy]
    except CompileError:
        return split_by_arch(policy)


def _compile_filters(launch: Launch) -> None:
    """Compile every policy with its exemptions; a policy too large for one filter is split per arch and the
    whole set is compiled again (the exemptions name the addresses of all later filters)."""
    plan = [[policy] for policy in launch.policies]
    while True:
        try:
            _compile_chunks(launch, [(policy, chunk) for policy, chunks in zip(launch.policies, plan)
                                     for chunk in chunks])
            return
        except _TooLarge as big:
            if len(plan[big.index]) > 1:
                raise big.error from None
            plan[big.index] = split_by_arch(launch.policies[big.index])


class _TooLarge(Exception):
    def __init__(self, index: int, error: CompileError) -> None:
        super().__init__(str(error))
        self.index, self.error = index, error


def _compile_chunks(launch: Launch, chunks: list[tuple[Policy, Policy]]) -> None:
    from syswarden.seccomp.compiler import compile_policy
    launch.exec_buffers = ExecBuffers(launch.executable, launch.argv, os.environ)
    launch.fprogs = [seccomp_abi.Fprog() for _ in chunks]        # their addresses go into the exemptions
    addrs = [f.address for f in launch.fprogs]
    installed = []
    for index, (policy, chunk) in enumerate(chunks):
        extra = _exemptions(chunk, launch.exec_buffers.path_address, addrs[index + 1:])
        policy_index = launch.policies.index(policy)
        try:
            compiled = compile_policy(replace(chunk, rules=extra + chunk.rules))
        except CompileError as exc:
            raise _TooLarge(policy_index, exc) from exc
        installed.append(InstalledFilter(compiled.to_bytes(), _filter_flags(compiled), len(extra), policy_index,
                                         policy, compiled))
    launch.set_filters(installed)


def _filter_flags(compiled: CompiledFilter) -> int:
    from syswarden.policy.model import ActionKind
    flags = 0
    for name in compiled.flags:
        flags |= seccomp_abi.FLAG_BY_NAME.get(name, 0)
    # The kernel audits trap actions only for filters with the LOG flag; without the record a SIGSYS from a
    # trap could not be explained (the parent never sees the child's siginfo).
    policy = compiled.policy
    if any(a.kind is ActionKind.TRAP for a in (policy.default_action, *(r.action for r in policy.rules))):
        flags |= seccomp_abi.SECCOMP_FILTER_FLAG_LOG
    return flags




def rebuilt_policies(launch: Launch) -> list[Policy]:
    """The user's policy behind each installed filter of a launch from the filter cache: rebuilt from its
    sources and recompiled; if that no longer gives the installed images (a policy file changed since the
    launch), nothing is claimed about which rule decided."""
    if launch.rebuild is None:
        return []
    try:
        fresh = Launch(launch.argv, launch.executable, tuple(launch.rebuild()))
        _compile_filters(fresh)
    except SyswardenError:
        return []
    if [f.image for f in fresh.filters] != [f.image for f in launch.filters]:
        return []
    return [f.policy for f in fresh.filters if f.policy is not None]
