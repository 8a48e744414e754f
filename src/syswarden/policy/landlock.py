"""The Landlock part of a policy: what may be touched (paths with rights, TCP ports, IPC scopes), from a policy
file's ``landlock:`` section, the ``run`` flags or an AppArmor profile (policy stage: a checked model;
``sandbox/landlock.py`` plans it against the running kernel's ABI and enforces it).

The section, in any policy file (written as the top-level key ``landlock``)::

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
denied outside the listed trees. Relative paths are relative to the current directory.
"""
from __future__ import annotations

import enum
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from syswarden.errors import InputError, PolicySyntaxError
from syswarden.spans import Span

if TYPE_CHECKING:
    from syswarden.policy.formats.apparmor import AppArmorProfile
    from syswarden.policy.formats.tree import Node, Reader

SECTION = "landlock"
SECTION_KEYS = ("paths", "net", "scope")
PATH_KEYS = ("path", "allow")
NET_KEYS = ("bind", "connect")


class FsRight(enum.Enum):
    """A user-facing filesystem right; ``sandbox/landlock.py`` maps each onto kernel access bits."""

    READ = "read"
    WRITE = "write"
    EXECUTE = "execute"
    MAKE_DIR = "make_dir"
    REMOVE_DIR = "remove_dir"
    TRUNCATE = "truncate"
    REFER = "refer"
    MAKE_DEVICE = "make_device"
    IOCTL_DEV = "ioctl_dev"


# ``--scope`` / ``landlock.scope`` names (the kernel's LANDLOCK_SCOPE_* in the CLI's dash style).
SCOPE_NAMES: tuple[str, ...] = ("abstract-unix-socket", "signal")

# What the run flags grant. --fs-read includes execute, as rust-landlock's AccessFs::from_read does: a tree you
# may read binaries from but not run them is rarely what anyone means, and the command itself must run.
FLAG_RIGHTS: dict[str, frozenset[FsRight]] = {
    "read": frozenset({FsRight.READ, FsRight.EXECUTE}),
    "exec": frozenset({FsRight.EXECUTE}),
    "write": frozenset({FsRight.READ, FsRight.WRITE, FsRight.MAKE_DIR, FsRight.REMOVE_DIR, FsRight.TRUNCATE,
                        FsRight.REFER}),
}

# AppArmor access letters (the subset ``policy.formats.apparmor`` accepts) as Landlock rights: ``w`` also creates,
# deletes and truncates, as AppArmor's write permission does.
APPARMOR_RIGHTS: dict[str, frozenset[FsRight]] = {
    "r": frozenset({FsRight.READ}),
    "w": frozenset({FsRight.WRITE, FsRight.TRUNCATE, FsRight.MAKE_DIR, FsRight.REMOVE_DIR}),
    "x": frozenset({FsRight.EXECUTE}),
    "l": frozenset({FsRight.REFER}),
}


@dataclass(frozen=True, slots=True)
class PathRule:
    """Allow ``rights`` on ``path`` and everything beneath it."""

    path: str
    rights: frozenset[FsRight]
    span: Span | None = field(default=None, compare=False)


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

    def merged(self, other: LandlockSpec) -> LandlockSpec:
        """Union of two specs (flags added to a policy file's section)."""
        return LandlockSpec(self.paths + other.paths, _union(self.bind_ports, other.bind_ports),
                            _union(self.connect_ports, other.connect_ports), self.source or other.source,
                            tuple(sorted(set(self.scopes) | set(other.scopes))))


def _union(a: tuple[int, ...] | None, b: tuple[int, ...] | None) -> tuple[int, ...] | None:
    if a is None:
        return b
    return a if b is None else tuple(sorted(set(a) | set(b)))


def merge(first: LandlockSpec | None, second: LandlockSpec | None) -> LandlockSpec | None:
    """Union of two optional specs."""
    if first is None:
        return second
    return first if second is None else first.merged(second)


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


