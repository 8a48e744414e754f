"""go-libaudit's normalisation table (``data/normalizations.yaml``, Apache-2.0): what an audit event *means* —
its action (``opened-file``, ``executed``, ``violated-seccomp-policy`` ...), the kind of object, which fields name
the actor, the object and how, and the ECS ``event.category``/``event.type``. Loaded once, as data.

Entries apply by syscall name (``'*'`` is the catch-all that only categorises) or by record type; several
entries for one record type are told apart by ``has_fields``.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import yaml

from syswarden.audit.constants import data_text


@dataclass(frozen=True, slots=True)
class Normalization:
    action: str = ""
    object_what: str = ""
    object_path_index: int = 0
    subject_primary: tuple[str, ...] = ()
    subject_secondary: tuple[str, ...] = ()
    object_primary: tuple[str, ...] = ()
    object_secondary: tuple[str, ...] = ()
    how: tuple[str, ...] = ()
    source_ip: tuple[str, ...] = ()
    has_fields: tuple[str, ...] = ()
    ecs_kind: str = ""
    ecs_category: tuple[str, ...] = ()
    ecs_type: tuple[str, ...] = ()
    ecs_mappings: tuple[tuple[str, str], ...] = ()      # (from, to)


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def _entry(raw: dict[str, Any]) -> Normalization:
    ecs = raw.get("ecs") or {}
    mappings = tuple((m["from"], m["to"]) for m in ecs.get("mappings") or ())
    return Normalization(
        action=raw.get("action", ""), object_what=raw.get("object_what", ""),
        object_path_index=int(raw.get("object_path_index", 0)),
        subject_primary=_strings(raw.get("subject_primary")), subject_secondary=_strings(raw.get("subject_secondary")),
        object_primary=_strings(raw.get("object_primary")), object_secondary=_strings(raw.get("object_secondary")),
        how=_strings(raw.get("how")), source_ip=_strings(raw.get("source_ip")),
        has_fields=_strings(raw.get("has_fields")), ecs_kind=ecs.get("kind", ""),
        ecs_category=_strings(ecs.get("category")), ecs_type=_strings(ecs.get("type")), ecs_mappings=mappings)


@cache
def tables() -> tuple[dict[str, Normalization], dict[str, tuple[Normalization, ...]]]:
    """(syscall name -> entry, record type name -> entries)."""
    data = yaml.safe_load(data_text("normalizations.yaml"))
    syscalls: dict[str, Normalization] = {}
    record_types: dict[str, list[Normalization]] = {}
    for raw in data["normalizations"]:
        entry = _entry(raw)
        for name in _strings(raw.get("syscalls")):
            syscalls[name] = entry
        for name in _strings(raw.get("record_types")):
            record_types.setdefault(name, []).append(entry)
    return syscalls, {k: tuple(v) for k, v in record_types.items()}


def for_syscall(name: str) -> Normalization:
    """The entry for syscall ``name`` (the catch-all when it has none of its own)."""
    syscalls, _ = tables()
    return syscalls.get(name) or syscalls["*"]


def for_record_type(name: str, present: set[str] | dict[str, str]) -> Normalization | None:
    """The entry for a record type; with several, the last whose ``has_fields`` are all present."""
    entries = tables()[1].get(name, ())
    if len(entries) == 1:
        return entries[0]
    found = None
    for entry in entries:
        if all(f in present for f in entry.has_fields):
            found = entry
    return found


def action_of(record_type: str, syscall: str | None) -> str:
    """The action name of an event whose first record has ``record_type`` (and whose syscall is ``syscall``)."""
    if record_type == "SYSCALL" and syscall:
        return for_syscall(syscall).action
    entry = for_record_type(record_type, set())
    return entry.action if entry is not None else ""
