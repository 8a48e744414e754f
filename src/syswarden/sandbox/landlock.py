"""Landlock enforcement: plan a ``LandlockSpec`` (``policy/landlock.py``: paths with rights, TCP ports, IPC
scopes) against the running kernel's ABI, report what it cannot enforce, and restrict a process with it (sandbox
stage, next to the seccomp filter).

seccomp cannot look at path strings; Landlock can: it is an allow-list keyed by file hierarchy (inode) and by
TCP port. Rights the running ABI lacks cannot be denied; ``LandlockReport`` says which.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from syswarden.errors import InputError, KernelError
from syswarden.kernel import landlock_abi as abi_mod
from syswarden.kernel import prctl
from syswarden.kernel.landlock_abi import FsAccess, NetAccess, Scope
from syswarden.policy.landlock import FsRight, LandlockSpec, PathRule

RIGHT_BITS: dict[FsRight, FsAccess] = {
    FsRight.READ: FsAccess.READ_FILE | FsAccess.READ_DIR,
    FsRight.WRITE: (FsAccess.WRITE_FILE | FsAccess.MAKE_REG | FsAccess.REMOVE_FILE | FsAccess.MAKE_SYM
                    | FsAccess.MAKE_FIFO | FsAccess.MAKE_SOCK),
    FsRight.EXECUTE: FsAccess.EXECUTE,
    FsRight.MAKE_DIR: FsAccess.MAKE_DIR,
    FsRight.REMOVE_DIR: FsAccess.REMOVE_DIR,
    FsRight.TRUNCATE: FsAccess.TRUNCATE,
    FsRight.REFER: FsAccess.REFER,
    FsRight.MAKE_DEVICE: FsAccess.MAKE_CHAR | FsAccess.MAKE_BLOCK,
    FsRight.IOCTL_DEV: FsAccess.IOCTL_DEV,
}
# The only rights the kernel accepts on a rule whose path is a file rather than a directory.
FILE_ONLY_BITS = FsAccess.EXECUTE | FsAccess.WRITE_FILE | FsAccess.READ_FILE | FsAccess.TRUNCATE | FsAccess.IOCTL_DEV

# The kernel's bit for each ``policy.landlock.SCOPE_NAMES`` name.
SCOPE_BITS: dict[str, Scope] = {"abstract-unix-socket": Scope.ABSTRACT_UNIX_SOCKET, "signal": Scope.SIGNAL}


def scope_bits(names: tuple[str, ...]) -> Scope:
    bits = Scope(0)
    for name in names:
        bits |= SCOPE_BITS[name]
    return bits


def rule_bits(rule: PathRule) -> FsAccess:
    """The kernel access bits of a path rule's rights."""
    bits = FsAccess(0)
    for right in rule.rights:
        bits |= RIGHT_BITS[right]
    return bits


@dataclass(frozen=True, slots=True)
class LandlockReport:
    """What was (or would be) enforced with the running ABI, and what could not be."""

    abi: int
    fs_handled: FsAccess
    net_handled: NetAccess
    not_enforced: tuple[str, ...]
    scoped: Scope = Scope(0)

    @property
    def enforced(self) -> bool:
        return bool(self.fs_handled or self.net_handled or self.scoped)

    @property
    def can_log(self) -> bool:
        """Whether this ABI logs denials to audit (and takes the restrict_self log flags)."""
        return self.enforced and self.abi >= abi_mod.AUDIT_MIN_ABI

    def lines(self) -> list[str]:
        """One sentence per fact, for stderr."""
        out = [f"landlock ABI {self.abi}: restricting {describe(self.fs_handled, self.net_handled, self.scoped)}"]
        out.extend(f"landlock: NOT enforced: {what}" for what in self.not_enforced)
        return out


def _name(flag: FsAccess | NetAccess) -> str:
    return (flag.name or str(int(flag))).lower()


def describe(fs: FsAccess, net: NetAccess, scoped: Scope = Scope(0)) -> str:
    names = [_name(b) for b in FsAccess if b & fs] + [_name(b) for b in NetAccess if b & net]
    names += [f"scope {name}" for name, bit in SCOPE_BITS.items() if bit & scoped]
    return ", ".join(names) if names else "nothing"


