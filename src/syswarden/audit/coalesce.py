"""One audit event -> one normalised document, as go-libaudit's ``aucoalesce`` builds it (``audit search --json``,
and the base of the ECS documents): the records' interpreted fields merged, who did what to which object and
how (``summary``), the subject's ids and SELinux labels, the process, the file or socket object, the ECS
category and type (from ``normalize``), tags, and what is left over in ``data``.

The document is a dict shaped as go-libaudit's JSON (empty parts omitted where it omits them); a test holds it
to go-libaudit's own goldens. Its warnings (missing records, fields) are not reproduced.
"""
from __future__ import annotations

import datetime
from typing import Any

from syswarden.audit import normalize
from syswarden.audit.constants import EOE, EXECVE, PATH, SOCKADDR, SYSCALL
from syswarden.audit.interpret import RecordData, interpret
from syswarden.audit.reassembly import AuditEvent
from syswarden.audit.records import Record

_CATEGORIES: tuple[tuple[str, tuple[tuple[int, int], ...]], ...] = (
    ("user-login", ((1100, 1106), (1108, 1110), (1112, 1113), (1126, 1126))),
    ("user-account", ((1114, 1117), (1132, 1133), (1135, 1136))),
    ("system-services", ((2000, 2000), (1127, 1131))),
    ("configuration", ((1111, 1111), (1305, 1305), (1325, 1325), (1328, 1329))),
    ("dac-decision", ((1326, 1326),)),
    ("user-space", ((1119, 1121), (1123, 1123), (1125, 1125))),
    ("TTY", ((1124, 1124), (1319, 1319))),
    ("audit-daemon", ((1200, 1299),)),
    ("mac-decision", ((1122, 1122), (1107, 1107), (1502, 1503), (1506, 1506), (1400, 1402))),
    ("integrity", ((1800, 1899), (2109, 2109))),
    ("anomaly", ((1700, 1799), (2100, 2108), (2110, 2199))),
    ("anomaly-response", ((2200, 2299),)),
    ("mac", ((1403, 1499), (1500, 1501), (1504, 1505), (2300, 2399))),
    ("crypto", ((1600, 1699), (2400, 2499))),
    ("virt", ((2500, 2599),)),
    ("audit-rule", ((1300, 1304), (1306, 1315), (1317, 1318), (1321, 1324))),
)
_SHELLS = ("/usr/bin/python", "/usr/bin/sh", "/usr/bin/bash", "/usr/bin/perl")
_INCOMING = ("recvfrom", "recvmsg", "accept", "accept4")
_OUTGOING = ("connect", "sendto", "sendmsg")
_ECS_TARGETS = {"user": ("user",), "user.effective": ("user", "effective"), "user.target": ("user", "target"),
                "user.changes": ("user", "changes"), "group": ("group",)}


def category(record_type: int) -> str:
    """go-libaudit's event category of a record type (``audit-rule``, ``user-login`` ...)."""
    for name, ranges in _CATEGORIES:
        if any(lo <= record_type <= hi for lo, hi in ranges):
            return name
    return "unknown"


