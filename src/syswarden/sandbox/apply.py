"""Applying a compiled seccomp filter to the current process: no_new_privs, then seccomp(2).

Sandbox stage. This changes the calling process irreversibly, so tests call it only in child processes.
The launcher calls ``install_filter`` right before ``execve``; programs sandboxing themselves call ``apply``.
"""
from __future__ import annotations


from syswarden.kernel import prctl, seccomp_abi

TYPE_CHECKING = False   # typing.TYPE_CHECKING, without importing typing on run's start-up path
if TYPE_CHECKING:
    from collections.abc import Sequence
    from syswarden.policy.model import Policy
    from syswarden.seccomp.compiler import CompiledFilter
    from syswarden.seccomp.insn import Program
    from syswarden.syscalls.arch import Arch

# The compiler is imported where used: ``import syswarden.sandbox`` is on ``syswarden run``'s start-up path,
# which with a cached filter compiles nothing.


def filter_flags(*, tsync: bool = False, log: bool = False, names: Sequence[str] = ()) -> int:
    """SECCOMP_FILTER_FLAG_* bits for the booleans and flag names (``tsync``, ``log``, ``spec_allow``)."""
    flags = seccomp_abi.SECCOMP_FILTER_FLAG_TSYNC if tsync else 0
    flags |= seccomp_abi.SECCOMP_FILTER_FLAG_LOG if log else 0
    for name in names:
        if name not in seccomp_abi.FLAG_BY_NAME:
            from syswarden.errors import KernelError
            raise KernelError(f"unknown seccomp filter flag {name!r} "
                              f"(expected one of: {', '.join(seccomp_abi.FLAG_BY_NAME)})")
        flags |= seccomp_abi.FLAG_BY_NAME[name]
    return flags


def install_filter(program: Program | CompiledFilter, *, tsync: bool = False, log: bool = False) -> int:
    """Set no_new_privs and attach ``program`` with ``seccomp(SECCOMP_SET_MODE_FILTER)``.

    Args:
        program: a ``Program`` or a ``CompiledFilter`` (its policy flags are added to ``tsync``/``log``).
        tsync: synchronise the filter to every thread of the process (SECCOMP_FILTER_FLAG_TSYNC).
        log: log every action but ALLOW (SECCOMP_FILTER_FLAG_LOG).

    Returns:
        0, or the user-notification listener fd when the policy's flags ask for ``new_listener``.

    Raises:
        KernelError: the kernel refused (EINVAL for a bad program, EACCES without no_new_privs, the tid of a
            thread that cannot be synchronised with TSYNC...).
    """
    from syswarden.seccomp.compiler import CompiledFilter
    from syswarden.seccomp.emulator import check_program
    names: Sequence[str] = ()
    if isinstance(program, CompiledFilter):
        names = sorted(program.flags)
        program = program.program
    check_program(program)
    flags = filter_flags(tsync=tsync, log=log, names=names)
    prctl.set_no_new_privs()
    with prctl.kernel_errors("seccomp(SECCOMP_SET_MODE_FILTER)"):
        rc = seccomp_abi.set_mode_filter(program.to_bytes(), flags)
    listener = flags & seccomp_abi.SECCOMP_FILTER_FLAG_NEW_LISTENER
    if rc > 0 and flags & seccomp_abi.SECCOMP_FILTER_FLAG_TSYNC and not listener:
        from syswarden.errors import KernelError
        raise KernelError(f"seccomp TSYNC failed: thread {rc} cannot be synchronised")
    return rc


def apply(policy: Policy, *, all_threads: bool = True, arches: Sequence[Arch] | None = None) -> CompiledFilter:
    """Compile ``policy`` and install it on this process (all threads by default); returns what was installed."""
    from syswarden.seccomp.compiler import compile_policy
    compiled = compile_policy(policy, arches)
    install_filter(compiled, tsync=all_threads)
    return compiled


def enter_strict_mode() -> None:
    """Enter seccomp strict mode: from now on only read, write, _exit and sigreturn are allowed."""
    with prctl.kernel_errors("seccomp(SECCOMP_SET_MODE_STRICT)"):
        seccomp_abi.set_mode_strict()
