"""The launcher behind ``syswarden run``: confine a child with Landlock and seccomp, exec CMD in it, wait,
explain a seccomp kill, and pass CMD's exit status through (sandbox stage, the end of the enforcement pipeline).

Process shape (decided so a kill can be explained): syswarden forks; the child sets no_new_privs, enforces
Landlock, installs the filters and execs CMD; the parent only waits, forwards termination signals and, when CMD
dies by a signal, looks up the kernel's SECCOMP audit record (``denials.py``). ``exec_in_place`` is the
variant without a supervising process (``--exec``): nothing stays behind, nothing is explained.

Two syscalls must pass the filters after they are installed although a policy may deny them: the ``execve`` of
CMD and, with several filters, the ``seccomp()`` installing the next one. Each filter that would not allow
them gets a leading rule allowing exactly that call *by pointer*: ``execve`` only when its path argument is the
address of the buffer syswarden prepared before forking, ``seccomp`` only with the address of the next
``sock_fprog``. Known limit: a hostile program that maps memory at that exact address can use the exemption
once more (the values are in ``docs/sandbox.md``); a policy that really must forbid execve should be applied
by the program itself (``syswarden.sandbox.apply``).
"""
from __future__ import annotations

import ctypes
import os
import resource
import select
import signal
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from syswarden.errors import CompileError, InputError, KernelError, SyswardenError
from syswarden.kernel import prctl, seccomp_abi
from syswarden.sandbox.denials import SeccompRecord, SeccompWatcher, decide, explain_kill, responsible
from syswarden.syscalls.arch import Arch

if TYPE_CHECKING:
    from syswarden.policy.model import Policy, SyscallRule
    from syswarden.policy.landlock import LandlockSpec
    from syswarden.sandbox import landlock
    from syswarden.seccomp.compiler import CompiledFilter

# The compiler, the policy model and Landlock are imported where used: a launch from the filter cache (the
# common case) needs none of them, and start-up time is the cost of every confined command.

FORWARDED = (signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGWINCH, signal.SIGCONT)
EXEMPTION = "launcher:"
# How long to wait after CMD exits for its Landlock audit records (see ``_landlock_explanations``).
LANDLOCK_DRAIN_SECONDS = 0.5
LANDLOCK_GRACE_SECONDS = 0.1
_libc = ctypes.CDLL(None, use_errno=True)


@dataclass(frozen=True, slots=True)
class InstalledFilter:
    """A filter as installed: its BPF image and seccomp() flags, ``offset`` launcher rules first; the user's
    policy (``launch.policies[policy_index]``) and the compiled policy, or None when the image came from the
    filter cache (``prepare_cached``: they are rebuilt only to explain a kill)."""

    image: bytes
    flags: int
    offset: int
    policy_index: int
    policy: Policy | None = None
    compiled: CompiledFilter | None = None


@dataclass(slots=True)
class Outcome:
    """How CMD ended: ``exit_code`` or ``signal``, and the explanations (one line each, unescaped)."""

    pid: int
    exit_code: int | None
    signal: int | None
    record: SeccompRecord | None = None
    explanations: list[str] = field(default_factory=list)
    logged: list[SeccompRecord] = field(default_factory=list)
    records_lost: bool = False        # the audit channel overflowed: logged counts are lower bounds
    landlock_explanations: list[str] = field(default_factory=list)  # Landlock denials of CMD's tree (ABI 7)
    landlock_unlogged: bool = False   # Landlock could have logged CMD's denials, but kernel audit was off


@dataclass(slots=True)
class Launch:
    """Everything prepared in the parent before forking (the child only performs system calls)."""

    argv: tuple[str, ...]
    executable: str
    policies: tuple[Policy, ...]
    landlock_spec: LandlockSpec | None = None
    landlock_report: landlock.LandlockReport | None = None
    filters: list[InstalledFilter] = field(default_factory=list)
    # From the filter cache: how to load the policies again (to explain a kill); None when they are loaded.
    rebuild: Callable[[], Sequence[Policy]] | None = None
    _exe: ctypes.Array[ctypes.c_char] | None = None
    _argv: ctypes.Array[ctypes.c_char_p] | None = None
    _envp: ctypes.Array[ctypes.c_char_p] | None = None
    _fprogs: list[seccomp_abi.SockFprog] = field(default_factory=list)
    _keep: list[object] = field(default_factory=list)