def plan(spec: LandlockSpec, abi: int) -> LandlockReport:
    """Decide which rights to handle with this ABI and list what the kernel cannot enforce."""
    missing: list[str] = []
    fs = FsAccess(0)
    if spec.paths:
        wanted = FsAccess(0)
        for rule in spec.paths:
            wanted |= rule_bits(rule)
        fs = abi_mod.fs_rights_for(abi)
        missing.extend(_missing_fs(wanted | abi_mod.fs_rights_for(max(abi_mod.FS_BY_ABI)), fs, abi))
    net = NetAccess(0)
    net_available = abi_mod.net_rights_for(abi)
    for ports, right in ((spec.bind_ports, NetAccess.BIND_TCP), (spec.connect_ports, NetAccess.CONNECT_TCP)):
        if ports is None:
            continue
        if right & net_available:
            net |= right
        else:
            missing.append(f"TCP {_name(right).split('_')[0]} port rules (need Landlock ABI "
                           f"{abi_mod.NET_MIN_ABI}, Linux {abi_mod.KERNEL_FOR_ABI[abi_mod.NET_MIN_ABI]}; have {abi})")
    scoped = Scope(0)
    if spec.scopes:
        wanted_scopes = scope_bits(spec.scopes)
        if wanted_scopes & abi_mod.scopes_for(abi) == wanted_scopes:
            scoped = wanted_scopes
        else:
            missing.append(f"scope {', '.join(spec.scopes)} (needs Landlock ABI {abi_mod.SCOPE_MIN_ABI}, Linux "
                           f"{abi_mod.KERNEL_FOR_ABI[abi_mod.SCOPE_MIN_ABI]}; have {abi}): IPC out of the sandbox "
                           f"stays allowed")
    return LandlockReport(abi, fs, net, tuple(missing), scoped)


def _missing_fs(wanted: FsAccess, handled: FsAccess, abi: int) -> list[str]:
    if abi <= 0:
        return ["filesystem rules (Landlock is not available in this kernel)"] if wanted else []
    out = []
    for bit in FsAccess:
        if bit & wanted and not bit & handled:
            need = min(v for v, rights in abi_mod.FS_BY_ABI.items() if bit & rights)
            out.append(f"denying {_name(bit)} (needs Landlock ABI {need}, have {abi}): it stays allowed")
    if abi < 2:
        out.append("rename/link across directories is always denied by Landlock ABI 1")
    return out


def check_paths(spec: LandlockSpec) -> None:
    """Fail before running anything when a rule names a path that does not exist."""
    for rule in spec.paths:
        if not os.path.exists(rule.path):
            raise InputError(f"landlock rule path {rule.path!r} does not exist (expected an existing file or "
                             f"directory)", span=rule.span)


def require(report: LandlockReport, minimum: int) -> None:
    """``--require-landlock N``: a kernel below ABI N, or any feature it cannot enforce, is an error."""
    if report.abi < minimum:
        raise KernelError(f"Landlock ABI {minimum} required, the kernel offers ABI {report.abi}")
    if report.not_enforced:
        raise KernelError("Landlock cannot enforce: " + "; ".join(report.not_enforced))


def enforce(spec: LandlockSpec, report: LandlockReport, log_after_exec: bool = False) -> None:
    """Build the ruleset and restrict the calling process. Call in the process to confine (the child).

    ``log_after_exec``: have the kernel log denials after the coming execve too (ABI 7 LOG_NEW_EXEC_ON; by
    default only the restricting program's own denials are logged), so a supervisor can explain CMD's."""
    if not report.enforced:
        return
    flags = abi_mod.RESTRICT_SELF_LOG_NEW_EXEC_ON if log_after_exec and report.can_log else 0
    ruleset = abi_mod.create_ruleset(int(report.fs_handled), int(report.net_handled), int(report.scoped),
                                     report.abi)
    try:
        for rule in spec.paths if report.fs_handled else ():
            _add_path(ruleset, rule, report.fs_handled)
        for ports, right in ((spec.bind_ports, NetAccess.BIND_TCP), (spec.connect_ports, NetAccess.CONNECT_TCP)):
            for port in ports or () if right & report.net_handled else ():
                abi_mod.add_port_rule(ruleset, port, int(right))
        prctl.set_no_new_privs()
        abi_mod.restrict_self(ruleset, flags)
    except OSError as exc:
        raise KernelError(f"Landlock refused the ruleset: {exc}") from exc
    finally:
        os.close(ruleset)


def _add_path(ruleset: int, rule: PathRule, handled: FsAccess) -> None:
    fd = os.open(rule.path, os.O_PATH | os.O_CLOEXEC)
    try:
        bits = rule_bits(rule) & handled
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            bits &= FILE_ONLY_BITS
        if bits:
            abi_mod.add_path_rule(ruleset, fd, int(bits))
    finally:
        os.close(fd)


def apply(spec: LandlockSpec, require_abi: int = 0) -> LandlockReport:
    """Plan with the running kernel's ABI, check, and enforce on the calling process."""
    check_paths(spec)
    report = plan(spec, abi_mod.abi_version())
    if require_abi:
        require(report, require_abi)
    enforce(spec, report)
    return report
