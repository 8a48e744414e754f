"""Audit events as the ECS documents Auditbeat's auditd module writes (``audit search --ecs``).

Built from the ``coalesce`` document as Auditbeat builds its event: ``event.{action, category, type, kind,
outcome, original}``, ``user.*`` (ids, and names when ``resolve`` is given, as Auditbeat's ``resolve_ids``),
``process.*``, ``file.*``, ``source``/``destination``/``network``, ``tags``, ``service.type: auditd``, and the
rest under ``auditd.*`` (message type, sequence, result, session, summary, paths, data). Held field by field
to Auditbeat's expected output for its chown test log. We add ``@timestamp`` (Auditbeat puts it in the
event envelope).
"""
from __future__ import annotations

import grp
import pwd
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from syswarden.audit.coalesce import coalesce
from syswarden.audit.reassembly import AuditEvent

_USER_KEYS = {"uid": "", "gid": "group.", "euid": "effective.", "egid": "effective.group.", "suid": "saved.",
              "sgid": "saved.group.", "fsuid": "filesystem.", "fsgid": "filesystem.group.", "auid": "audit."}


@dataclass(frozen=True)
class Resolver:
    """Id -> name lookups (this machine's databases by default; tests give their own tables)."""

    user: Callable[[str], str | None]
    group: Callable[[str], str | None]

    @classmethod
    def local(cls) -> Resolver:
        def user(uid: str) -> str | None:
            try:
                return pwd.getpwuid(int(uid)).pw_name
            except (KeyError, ValueError, OverflowError):
                return None

        def group(gid: str) -> str | None:
            try:
                return grp.getgrgid(int(gid)).gr_name
            except (KeyError, ValueError, OverflowError):
                return None
        return cls(user, group)


def _put(root: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    node = root
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def _user(doc: dict[str, Any], resolve: Resolver | None) -> dict[str, Any]:
    user: dict[str, Any] = {}
    ids = doc.get("user", {}).get("ids", {})
    selinux = doc.get("user", {}).get("selinux")
    for key, value in ids.items():
        if value == "unset":
            continue
        prefix = _USER_KEYS.get(key, key + ".")
        _put(user, prefix + "id", value)
        if selinux:
            user["selinux"] = selinux
        if resolve is not None:
            name = (resolve.group if key.endswith("gid") else resolve.user)(value)
            if name:
                _put(user, prefix + "name", name)
    return user


def _entity(root: dict[str, Any], key: str, entity: dict[str, str], resolve: Resolver | None) -> None:
    ident, name = entity.get("id", ""), entity.get("name", "")
    if not ident and not name:
        return
    if resolve is not None and bool(ident) != bool(name):
        lookup = resolve.group if key == "group" else resolve.user
        if ident and ident != "unset":
            name = lookup(ident) or ""
    if ident == "unset":
        ident = ""
    node = root
    for part in key.split("."):
        node = node.setdefault(part, {})
    for field_name, value in (("id", ident), ("name", name)):
        if value:
            node[field_name] = value
        else:
            node.pop(field_name, None)


def _file(doc: dict[str, Any], resolve: Resolver | None) -> dict[str, Any] | None:
    source = doc.get("file")
    if source is None:
        return None
    file = {k: source[k] for k in ("path", "device", "inode", "mode", "uid", "gid") if source.get(k)}
    if resolve is not None:
        owner = resolve.user(source["uid"]) if source.get("uid") else None
        group = resolve.group(source["gid"]) if source.get("gid") else None
        if owner:
            file["owner"] = owner
        if group:
            file["group"] = group
    if source.get("selinux"):
        file["selinux"] = source["selinux"]
    return file


def _process(doc: dict[str, Any]) -> dict[str, Any]:
    proc = doc.get("process", {})
    out: dict[str, Any] = {}
    for key, name in (("pid", "pid"), ("ppid", "ppid")):
        if proc.get(key, "").isdigit():
            out[name] = int(proc[key])
    for key, name in (("title", "title"), ("name", "name"), ("exe", "executable"), ("cwd", "working_directory"),
                      ("args", "args")):
        if proc.get(key):
            out[name] = proc[key]
    return out


def _auditd(doc: dict[str, Any], resolve: Resolver | None) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in doc.get("data", {}).items():
        _put(data, "socket." + key[7:] if key.startswith("socket_") else key, value)
    out: dict[str, Any] = {"message_type": doc["record_type"], "sequence": doc["sequence"],
                           "result": doc.get("result", ""), "data": data}
    if doc.get("session") != "unset":
        out["session"] = doc.get("session", "")
    summary = doc["summary"]
    actor = dict(summary["actor"])
    if resolve is not None:         # Auditbeat's resolve_ids names the actor too
        for key in ("primary", "secondary"):
            if actor.get(key) and actor[key] != "unset":
                actor[key] = resolve.user(actor[key]) or actor[key]
    flat = {"actor.primary": actor.get("primary"), "actor.secondary": actor.get("secondary"),
            "object.primary": summary["object"].get("primary"),
            "object.secondary": summary["object"].get("secondary"), "object.type": summary["object"].get("type"),
            "how": summary.get("how")}
    for key, value in flat.items():
        if value:
            _put(out, "summary." + key, value)
    if doc.get("paths"):
        out["paths"] = doc["paths"]
    return out


def document(event: AuditEvent, *, resolve: Resolver | None = None, original: bool = True) -> dict[str, Any] | None:
    """The ECS document of ``event`` (None for an event with nothing to say, as ``coalesce``)."""
    doc = coalesce(event)
    if doc is None:
        return None
    outcome = doc.get("result", "")
    out: dict[str, Any] = {"@timestamp": doc["@timestamp"],
                           "event": {"category": doc["category"], "action": doc["summary"].get("action", ""),
                                     "outcome": "failure" if outcome == "fail" else outcome, "kind": "event"}}
    out["user"] = _user(doc, resolve)
    process = _process(doc)
    if process:
        out["process"] = process
    file = _file(doc, resolve)
    if file is not None:
        out["file"] = file
    for key in ("source", "destination", "network"):
        if key in doc:
            out[key] = {("domain" if k == "hostname" else k): v for k, v in doc[key].items()}
    if doc.get("tags"):
        out["tags"] = doc["tags"]
    if original:
        out["event"]["original"] = [r.log_line() for r in event.records if r.type != 1320]
    out["auditd"] = _auditd(doc, resolve)
    ecs = doc["ecs"]
    if ecs["event"].get("category"):
        out["event"]["category"] = ecs["event"]["category"]
    if ecs["event"].get("type"):
        out["event"]["type"] = ecs["event"]["type"]
    if ecs["event"].get("outcome"):
        out["event"]["outcome"] = ecs["event"]["outcome"]
    ecs_user = ecs["user"]
    _entity(out, "user", {k: v for k, v in ecs_user.items() if isinstance(v, str)}, resolve)
    for part in ("effective", "target", "changes"):
        _entity(out, f"user.{part}", ecs_user[part], resolve)
    _entity(out, "group", ecs["group"], resolve)
    _drop_redundant_effective(out)
    out["service"] = {"type": "auditd"}
    if event.node:
        out["host"] = {"name": event.node}
    return out


def _drop_redundant_effective(out: dict[str, Any]) -> None:
    user = out.get("user", {})
    effective = user.get("effective")
    if not isinstance(effective, dict):
        return
    for key in ("id", "name"):
        if user.get(key) and effective.get(key) == user.get(key):
            del user["effective"]
            return
