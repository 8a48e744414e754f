"""Process supervision behind ``syswarden run``: fork, confine the child (Landlock, no_new_privs, the prepared
seccomp filters), exec CMD, wait, explain how it ended, and pass CMD's exit status through (sandbox stage, the
end of the enforcement pipeline; ``launcher.py`` plans what is installed).

Process shape (decided so a kill can be explained): syswarden forks; the child sets no_new_privs, enforces
Landlock, installs the filters and execs CMD; the parent only waits, forwards termination signals and collects
the kernel's SECCOMP audit records (``denials.py``) while CMD's tree runs. A kill of CMD, or of any process of
its tree that our policies account for, is explained after CMD exits. ``exec_in_place`` is the variant without
a supervising process (``--exec``): nothing stays behind, nothing is explained.

Start-up time is the cost of every confined command, and a launch from the filter cache runs only this module:
its classes are plain slotted classes (no dataclasses), and the policy model, the compiler and Landlock are
imported only when a launch needs them (a kill to explain, a Landlock ruleset to enforce).
"""
from __future__ import annotations

import _signal as signal  # type: ignore[import-not-found]  # no stub; signal.py wraps the same functions in enums: enum and functools cost ~10 ms at start-up
import os
import select
import sys
import time

from syswarden.kernel import prctl, seccomp_abi
from syswarden.sandbox.audit_watch import SeccompWatcher

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from syswarden.kernel.exec import ExecBuffers
    from syswarden.policy.landlock import LandlockSpec
    from syswarden.policy.model import Policy
    from syswarden.sandbox.denials import SeccompRecord
    from syswarden.sandbox.landlock import LandlockReport
    from syswarden.seccomp.compiler import CompiledFilter

FORWARDED = (signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGWINCH, signal.SIGCONT)
# How long to wait after CMD exits for its Landlock audit records (see ``_landlock_explanations``).
LANDLOCK_DRAIN_SECONDS = 0.5
LANDLOCK_GRACE_SECONDS = 0.1
# How many kills of other processes of CMD's tree are explained (the rest are counted).
MAX_TREE_KILLS = 3


class InstalledFilter:
    """A filter as installed: its BPF image and seccomp() flags, ``offset`` launcher rules first; the user's
    policy (``launch.policies[policy_index]``) and the compiled policy, or None when the image came from the
    filter cache (they are rebuilt only to explain a kill)."""

    __slots__ = ("image", "flags", "offset", "policy_index", "policy", "compiled")

    def __init__(self, image: bytes, flags: int, offset: int, policy_index: int, policy: Policy | None = None,
                 compiled: CompiledFilter | None = None) -> None:
        self.image, self.flags, self.offset, self.policy_index = image, flags, offset, policy_index
        self.policy, self.compiled = policy, compiled


class Launch:
    """Everything prepared in the parent before forking (the child only performs system calls).

    ``exec_buffers`` is set when a filter exempts CMD's execve by its path pointer (else ``os.execve``);
    ``rebuild`` loads the policies again for a launch from the filter cache, should a kill need explaining."""

    __slots__ = ("argv", "executable", "policies", "landlock_spec", "landlock_report", "filters", "rebuild",
                 "exec_buffers", "fprogs")

    def __init__(self, argv: tuple[str, ...], executable: str, policies: tuple[Policy, ...]) -> None:
        self.argv, self.executable, self.policies = argv, executable, policies
        self.landlock_spec: LandlockSpec | None = None
        self.landlock_report: LandlockReport | None = None
        self.filters: list[InstalledFilter] = []
        self.rebuild: Callable[[], Sequence[Policy]] | None = None
        self.exec_buffers: ExecBuffers | None = None
        self.fprogs: list[seccomp_abi.Fprog] = []

    def set_filters(self, filters: Sequence[InstalledFilter]) -> None:
        """Install ``filters`` in this order: one ``sock_fprog`` each, pointing at a copy of its image that lives
        as long as the launch. ``fprogs`` already made for as many filters are kept (an exemption names their
        addresses, taken before the images were compiled)."""
        if len(self.fprogs) != len(filters):
            self.fprogs = [seccomp_abi.Fprog() for _ in filters]
        self.filters = list(filters)
        for fprog, installed in zip(self.fprogs, filters):
            fprog.point_at(installed.image)


class Outcome:
    """How CMD ended: ``exit_code`` or ``signal``, and the explanations (one line each, unescaped)."""

    __slots__ = ("pid", "exit_code", "signal", "record", "explanations", "logged", "records_lost",
                 "landlock_explanations", "landlock_unlogged")

    def __init__(self, pid: int, exit_code: int | None, signal_number: int | None,
                 explanations: list[str] | None = None) -> None:
        self.pid, self.exit_code, self.signal = pid, exit_code, signal_number
        self.record: SeccompRecord | None = None
        self.explanations: list[str] = explanations or []
        self.logged: list[SeccompRecord] = []
        self.records_lost = False           # the audit channel overflowed: logged counts are lower bounds
        self.landlock_explanations: list[str] = []   # Landlock denials of CMD's tree (ABI 7)
        self.landlock_unlogged = False      # Landlock could have logged CMD's denials, but kernel audit was off