def resolve_executable(argv0: str) -> str:
    """The path execve will run; a missing command is an InputError (exit 2) before anything is forked."""
    if "/" in argv0:
        found = argv0 if os.path.exists(argv0) else None
    else:
        import shutil  # 4 ms of imports (bz2, lzma...) that a command given by path does not need
        found = shutil.which(argv0)
    if found is None:
        raise InputError(f"command not found: {argv0!r} (expected a program on PATH or a path)")
    return os.path.abspath(found)


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
    launch._fprogs = [seccomp_abi.SockFprog() for _ in filters]
    for index, (image, flags, policy_index) in enumerate(filters):
        _set_image(launch, index, image)
        launch.filters.append(InstalledFilter(image, flags, 0, policy_index))
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
    _prepare_exec(launch)
    return launch


def _prepare_exec(launch: Launch) -> None:
    launch._exe = ctypes.create_string_buffer(os.fsencode(launch.executable))
    args = [ctypes.c_char_p(os.fsencode(a)) for a in launch.argv]
    env = [ctypes.c_char_p(os.fsencode(f"{k}={v}")) for k, v in os.environ.items()]
    launch._argv = (ctypes.c_char_p * (len(args) + 1))(*args, None)
    launch._envp = (ctypes.c_char_p * (len(env) + 1))(*env, None)
    launch._keep.extend([args, env])


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
    launch._fprogs = [seccomp_abi.SockFprog() for _ in chunks]
    launch.filters = []
    addrs = [ctypes.addressof(f) for f in launch._fprogs]
    exe_addr = ctypes.addressof(launch._exe) if launch._exe is not None else 0
    for index, (policy, chunk) in enumerate(chunks):
        extra = _exemptions(chunk, exe_addr, addrs[index + 1:])
        policy_index = launch.policies.index(policy)
        try:
            compiled = compile_policy(replace(chunk, rules=extra + chunk.rules))
        except CompileError as exc:
            raise _TooLarge(policy_index, exc) from exc
        image = compiled.to_bytes()
        _set_image(launch, index, image)
        launch.filters.append(InstalledFilter(image, _filter_flags(compiled), len(extra), policy_index, policy,
                                              compiled))


def _set_image(launch: Launch, index: int, image: bytes) -> None:
    """Point the index-th sock_fprog at a copy of ``image`` that lives as long as the launch."""
    count = len(image) // ctypes.sizeof(seccomp_abi.SockFilter)
    array = (seccomp_abi.SockFilter * count).from_buffer_copy(image)
    launch._keep.append(array)
    launch._fprogs[index].len = count
    launch._fprogs[index].filter = ctypes.cast(array, ctypes.POINTER(seccomp_abi.SockFilter))


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


