"""Landlock rules for paths and TCP ports: the ``landlock:`` policy section, the ``--fs-*``/``--net-*`` flags,
and enforcing them with the best ABI the kernel has (sandbox stage, next to the seccomp filter).

seccomp cannot look at path strings; Landlock can: it is an allow-list keyed by file hierarchy (inode) and by
TCP port. The section in a native policy file::

    landlock:
      paths:
        - path: /usr
          allow: [read, execute]
        - path: /srv/data
          allow: [read, write, make_dir, remove_dir, truncate]
      net:
        bind: [8080]          # present (even empty) => binding any other TCP port is denied
        connect: [443]
      scope: [signal, abstract-unix-socket]   # ABI 6: no signals / abstract unix connections out of the sandbox

Rights: ``read`` (read files, list dirs), ``write`` (write files, create/remove files, symlinks, fifos,
sockets), ``execute``, ``make_dir``, ``remove_dir``, ``truncate``, ``refer`` (rename/link across directories),
``make_device``, ``ioctl_dev``. Once a section has any path rule, every filesystem right the kernel knows is
denied outside the listed trees. Rights the running ABI lacks cannot be denied; ``LandlockReport`` says which.
"""
from __future__ import annotations

import enum
import os
import stat
from dataclasses import dataclass, field
from typing import Any

from syswarden.errors import InputError, KernelError, PolicySyntaxError
from syswarden.policy.formats.apparmor import AppArmorProfile
from syswarden.kernel import landlock_abi as abi_mod
from syswarden.kernel import prctl
from syswarden.kernel.landlock_abi import FsAccess, NetAccess, Scope
from syswarden.spans import Span


class FsRight(enum.Enum):
    """A user-facing filesystem right; each maps onto one or more kernel access bits."""

    READ = "read"
    WRITE = "write"
    EXECUTE = "execute"
    MAKE_DIR = "make_dir"
    REMOVE_DIR = "remove_dir"
    TRUNCATE = "truncate"
    REFER = "refer"
    MAKE_DEVICE = "make_device"
    IOCTL_DEV = "ioctl_dev"


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

# What the run flags grant. --fs-read includes execute, as rust-landlock's AccessFs::from_read does: a tree you
# may read binaries from but not run them is rarely what anyone means, and the command itself must run.
FLAG_RIGHTS: dict[str, frozenset[FsRight]] = {
    "read": frozenset({FsRight.READ, FsRight.EXECUTE}),
    "exec": frozenset({FsRight.EXECUTE}),
    "write": frozenset({FsRight.READ, FsRight.WRITE, FsRight.MAKE_DIR, FsRight.REMOVE_DIR, FsRight.TRUNCATE,
                        FsRight.REFER}),
}


# ``--scope`` / ``landlock.scope`` names (the kernel's LANDLOCK_SCOPE_* in the CLI's dash style).
SCOPE_NAMES: dict[str, Scope] = {"abstract-unix-socket": Scope.ABSTRACT_UNIX_SOCKET, "signal": Scope.SIGNAL}


def scope_bits(names: tuple[str, ...]) -> Scope:
    bits = Scope(0)
    for name in names:
        bits |= SCOPE_NAMES[name]
    return bits


def parse_scopes(values: tuple[str, ...], span: Span | None = None) -> tuple[str, ...]:
    """Scope names from repeatable, comma-separated values (``--scope signal,abstract-unix-socket``), sorted and
    without duplicates; an unknown name is an InputError naming it."""
    names: set[str] = set()
    for value in values:
        for item in value.split(","):
            name = item.strip()
            if name not in SCOPE_NAMES:
                raise InputError(f"unknown Landlock scope {name!r} (expected one of: {', '.join(SCOPE_NAMES)})",
                                 span=span)
            names.add(name)
    return tuple(sorted(names))


@dataclass(frozen=True, slots=True)
class PathRule:
    """Allow ``rights`` on ``path`` and everything beneath it."""

    path: str
    rights: frozenset[FsRight]
    span: Span | None = field(default=None, compare=False)

    @property
    def bits(self) -> FsAccess:
        bits = FsAccess(0)
        for right in self.rights:
            bits |= RIGHT_BITS[right]
        return bits


