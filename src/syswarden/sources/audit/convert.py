"""Audit events -> syswarden events (Falco's names and parameters), so the same rules judge them.

A syscall event (SYSCALL + EXECVE/CWD/PATH/SOCKADDR/PROCTITLE) becomes the Falco event of that syscall: its
arguments from ``a0``..``a3`` (the kernel logs only the first four), its paths from the PATH records, argv from
EXECVE, the address from SOCKADDR, through the same ``syscall_decode.build_params`` the live sources use. The
process comes with every event (pid, ppid, ids, comm, exe, cwd, and argv from EXECVE or PROCTITLE) and is
attached as a snapshot state adopts. A SECCOMP record becomes a ``violated-seccomp-policy`` event naming the
syscall (per the record's arch) and the filter's action. Other events (user messages, configuration changes)
have no Falco equivalent and are left to ``audit search``.

Approximations (each errs towards less context, never a wrong one): audit names the process, not the thread
(``tid`` = pid); arguments past the fourth are 0; a path argument the kernel did not resolve (a symlink target)
is empty; the tty is not known as a number.
"""
from __future__ import annotations

from typing import Any

from syswarden.audit import normalize, syscall_names
from syswarden.audit.constants import AUDIT_UNSET, CWD, EXECVE, PATH, PROCTITLE, SECCOMP, SOCKADDR, SYSCALL
from syswarden.audit.record_fields import hex_bytes, unquote, untrusted, untrusted_list
from syswarden.audit.reassembly import AuditEvent
from syswarden.audit.records import Record, keys_of
from syswarden.events.event import AuditInfo, Event, ThreadInfo
from syswarden.sources.syscall_decode import SPECS, ArgKind, RawCall, build_params
from syswarden.syscalls import tables

SECCOMP_ACTIONS = {0x80000000: "kill_process", 0x00000000: "kill_thread", 0x00030000: "trap", 0x00050000: "errno",
                   0x7FC00000: "user_notif", 0x7FF00000: "trace", 0x7FFC0000: "log", 0x7FFF0000: "allow"}
_SOCKADDR_KINDS = (ArgKind.BYTES, ArgKind.SOCKADDR_OUT, ArgKind.MSGHDR)
MAX_ARGS = 1 << 16


def _id(record: Record, key: str) -> int:
    value = record.number(key)
    return -1 if value is None or value == AUDIT_UNSET else value


def execve_args(record: Record) -> list[str]:
    """argv from an EXECVE record (long arguments come in pieces: ``a1_len=N a1[0]=… a1[1]=…``)."""
    fields = record.fields()
    try:
        argc = min(int(fields.get("argc", "0")), MAX_ARGS)
    except ValueError:
        return []
    args = []
    for i in range(argc):
        if f"a{i}" in fields:
            args.append(untrusted(fields[f"a{i}"]))
            continue
        pieces, j = [], 0
        while f"a{i}[{j}]" in fields:
            raw = hex_bytes(fields[f"a{i}[{j}]"])
            pieces.append(raw if raw is not None else unquote(fields[f"a{i}[{j}]"]).encode("utf-8",
                                                                                        "surrogateescape"))
            j += 1
        args.append(b"".join(pieces).decode("utf-8", "surrogateescape"))
    return args


def _argv(event: AuditEvent) -> list[str]:
    execve = event.first(EXECVE)
    if execve is not None:
        return execve_args(execve)
    title = event.first(PROCTITLE)
    value = title.get("proctitle") if title is not None else None
    return [a for a in untrusted_list(value)] if value else []


def thread_of(record: Record, event: AuditEvent) -> ThreadInfo:
    """The calling process as the record names it (unknowns left -1 or empty for state to keep its own)."""
    pid = record.number("pid") or 0
    argv = _argv(event)
    cwd = event.first(CWD)
    return ThreadInfo(
        tid=pid, pid=pid, ptid=record.number("ppid") or -1, comm=record.text("comm") or "",
        exepath=record.text("exe") or "", exe=argv[0] if argv else "", args=argv[1:],
        cwd=(cwd.text("cwd") or "") if cwd is not None else "", uid=_id(record, "uid"), gid=_id(record, "gid"),
        euid=_id(record, "euid"), egid=_id(record, "egid"), loginuid=_id(record, "auid"))


def _paths(event: AuditEvent) -> list[str]:
    """The names the syscall resolved, in item order, without the PARENT directories."""
    items = []
    for rec in event.all(PATH):
        if rec.get("nametype") == "PARENT":
            continue
        name = rec.text("name")
        if name is not None:
            items.append((rec.number("item") or 0, name))
    return [name for _, name in sorted(items)]