def find_executable(argv0: str) -> str | None:
    """The absolute path execve will run for ``argv0`` (searched on PATH when it has no slash), or None when
    there is no such file. Whether it may be executed is the kernel's answer (126)."""
    if "/" in argv0:
        return os.path.abspath(argv0) if os.path.exists(argv0) else None
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        candidate = os.path.join(directory or ".", argv0)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return os.path.abspath(candidate)
    return None


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
        for installed, fprog in zip(launch.filters, launch.fprogs):
            seccomp_abi.seccomp(seccomp_abi.SECCOMP_SET_MODE_FILTER, installed.flags, fprog.address)
        if launch.exec_buffers is not None:
            err = launch.exec_buffers.execve()
        else:
            try:
                os.execve(launch.executable, launch.argv, os.environ)
            except OSError as exc:
                err = exc.errno or 0
        message = f"cannot execute {launch.executable!r}: {os.strerror(err)}"
        code = 127 if err == 2 else 126
    except BaseException as exc:  # noqa: BLE001 - the child must never return into the parent's code
        message, code = f"cannot confine the child: {exc}", 125
    try:
        if errpipe is None:
            os.write(2, f"syswarden: {message}\n".encode("utf-8", "replace"))
        else:
            os.write(errpipe, f"{code}:{message}".encode("utf-8", "replace"))
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
    if not wanted:
        return _run(launch, explain, dry_run, False, False)
    from syswarden.sandbox import landlock_denials
    with landlock_denials.audit_on_for_run(switch_audit) as audit_on:
        outcome = _run(launch, explain, dry_run, audit_on, True)
        outcome.landlock_unlogged = not audit_on
        return outcome


def _run(launch: Launch, explain: bool, dry_run: bool, log_landlock: bool, landlock_wanted: bool) -> Outcome:
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
        if watcher is not None:
            watcher.watch_tree(pid)
        failure = _read_all(read_end)
        status = _wait(pid, watcher)
        if failure:
            code, _, message = failure.partition(":")
            if code == "125":
                from syswarden.errors import KernelError
                raise KernelError(message)
            return Outcome(pid, int(code), None, [message])
        outcome = _outcome(pid, status, launch, watcher if seccomp else None, dry_run)
        if log_landlock and watcher is not None:
            outcome.landlock_explanations = _landlock_explanations(watcher, pid, status)
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
    if os.WIFEXITED(status):
        outcome = Outcome(pid, os.WEXITSTATUS(status), None)
    else:
        outcome = Outcome(pid, None, os.WTERMSIG(status))
    if watcher is None:
        return outcome
    if outcome.signal is not None:
        from syswarden.sandbox import denials
        record = watcher.find(pid, timeout=1.0)
        if record is not None or outcome.signal == signal.SIGSYS:
            outcome.record = record
            comm = os.path.basename(launch.argv[0])
            outcome.explanations = [denials.explain_kill(record, installed_policies(launch), comm, pid)]
    outcome.explanations += _tree_kills(watcher, launch, pid, outcome)
    if dry_run:
        from syswarden.policy.model import ActionKind
        outcome.logged = [r for r in watcher.drain() if r.action_kind is ActionKind.LOG]
        outcome.records_lost = watcher.lost
    return outcome


def _tree_kills(watcher: SeccompWatcher, launch: Launch, pid: int, outcome: Outcome) -> list[str]:
    """Kills of other processes of CMD's tree during the run (a shell's child, a worker), whatever CMD's own
    status: each fatal record whose process was seen in CMD's tree, or (when it was gone before we could look)
    that one of our policies accounts for, stated as seen during the run."""
    # A shell reports its child's SIGSYS as 159 and exits right away: give kauditd a moment for that record.
    wait = 0.5 if outcome.exit_code == 128 + signal.SIGSYS else 0.0
    candidates = [r for r in watcher.drain(wait) if r.pid != pid and r.fatal and watcher.in_tree(r.pid) is not False]
    if not candidates:
        return []
    from syswarden.sandbox import denials
    policies = installed_policies(launch)
    kills = [r for r in candidates if watcher.in_tree(r.pid) or denials.responsible(policies, r) is not None]
    lines = [f"during the run, {denials.explain_kill(r, policies, r.comm, r.pid)}" for r in kills[:MAX_TREE_KILLS]]
    if len(kills) > MAX_TREE_KILLS:
        lines.append(f"during the run, {len(kills) - MAX_TREE_KILLS} more processes of CMD's tree were killed")
    return lines


def installed_policies(launch: Launch) -> list[Policy]:
    """The user's policy behind each installed filter; for filters from the cache, rebuilt and recompiled by
    the planner (nothing is claimed when that no longer gives the installed images)."""
    if all(f.policy is not None for f in launch.filters):
        return [f.policy for f in launch.filters if f.policy is not None]
    from syswarden.sandbox import launcher
    return launcher.rebuilt_policies(launch)


def pass_through(outcome: Outcome) -> int:
    """Return CMD's exit code, or die of CMD's signal ourselves (default disposition, no core file)."""
    if outcome.signal is None:
        return outcome.exit_code if outcome.exit_code is not None else 1
    import resource
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    sys.stdout.flush()
    sys.stderr.flush()
    signal.signal(outcome.signal, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [outcome.signal])
    os.kill(os.getpid(), outcome.signal)
    return 128 + outcome.signal  # a signal that does not terminate (SIGCHLD...) falls back to the shell value
