"""systemd-style syscall groups (``@system-service``, ``@network-io`` ...), usable wherever a policy names
syscalls. The group data is systemd's ``syscall_filter_sets[]`` shipped as ``data/systemd-groups.yaml``;
``@known`` is every syscall our tables know, plus ``@obsolete``.
"""
from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType

import yaml

from syswarden.errors import PolicyError
from syswarden.spans import Span
from syswarden.syscalls import tables

MAX_DEPTH = 16


@dataclass(frozen=True, slots=True)
class Group:
    """One group as written: direct members may name other groups (``@sandbox`` inside ``@default``)."""

    name: str
    description: str
    members: tuple[str, ...]


@cache
def groups() -> Mapping[str, Group]:
    """Every group by name (with the leading ``@``)."""
    text = resources.files("syswarden.syscalls").joinpath("data", "systemd-groups.yaml").read_text()
    raw = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml: 10x the pure loader
    out: dict[str, Group] = {}
    for gname, body in raw.items():
        members = tuple(str(m) for m in body.get("members", ()))
        if gname == "@known":
            members = (*members, *sorted(tables.all_names()))
        out[gname] = Group(gname, str(body.get("description", "")), members)
    return MappingProxyType(out)


def is_group(token: str) -> bool:
    """Whether ``token`` is spelled as a group (``@name``)."""
    return token.startswith("@")


def expand(token: str, *, span: Span | None = None) -> tuple[str, ...]:
    """The syscall names ``token`` stands for: itself, or a group's members with nested groups expanded.

    Raises:
        PolicyError: the group does not exist (the message lists close matches).
    """
    if not is_group(token):
        return (token,)
    return _expand_group(token, span)


@cache
def _expand_cached(token: str) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    _collect(token, seen, depth=0)
    return tuple(seen)


def _expand_group(token: str, span: Span | None) -> tuple[str, ...]:
    if token not in groups():
        raise PolicyError(_unknown_message(token), span=span)
    return _expand_cached(token)


def _collect(token: str, seen: dict[str, None], depth: int) -> None:
    if depth > MAX_DEPTH:
        raise PolicyError(f"syscall group {token} nests deeper than {MAX_DEPTH} levels")
    for member in groups()[token].members:
        if is_group(member):
            _collect(member, seen, depth + 1)
        else:
            seen.setdefault(member, None)


def _unknown_message(token: str) -> str:
    close = difflib.get_close_matches(token, list(groups()), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return f"unknown syscall group {token!r}{hint} (expected one of: {', '.join(sorted(groups()))})"