def _string_slots(name: str, spec_slots: list[int], paths: list[str]) -> dict[int, str]:
    if not paths or not spec_slots:
        return {}
    if name in ("execve", "execveat"):
        return {spec_slots[0]: paths[0]}
    if name == "mount":
        return {1: paths[-1], **({0: paths[0]} if len(paths) > 1 else {})}
    if name in ("symlink", "symlinkat"):
        return {spec_slots[-1]: paths[-1]}
    if len(paths) >= len(spec_slots):
        return dict(zip(spec_slots, paths))
    return dict(zip(spec_slots[-len(paths):], paths))          # the created/target path is the last one


def _blobs(name: str, event: AuditEvent, argv: list[str]) -> dict[int, bytes]:
    spec = SPECS[name]
    strings = [i for i, k in sorted(spec.kinds.items()) if k is ArgKind.STR]
    blobs = {i: p.encode("utf-8", "surrogateescape") + b"\0" for i, p in
             _string_slots(name, strings, _paths(event)).items()}
    argv_slot = next((i for i, k in spec.kinds.items() if k is ArgKind.STRARR), None)
    if argv_slot is not None:
        blobs[argv_slot] = b"".join(a.encode("utf-8", "surrogateescape") + b"\0" for a in argv)
    sockaddr = event.first(SOCKADDR)
    raw = hex_bytes(sockaddr.get("saddr") or "") if sockaddr is not None else None
    if raw is not None:
        for i, kind in spec.kinds.items():
            if kind in _SOCKADDR_KINDS and not (name == "openat2"):
                blobs[i] = raw
    return blobs


def _info(event: AuditEvent, record: Record, action: str, success: bool | None) -> AuditInfo:
    return AuditInfo(serial=event.serial, record_type=record.type_name, keys=keys_of(record),
                     auid=_id(record, "auid"), ses=_id(record, "ses"), success=success, action=action,
                     node=event.node)


def syscall_event(event: AuditEvent, record: Record, num: int) -> Event:
    arch_value = record.number("arch", 16) or 0
    nr = record.number("syscall") or 0
    arch = syscall_names.arch_of(arch_value, nr)
    name = (tables.name(arch, nr) if arch is not None else None) or f"syscall_{nr}"
    res = record.number("exit")
    thread = thread_of(record, event)
    params: dict[str, Any] = {}
    if name in SPECS:
        args = tuple(record.number(f"a{i}", 16) or 0 for i in range(4)) + (0, 0)
        call = RawCall(name, thread.tid, thread.pid, res if res is not None else 0, args,
                       _blobs(name, event, [thread.exe, *thread.args]))
        params = build_params(call)
    success = {"yes": True, "no": False}.get(record.get("success") or "")
    action = normalize.for_syscall(syscall_names.audit_name(arch, nr) or name).action if arch else ""
    return Event(num=num, ts=event.ts_ns, type=name, tid=thread.tid, params=params, res=res, pid=thread.pid,
                 thread=thread, audit=_info(event, record, action, success))


def seccomp_event(event: AuditEvent, record: Record, num: int) -> Event:
    arch_value = record.number("arch", 16) or 0
    nr = record.number("syscall") or 0
    arch = syscall_names.arch_of(arch_value, nr)
    code = record.number("code", 16) or 0
    params = {"syscall": syscall_names.record_syscall_name(arch_value, nr) or f"syscall_{nr}",
              "action": SECCOMP_ACTIONS.get(code & 0xFFFF0000, f"{code & 0xFFFF0000:#x}"),
              "sig": record.number("sig") or 0, "code": code, "arch": arch.value if arch else f"{arch_value:x}",
              "nr": nr, "compat": record.number("compat") or 0, "ip": record.number("ip", 16) or 0}
    thread = thread_of(record, event)
    return Event(num=num, ts=event.ts_ns, type="violated-seccomp-policy", tid=thread.tid, params=params,
                 pid=thread.pid, thread=thread, audit=_info(event, record, "violated-seccomp-policy", None))


def to_events(event: AuditEvent, first_num: int) -> list[Event]:
    """The syswarden events of one audit event (none for events with no Falco equivalent)."""
    out = []
    seccomp = event.first(SECCOMP)
    if seccomp is not None:
        out.append(seccomp_event(event, seccomp, first_num))
    syscall = event.first(SYSCALL)
    if syscall is not None:
        out.append(syscall_event(event, syscall, first_num + len(out)))
    return out