def check_port(port: Any, span: Span | None) -> int:
    """A TCP port number, or a PolicySyntaxError at ``span``."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise PolicySyntaxError(f"expected a TCP port number 0-65535, got {port!r}", span=span)
    return int(port)


def spec_from_flags(fs_read: tuple[str, ...] = (), fs_write: tuple[str, ...] = (), fs_exec: tuple[str, ...] = (),
                    net_bind: tuple[int, ...] = (), net_connect: tuple[int, ...] = (),
                    scopes: tuple[str, ...] = ()) -> LandlockSpec:
    """The spec the ``run`` flags describe; paths are made absolute, ports and scope names checked."""
    rules = [PathRule(os.path.abspath(p), FLAG_RIGHTS[kind], Span(f"--fs-{kind}", 1, 1))
             for kind, paths in (("read", fs_read), ("write", fs_write), ("exec", fs_exec)) for p in paths]
    for port in (*net_bind, *net_connect):
        check_port(port, Span("--net-bind/--net-connect", 1, 1))
    return LandlockSpec(tuple(rules), tuple(net_bind) if net_bind else None,
                        tuple(net_connect) if net_connect else None, "flags",
                        parse_scopes(scopes, Span("--scope", 1, 1)))


def spec_from_apparmor(profile: AppArmorProfile) -> LandlockSpec:
    """The Landlock spec for an accepted AppArmor profile (``policy.formats.apparmor.load``)."""
    rules = tuple(PathRule(f.path, frozenset().union(*(APPARMOR_RIGHTS[a] for a in f.access)), f.span)
                  for f in profile.files)
    return LandlockSpec(rules, profile.bind_ports, profile.connect_ports, f"apparmor:{profile.name}")


# -- the landlock: section of a policy file ---------------------------------------------------------------------

def parse_section(reader: Reader, node: Node) -> LandlockSpec:
    """The ``landlock:`` mapping -> ``LandlockSpec``, errors at the file's line and column."""
    reader.check_keys(node, SECTION_KEYS, "'landlock'")
    top = reader.mapping(node, "'landlock'")
    rules = tuple(_path_rule(reader, item) for item in reader.seq(top["paths"], "'landlock.paths'")) \
        if "paths" in top else ()
    bind = connect = None
    if "net" in top:
        reader.check_keys(top["net"], NET_KEYS, "'landlock.net'")
        net = reader.mapping(top["net"], "'landlock.net'")
        bind = _ports(reader, net["bind"], "bind") if "bind" in net else None
        connect = _ports(reader, net["connect"], "connect") if "connect" in net else None
    scopes = _scopes(reader, top["scope"]) if "scope" in top else ()
    return LandlockSpec(rules, bind, connect, reader.doc.source.name, scopes)


def _scopes(reader: Reader, node: Node) -> tuple[str, ...]:
    names = set()
    for word, span in reader.strings(node, "'landlock.scope'"):
        if word not in SCOPE_NAMES:
            raise reader.error(f"unknown landlock scope {word!r} (expected one of: {', '.join(SCOPE_NAMES)})", span)
        names.add(word)
    return tuple(sorted(names))


def _path_rule(reader: Reader, node: Node) -> PathRule:
    reader.check_keys(node, PATH_KEYS, "a landlock path rule")
    path = reader.string(reader.require(node, "path", "a landlock path rule"), "'path'")
    rights = []
    for word, span in reader.strings(reader.require(node, "allow", "a landlock path rule"), "'allow'"):
        try:
            rights.append(FsRight(word))
        except ValueError:
            expected = ", ".join(r.value for r in FsRight)
            raise reader.error(f"unknown landlock right {word!r} (expected one of: {expected})", span) from None
    if not rights:
        raise reader.error("expected at least one right in 'allow'", node.span)
    return PathRule(os.path.abspath(path), frozenset(rights), node.span)


def _ports(reader: Reader, node: Node, what: str) -> tuple[int, ...]:
    items = [node] if isinstance(node.value, int) else reader.seq(node, f"'landlock.net.{what}'")
    return tuple(check_port(reader.integer(item, f"a {what} port", 0, 65535), item.span) for item in items)


def dump_section(spec: LandlockSpec) -> dict[str, Any]:
    """The section as plain data for a YAML dump (what ``parse_section`` reads back)."""
    out: dict[str, Any] = {}
    if spec.paths:
        out["paths"] = [{"path": r.path, "allow": sorted(right.value for right in r.rights)} for r in spec.paths]
    net = {k: list(v) for k, v in (("bind", spec.bind_ports), ("connect", spec.connect_ports)) if v is not None}
    if net:
        out["net"] = net
    if spec.scopes:
        out["scope"] = list(spec.scopes)
    return out
