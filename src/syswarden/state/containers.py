"""Container identity from cgroup paths: which container (id, runtime) a process runs in.

Container runtimes put each container in a cgroup whose last path component carries the 64-hex container id
with a runtime-specific prefix/suffix (``docker-<id>.scope``, ``cri-containerd-<id>.scope``, ``libpod-<id>``,
``crio-<id>``) or as a bare component under ``/docker/`` or ``/kubepods``. Like Falco, ``container.id`` is the
first 12 hex characters; a process in no container has id ``""`` (Falco prints ``host``).
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_HEX64 = r"([0-9a-f]{64})"

# (runtime, pattern on the whole cgroup path); first match wins, so specific prefixes come before bare ids.
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("podman", re.compile(r"/libpod-(?!conmon-)" + _HEX64 + r"(?:\.scope)?(?:/|$)")),
    ("containerd", re.compile(r"/cri-containerd-" + _HEX64 + r"\.scope(?:/|$)")),
    ("containerd", re.compile(r":cri-containerd:" + _HEX64 + r"$")),
    ("cri-o", re.compile(r"/crio-(?!conmon-)" + _HEX64 + r"(?:\.scope)?(?:/|$)")),
    ("docker", re.compile(r"/docker-" + _HEX64 + r"\.scope(?:/|$)")),
    ("docker", re.compile(r"/docker/" + _HEX64 + r"(?:/|$)")),
    ("cri", re.compile(r"/kubepods[^:]*/" + _HEX64 + r"(?:/|$)")),
    ("containerd", re.compile(r"/containerd/" + _HEX64 + r"(?:/|$)")),
)
_LXC = re.compile(r"/lxc(?:\.payload)?[./]([^/]+)")


@dataclass(frozen=True, slots=True)
class ContainerRef:
    """Where a process runs: ``id`` (12 hex, or the lxc name), ``full_id`` and ``runtime`` (Falco's container.type)."""

    id: str
    full_id: str
    runtime: str


HOST = ContainerRef("", "", "")


def parse_cgroup_path(path: str) -> ContainerRef:
    """The container a cgroup path names, or ``HOST``.

    Args:
        path: one cgroup path, e.g. ``/system.slice/docker-<64hex>.scope``.
    """
    for runtime, pattern in _PATTERNS:
        m = pattern.search(path)
        if m:
            full = m.group(1)
            return ContainerRef(full[:12], full, runtime)
    m = _LXC.search(path)
    if m:
        return ContainerRef(m.group(1), m.group(1), "lxc")
    return HOST


def parse_cgroup_lines(lines: Iterable[str]) -> ContainerRef:
    """The container named by ``/proc/PID/cgroup`` lines (``hier:controllers:path``) or by the ``cgroups``
    parameter of clone/execve events (``controller=path``); ``HOST`` if none names one."""
    for line in lines:
        line = line.strip()
        if not line:
            continue
        path = line.split(":", 2)[2] if line.count(":") >= 2 and line[0].isdigit() else line.split("=", 1)[-1]
        ref = parse_cgroup_path(path)
        if ref is not HOST:
            return ref
    return HOST


def parse_cgroups_param(value: object) -> ContainerRef:
    """The container named by an event's ``cgroups`` param: a list of strings, or NUL-separated bytes."""
    if isinstance(value, bytes | bytearray):
        items = bytes(value).decode("utf-8", "surrogateescape").split("\0")
    elif isinstance(value, list):
        items = [str(v) for v in value]
    elif isinstance(value, str):
        items = value.split("\0")
    else:
        return HOST
    return parse_cgroup_lines(items)


__all__ = ["ContainerRef", "HOST", "parse_cgroup_path", "parse_cgroup_lines", "parse_cgroups_param"]