def _confine_and_exec(launch: Launch, errpipe: int | None, log_landlock: bool = False) -> None:
    """In the child: restore signals, Landlock, no_new_privs, filters, execve. Never returns.

    A failure goes to ``errpipe`` as ``code:message`` for the parent, or (in place, ``errpipe`` None) to stderr.
    ``log_landlock``: ask the kernel to log CMD's Landlock denials (the parent explains them).
    """
    try:
        # Python ignores SIGPIPE and SIGXFSZ and an ignored signal survives exec (as subprocess does, restore
        # them); caught signals reset on exec by themselves, and signals ignored by *our* caller stay ignored.
        for sig in (signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(sig, signal.SIG_DFL)
        if launch.landlock_spec is not None and launch.landlock_report is not None:
            from syswarden.sandbox import landlock  # imported already by prepare: no import runs in the child
            landlock.enforce(launch.landlock_spec, launch.landlock_report, log_after_exec=log_landlock)
        prctl.set_no_new_privs()
        flags = [f.flags for f in launch.filters]
        pointers = [ctypes.cast(ctypes.pointer(p), ctypes.c_void_p) for p in launch._fprogs]
        for flag, pointer in zip(flags, pointers):
            seccomp_abi.seccomp(seccomp_abi.SECCOMP_SET_MODE_FILTER, flag, pointer)
        _libc.execve(launch._exe, launch._argv, launch._envp)
        err = ctypes.get_errno()
        message = f"cannot execute {launch.executable!r}: {os.strerror(err)}"
        code = 127 if err == 2 else 126
    except BaseException as exc:  # the child must never return into the parent's code
        message, code = f"cannot confine the child: {exc}", 125
    try:
        if errpipe is None:
            os.write(2, f"syswarden: {message}\n".encode("utf-8", "replace"))
        else:
            os.write(errpipe, f"{code}:{message}".encode())
    finally:
        os._exit(code)


def exec_in_place(launch: Launch) -> None:
    """``--exec``: confine this process and exec CMD in it (no supervisor, no explanation). Never returns."""
    sys.stdout.flush()
    sys.stderr.flush()
    _confine_and_exec(launch, None)


def run(launch: Launch, explain: bool = True, dry_run: bool = False, explain_landlock: bool = False,
        switch_audit: bool = False) -> Outcome:
    """Fork, confine and exec CMD in the child, wait for it and explain how it ended.

    ``explain_landlock``: with Landlock ABI 7 and kernel audit on, have CMD's Landlock denials logged and
    explain them (``Outcome.landlock_explanations``); ``switch_audit`` turns audit on for the run when it is off
    (``landlock_denials.audit_on_for_run``), else ``Outcome.landlock_unlogged`` says nothing could be logged.

    Raises:
        KernelError: the child could not be confined (CMD never ran).
    """
    report = launch.landlock_report
    wanted = explain_landlock and report is not None and report.can_log
    audit_switch: AbstractContextManager[bool] = nullcontext(False)
    if wanted:
        from syswarden.sandbox import landlock_denials
        audit_switch = landlock_denials.audit_on_for_run(switch_audit)
    with audit_switch as audit_on:
        log_landlock = wanted and audit_on
        seccomp = (explain or dry_run) and bool(launch.filters)
        watcher = SeccompWatcher(landlock=log_landlock) if seccomp or log_landlock else None
        try:
            read_end, write_end = os.pipe2(os.O_CLOEXEC)
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                os.close(read_end)
                _confine_and_exec(launch, write_end, log_landlock)
            os.close(write_end)
            failure = _read_all(read_end)
            status = _wait(pid, watcher)
            if failure:
                code, _, message = failure.partition(":")
                if code == "125":
                    raise KernelError(message)
                return Outcome(pid, int(code), None, explanations=[message])
            outcome = _outcome(pid, status, launch, watcher if seccomp else None, dry_run)
            if log_landlock and watcher is not None:
                outcome.landlock_explanations = _landlock_explanations(watcher, pid, status)
            outcome.landlock_unlogged = wanted and not audit_on
            return outcome
        finally:
            if watcher is not None:
                watcher.close()


def _landlock_explanations(watcher: SeccompWatcher, pid: int, status: int) -> list[str]:
    """CMD's Landlock denials, once they are all in: kauditd delivers asynchronously, so wait (briefly) for the
    record of the domain's release when the domain showed up, and give a failed CMD a short grace otherwise."""
    from syswarden.sandbox import landlock_denials
    failed = not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0
    deadline = time.monotonic() + LANDLOCK_DRAIN_SECONDS
    grace = time.monotonic() + (LANDLOCK_GRACE_SECONDS if failed else 0.0)
    watcher.pump()
    while time.monotonic() < deadline and watcher.channel != "none":
        domain = landlock_denials.cmd_domain(watcher.landlock_records, pid)
        if domain is None and time.monotonic() >= grace:
            break
        if domain is not None and landlock_denials.domain_released(watcher.landlock_records, domain):
            break
        watcher.drain(0.02)
    return landlock_denials.explain(landlock_denials.collect(watcher.landlock_records, pid))


def _read_all(fd: int) -> str:
    chunks = []
    while chunk := os.read(fd, 4096):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode("utf-8", "replace")


def _wait(pid: int, watcher: SeccompWatcher | None = None) -> int:
    """waitpid, forwarding termination signals to the child meanwhile (SIGINT/SIGQUIT reach it from the tty)
    and taking in audit records as they come, so a long run cannot overflow their buffer."""
    previous = {sig: signal.signal(sig, lambda s, _f: _forward(pid, s)) for sig in FORWARDED}
    previous.update({sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGQUIT)})
    try:
        if watcher is not None and watcher.fileno() >= 0:
            _wait_pumping(pid, watcher)
        _, status = os.waitpid(pid, 0)
        return status
    except ChildProcessError:
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _wait_pumping(pid: int, watcher: SeccompWatcher) -> None:
    """Block until the child exits (its pidfd becomes readable), pumping the watcher meanwhile."""
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return  # kernels before 5.3: plain waitpid, records are read after the exit
    try:
        while True:
            ready, _, _ = select.select([pidfd, watcher.fileno()], [], [])
            if watcher.fileno() in ready:
                watcher.pump()
            if pidfd in ready:
                return
    finally:
        os.close(pidfd)