@dataclass(frozen=True, slots=True)
class LandlockSpec:
    """What to confine. ``bind_ports``/``connect_ports`` None means that TCP right is left alone; ``scopes``
    (names from ``SCOPE_NAMES``) are the IPC kinds that may not reach outside the sandbox."""

    paths: tuple[PathRule, ...] = ()
    bind_ports: tuple[int, ...] | None = None
    connect_ports: tuple[int, ...] | None = None
    source: str = ""
    scopes: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.paths and self.bind_ports is None and self.connect_ports is None and not self.scopes

    def merged(self, other: "LandlockSpec") -> "LandlockSpec":
        """Union of two specs (flags added to a policy file's section)."""
        return LandlockSpec(self.paths + other.paths, _union(self.bind_ports, other.bind_ports),
                            _union(self.connect_ports, other.connect_ports), self.source or other.source,
                            tuple(sorted(set(self.scopes) | set(other.scopes))))


def _union(a: tuple[int, ...] | None, b: tuple[int, ...] | None) -> tuple[int, ...] | None:
    if a is None:
        return b
    return a if b is None else tuple(sorted(set(a) | set(b)))


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
    names += [f"scope {name}" for name, bit in SCOPE_NAMES.items() if bit & scoped]
    return ", ".join(names) if names else "nothing"


def spec_from_flags(fs_read: tuple[str, ...] = (), fs_write: tuple[str, ...] = (), fs_exec: tuple[str, ...] = (),
                    net_bind: tuple[int, ...] = (), net_connect: tuple[int, ...] = (),
                    scopes: tuple[str, ...] = ()) -> LandlockSpec:
    """The spec the ``run`` flags describe; paths are made absolute, ports and scope names checked."""
    rules = [PathRule(os.path.abspath(p), FLAG_RIGHTS[kind], Span(f"--fs-{kind}", 1, 1))
             for kind, paths in (("read", fs_read), ("write", fs_write), ("exec", fs_exec)) for p in paths]
    for port in (*net_bind, *net_connect):
        _check_port(port, Span("--net-bind/--net-connect", 1, 1))
    return LandlockSpec(tuple(rules), tuple(net_bind) if net_bind else None,
                        tuple(net_connect) if net_connect else None, "flags",
                        parse_scopes(scopes, Span("--scope", 1, 1)))


# AppArmor access letters (the subset ``policy.formats.apparmor`` accepts) as Landlock rights: ``w`` also creates,
# deletes and truncates, as AppArmor's write permission does.
APPARMOR_RIGHTS: dict[str, frozenset[FsRight]] = {
    "r": frozenset({FsRight.READ}),
    "w": frozenset({FsRight.WRITE, FsRight.TRUNCATE, FsRight.MAKE_DIR, FsRight.REMOVE_DIR}),
    "x": frozenset({FsRight.EXECUTE}),
    "l": frozenset({FsRight.REFER}),
}


def spec_from_apparmor(profile: AppArmorProfile) -> LandlockSpec:
    """The Landlock spec for an accepted AppArmor profile (``policy.formats.apparmor.load``)."""
    rules = tuple(PathRule(f.path, frozenset().union(*(APPARMOR_RIGHTS[a] for a in f.access)), f.span)
                  for f in profile.files)
    return LandlockSpec(rules, profile.bind_ports, profile.connect_ports, f"apparmor:{profile.name}")


def _check_port(port: Any, span: Span | None) -> int:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise PolicySyntaxError(f"expected a TCP port number 0-65535, got {port!r}", span=span)
    return int(port)


def plan(spec: LandlockSpec, abi: int) -> LandlockReport:
    """Decide which rights to handle with this ABI and list what the kernel cannot enforce."""
    missing: list[str] = []
    fs = FsAccess(0)
    if spec.paths:
        wanted = FsAccess(0)
        for rule in spec.paths:
            wanted |= rule.bits
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
        bits = rule.bits & handled
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