def timestamp(ts_ns: int) -> str:
    """RFC 3339 with milliseconds, trailing zeros dropped (as Go prints times): 2017-04-21T04:37:47.018Z."""
    when = datetime.datetime.fromtimestamp(ts_ns // 1_000_000_000, datetime.timezone.utc)
    frac = f"{ts_ns % 1_000_000_000:09d}".rstrip("0")
    return when.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + "Z"


class _Doc:
    """The document under construction (go-libaudit's Event), with its maps kept apart until the end."""

    def __init__(self, first: Record, main: Record) -> None:
        self.first, self.main = first, main
        self.data: dict[str, str] = {}
        self.ids: dict[str, str] = {}
        self.selinux: dict[str, str] = {}
        self.paths: list[dict[str, str]] = []
        self.actor: dict[str, str] = {}
        self.obj: dict[str, str] = {}
        self.summary: dict[str, Any] = {}
        self.process: dict[str, Any] = {}
        self.file: dict[str, Any] | None = None
        self.source: dict[str, str] | None = None
        self.dest: dict[str, str] | None = None
        self.direction = ""
        self.ecs_event: dict[str, Any] = {}
        self.ecs_user: dict[str, dict[str, str]] = {"": {}, "effective": {}, "target": {}, "changes": {}}
        self.ecs_group: dict[str, str] = {}
        self.result = "unknown"
        self.session = ""
        self.tags: list[str] = []

    def value(self, key: str) -> str | None:
        return self.data.get(key, self.ids.get(key))


def _start(doc: _Doc, rd: RecordData) -> None:
    data = dict(rd.data)
    doc.result = data.pop("result", "unknown")
    if "ses" in data:
        doc.session = data.pop("ses")
    if "auid" in data:
        doc.actor["primary"] = data["auid"]
    if "uid" in data:
        doc.actor["secondary"] = data["uid"]
    doc.tags = rd.tags
    for key, value in data.items():
        if key.endswith(("uid", "gid")):
            doc.ids[key] = value
        elif key.startswith("subj_"):
            doc.selinux[key[5:]] = value
        else:
            doc.data[key] = value


def _add_sockaddr(doc: _Doc, rd: RecordData) -> None:
    syscall = doc.data.get("syscall")
    if syscall is None:
        return
    for key, value in rd.data.items():
        doc.data["socket_" + key] = value
    address = {k: v for k, v in (("ip", rd.data.get("addr", "")), ("port", rd.data.get("port", "")),
                                 ("path", rd.data.get("path", ""))) if v}
    if syscall in _INCOMING:
        doc.source = address or doc.source
        doc.direction = "ingress"
    elif syscall in _OUTGOING:
        doc.dest = address or doc.dest
        doc.direction = "egress"


def _add_execve(doc: _Doc, rd: RecordData) -> None:
    argc = rd.data.get("argc")
    if argc is None:
        return
    doc.data["argc"] = argc
    try:
        count = int(argc)
    except ValueError:
        return
    args = []
    for i in range(count):
        if f"a{i}" not in rd.data:
            return
        args.append(rd.data[f"a{i}"])
    doc.process["args"] = args


def _compound(records: list[Record]) -> _Doc | None:
    special = records[0] if records[0].type != SYSCALL else None
    syscall = next((r for r in records if r.type == SYSCALL), None)
    if syscall is None:
        return None
    doc = _Doc(special or syscall, syscall)
    _start(doc, interpret(syscall))
    for record in records:
        if record.type == SYSCALL:
            doc.data.pop("items", None)
            continue
        rd = interpret(record)
        if record.type == PATH:
            doc.paths.append(rd.data)
        elif record.type == SOCKADDR:
            _add_sockaddr(doc, rd)
        elif record.type == EXECVE:
            _add_execve(doc, rd)
        else:
            for key, value in rd.data.items():
                doc.data.setdefault(key, value)
    return doc


def _set_how_default(doc: _Doc) -> None:
    exe = doc.data.get("exe") or doc.data.get("comm")
    if exe is None:
        return
    doc.summary["how"] = exe
    if exe.startswith(_SHELLS) and "comm" in doc.data:
        doc.summary["how"] = doc.data["comm"]


def _file_object(doc: _Doc, hint: int) -> None:
    index = hint if len(doc.paths) > hint else 0
    path = doc.paths[index]
    for candidate in doc.paths[index:]:
        if candidate.get("nametype") not in ("PARENT", "UNKNOWN"):
            path = candidate
            break
    doc.file = {}
    if "name" in path:
        doc.obj["primary"] = doc.file["path"] = path["name"]
    if "inode" in path:
        doc.file["inode"] = path["inode"]
    if "rdev" in path:
        doc.file["device"] = path["rdev"]
    if "mode" in path:
        try:
            mode = int(path["mode"], 8)
        except ValueError:
            mode = None
        if mode is not None:
            doc.file["mode"] = f"{mode & 0o7777:04o}"
            # go-libaudit reads the Linux mode as a Go os.FileMode, whose type bits are elsewhere: every path
            # with a mode is then a "file", directories included. Kept, so documents match auditbeat's.
            doc.obj["type"] = "file"
    if "ouid" in path:
        doc.file["uid"] = path["ouid"]
    if "ogid" in path:
        doc.file["gid"] = path["ogid"]
    labels = {k[4:]: v for k, v in path.items() if k.startswith("obj_")}
    if labels:
        doc.file["selinux"] = labels


def _first_found(doc: _Doc, keys: tuple[str, ...]) -> str | None:
    return next((v for k in keys if (v := doc.value(k)) is not None), None)


def _set_entity(entity: dict[str, str], value: str) -> None:
    entity.clear()
    if value in ("", "unset", "4294967295", "-1"):
        entity["id"] = "unset"
    elif value.isdigit():
        entity["id"] = value
    else:
        entity["name"] = value


def _ecs_read(doc: _Doc, ref: str) -> str:
    where = {"subject.primary": doc.actor.get("primary"), "subject.secondary": doc.actor.get("secondary"),
             "object.primary": doc.obj.get("primary"), "object.secondary": doc.obj.get("secondary")}
    if ref in where:
        return where[ref] or ""
    space, _, key = ref.partition(".")
    return (doc.data if space == "data" else doc.ids).get(key, "")


def _apply_normalization(doc: _Doc) -> None:
    _set_how_default(doc)
    syscall_norm = normalize.for_syscall(doc.data["syscall"]) if "syscall" in doc.data else None
    norm = syscall_norm if doc.first.type == SYSCALL else normalize.for_record_type(doc.first.type_name, doc.data)
    if norm is None:
        return
    if norm.ecs_kind:
        doc.ecs_event["kind"] = norm.ecs_kind
    category_ = list(norm.ecs_category)
    type_ = list(norm.ecs_type)
    if syscall_norm is not None and syscall_norm is not norm:
        category_ += syscall_norm.ecs_category
        type_ += syscall_norm.ecs_type
        if doc.result == "fail":
            doc.ecs_event["outcome"] = "failure"
    if category_:
        doc.ecs_event["category"] = category_
    if type_:
        doc.ecs_event["type"] = type_
    if norm.action:
        doc.summary["action"] = norm.action
    if norm.object_what:
        doc.obj["type"] = norm.object_what
    if norm.object_what in ("file", "filesystem") and doc.paths:
        _file_object(doc, norm.object_path_index)
    elif norm.object_what == "socket":
        address = doc.data.get("socket_addr") or doc.data.get("socket_path")
        if address is not None:
            doc.obj["primary"] = address
        if "socket_port" in doc.data:
            doc.obj["secondary"] = doc.data["socket_port"]
    for keys, target in ((norm.subject_primary, (doc.actor, "primary")),
                         (norm.subject_secondary, (doc.actor, "secondary")),
                         (norm.object_primary, (doc.obj, "primary")), (norm.object_secondary, (doc.obj, "secondary")),
                         (norm.how, (doc.summary, "how"))):
        if keys:
            value = _first_found(doc, keys)
            if value is not None:
                target[0][target[1]] = value
    if doc.source is None and norm.source_ip:
        key = next((k for k in norm.source_ip if k in doc.data), None)
        if key is not None:
            doc.source = {"ip": doc.data.pop(key)}
            doc.direction = "ingress"
    for ref, to in norm.ecs_mappings:
        path = _ECS_TARGETS.get(to)
        if path is None:
            continue
        entity = doc.ecs_group if path == ("group",) else doc.ecs_user["" if len(path) == 1 else path[1]]
        _set_entity(entity, _ecs_read(doc, ref))


def _add_process(doc: _Doc) -> None:
    for key, name in (("pid", "pid"), ("ppid", "ppid"), ("proctitle", "title"), ("comm", "name"),
                      ("exe", "exe"), ("cwd", "cwd")):
        value = doc.data.pop(key, None)
        if value:
            doc.process[name] = value


def coalesce(event: AuditEvent) -> dict[str, Any] | None:
    """The normalised document of ``event``; None when it has no records (or a compound one lacks SYSCALL)."""
    records = [r for r in event.records if r.type != EOE]
    if not records:
        return None
    if len(records) == 1:
        doc = _Doc(records[0], records[0])
        _start(doc, interpret(records[0]))
    else:
        found = _compound(records)
        if found is None:
            return None
        doc = found
    _apply_normalization(doc)
    _add_process(doc)
    return _render(doc, event)


def _render(doc: _Doc, event: AuditEvent) -> dict[str, Any]:
    first = doc.first
    out: dict[str, Any] = {"@timestamp": timestamp(first.ts_ns), "sequence": first.serial,
                           "category": category(first.type), "record_type": first.type_name.lower()}
    if doc.result:
        out["result"] = doc.result
    out["session"] = doc.session
    if doc.tags:
        out["tags"] = doc.tags
    summary: dict[str, Any] = {"actor": dict(doc.actor)}
    if "action" in doc.summary:
        summary["action"] = doc.summary["action"]
    summary["object"] = dict(doc.obj)
    if "how" in doc.summary:
        summary["how"] = doc.summary["how"]
    out["summary"] = summary
    user: dict[str, Any] = {}
    if doc.ids:
        user["ids"] = doc.ids
    if doc.selinux:
        user["selinux"] = doc.selinux
    out["user"] = user
    out["process"] = doc.process
    if doc.file is not None:
        out["file"] = doc.file
    if doc.source is not None:
        out["source"] = doc.source
    if doc.dest is not None:
        out["destination"] = doc.dest
    if doc.direction:
        out["network"] = {"direction": doc.direction}
    if doc.data:
        out["data"] = doc.data
    if doc.paths:
        out["paths"] = doc.paths
    ecs_user: dict[str, str | dict[str, str]] = {k: v for k, v in doc.ecs_user[""].items()}
    ecs_user.update({k: doc.ecs_user[k] for k in ("effective", "target", "changes")})
    out["ecs"] = {"event": doc.ecs_event, "user": ecs_user, "group": doc.ecs_group}
    if event.node:
        out["node"] = event.node
    return out