def _forward(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _outcome(pid: int, status: int, launch: Launch, watcher: SeccompWatcher | None, dry_run: bool) -> Outcome:
    policies = _installed_policies(launch) if watcher is not None and _needs_policies(status) else []
    if os.WIFEXITED(status):
        outcome = Outcome(pid, os.WEXITSTATUS(status), None)
    else:
        outcome = Outcome(pid, None, os.WTERMSIG(status))
        if watcher is not None:
            record = watcher.find(pid, timeout=1.0)
            if record is not None or outcome.signal == signal.SIGSYS:
                outcome.record = record
                comm = os.path.basename(launch.argv[0])
                outcome.explanations = [explain_kill(record, policies, comm, pid)]
    if watcher is not None and outcome.exit_code == 128 + signal.SIGSYS:
        outcome.explanations = _descendant_kills(watcher, policies, pid)
    if dry_run and watcher is not None:
        from syswarden.policy.model import ActionKind
        outcome.logged = [r for r in watcher.drain() if r.action_kind is ActionKind.LOG]
        outcome.records_lost = watcher.lost
    return outcome


def _needs_policies(status: int) -> bool:
    """Only a death by signal or a shell's 128+SIGSYS is explained with the policies."""
    return not os.WIFEXITED(status) or os.WEXITSTATUS(status) == 128 + signal.SIGSYS


def _installed_policies(launch: Launch) -> list[Policy]:
    """The user's policy behind each installed filter. Filters from the cache are rebuilt from their sources and
    recompiled; if that no longer gives the installed images (a policy file changed since the launch), nothing
    is claimed about which rule decided."""
    if all(f.policy is not None for f in launch.filters):
        return [f.policy for f in launch.filters if f.policy is not None]
    if launch.rebuild is None:
        return []
    try:
        fresh = Launch(launch.argv, launch.executable, tuple(launch.rebuild()))
        _prepare_exec(fresh)
        _compile_filters(fresh)
    except SyswardenError:
        return []
    if [f.image for f in fresh.filters] != [f.image for f in launch.filters]:
        return []
    return [f.policy for f in fresh.filters if f.policy is not None]


def _descendant_kills(watcher: SeccompWatcher, policies: list[Policy], pid: int) -> list[str]:
    """CMD exited with 159, as a shell does when its child died of SIGSYS: report the kills recorded during
    the run that our policies account for (stated as what was seen, since a dead pid's parent is unknowable)."""
    kills = [r for r in watcher.drain(0.5) if r.pid != pid and r.fatal and responsible(policies, r) is not None]
    return [f"during the run, {explain_kill(r, policies, r.comm, r.pid)}" for r in kills[:3]]


def pass_through(outcome: Outcome) -> int:
    """Return CMD's exit code, or die of CMD's signal ourselves (default disposition, no core file)."""
    if outcome.signal is None:
        return outcome.exit_code if outcome.exit_code is not None else 1
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    sys.stdout.flush()
    sys.stderr.flush()
    signal.signal(outcome.signal, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [outcome.signal])
    os.kill(os.getpid(), outcome.signal)
    return 128 + outcome.signal  # a signal that does not terminate (SIGCHLD...) falls back to the shell value
