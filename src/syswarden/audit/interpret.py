"""A record's fields interpreted, as go-libaudit's auparse presents them (and auditbeat ships them in
``auditd.data``): strings decoded from hex, ids the kernel left unset named ``unset``, ``success``/``res`` as
``result`` (success|fail), negative exit codes as errno names, arch and syscall by name, the signal of a SECCOMP
record by name, SELinux contexts split, socket addresses decoded, the rule keys split off as tags.

The result is plain ``{name: text}``: what ``audit search --json`` prints and what ECS documents are built
from. Checked field by field against go-libaudit's ``auparse`` goldens.
"""
from __future__ import annotations

import errno as _errno
import ipaddress
import re
import signal as _signal
from dataclasses import dataclass, field

from syswarden.audit import syscall_names
from syswarden.audit.constants import (CWD, EXECVE, PATH, PROCTITLE, SECCOMP, SOCKADDR, SYSCALL, record_types)
from syswarden.audit.record_fields import ABSENT, FIELD, hex_bytes, unquote
from syswarden.audit.records import Record

_TYPES = record_types()
AVC, LOGIN = _TYPES["AVC"], _TYPES["LOGIN"]
_USER_CMD, _TTY, _USER_TTY, _USER_LOGIN = _TYPES["USER_CMD"], _TYPES["TTY"], _TYPES["USER_TTY"], _TYPES["USER_LOGIN"]
_PAREN_USER = {_TYPES["CRED_DISP"], _TYPES["USER_START"], _TYPES["USER_END"]}
_SELINUX_AVC = re.compile(r"avc:\s+(\w+)\s+\{\s*(.*)\s*\}\s+for\s+")
_CONTEXT_PARTS = ("_user", "_role", "_domain", "_level", "_category")


@dataclass(slots=True)
class RecordData:
    """The interpreted fields of one record, and the rule keys (tags) it carried."""

    data: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    orig: dict[str, str] = field(default_factory=dict, repr=False)     # values as written, for hex decoding


def _normalized_body(record: Record) -> str:
    """Reshape the few records whose text is not plain key=value pairs (SELinux AVC, LOGIN, some PAM ones)."""
    body = record.body
    if record.type == AVC:
        match = _SELINUX_AVC.search(body)
        if match:
            perms = ",".join(match.group(2).split())
            return f"seresult={match.group(1)} seperms={perms} {body[match.end():]}"
    elif record.type == LOGIN:
        return body.replace("old ", "old_", 2).replace("new ", "new_", 2)
    elif record.type in _PAREN_USER:
        return body.replace(" (hostname=", " hostname=", 2).rstrip(")'")
    return body


def _extract(text: str, out: RecordData) -> None:
    for key, orig in FIELD.findall(text):
        value = unquote(orig)
        if value in ABSENT:
            continue
        if key == "msg":
            _extract(value, out)
            continue
        out.data[key] = value
        out.orig[key] = orig


def _hex_strings(rd: RecordData, key: str, joiner: str = " ") -> None:
    raw = hex_bytes(rd.orig.get(key, ""))
    if raw is not None and key in rd.data:
        rd.data[key] = joiner.join(p.decode("utf-8", "surrogateescape") for p in raw.split(b"\0"))


def _hex_string(rd: RecordData, key: str) -> None:
    raw = hex_bytes(rd.orig.get(key, ""))
    if raw is not None and key in rd.data:
        rd.data[key] = raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _unset(rd: RecordData, key: str) -> None:
    if rd.data.get(key) in ("4294967295", "-1"):
        rd.data[key] = "unset"


def _context(rd: RecordData, key: str) -> None:
    value = rd.data.pop(key, None)
    if value is None:
        return
    for suffix, part in zip(_CONTEXT_PARTS, value.split(":", len(_CONTEXT_PARTS) - 1)):
        rd.data[key + suffix] = part


def _result(rd: RecordData) -> None:
    value = rd.data.pop("success", None)
    if value is None:
        value = rd.data.pop("res", None)
    if value is None:
        return
    lower = value.lower()
    rd.data["result"] = "success" if lower in ("yes", "1") or lower.startswith("suc") else "fail"


def _exit(rd: RecordData) -> None:
    try:
        code = int(rd.data.get("exit", ""))
    except ValueError:
        return
    name = _errno.errorcode.get(-code) if code < 0 else None
    if name:
        rd.data["exit"] = name


def _keys(rd: RecordData) -> None:
    orig = rd.orig.pop("key", None)
    value = rd.data.pop("key", None)
    if value is None or orig is None:
        return
    raw = hex_bytes(orig)
    if raw is not None:
        rd.tags = raw.decode("utf-8", "surrogateescape").split("\x01")
    else:
        rd.tags = [value.split("=", 1)[-1]]     # key="key=net" (user messages) names the key net


def _arch_and_syscall(rd: RecordData) -> None:
    try:
        arch_value = int(rd.data.get("arch", ""), 16)
    except ValueError:
        return
    arch = syscall_names.arch_of(arch_value)
    if arch is not None:
        rd.data["arch"] = arch.value
    try:
        nr = int(rd.data.get("syscall", ""))
    except ValueError:
        return
    name = syscall_names.record_syscall_name(arch_value, nr)
    if name:
        rd.data["syscall"] = name


def _signal_name(rd: RecordData) -> None:
    try:
        rd.data["sig"] = _signal.Signals(int(rd.data.get("sig", ""))).name
    except ValueError:
        pass


def sockaddr(text: str) -> dict[str, str]:
    """A SOCKADDR record's ``saddr`` hex: family, address, port (or path for unix sockets)."""
    if len(text) < 4:
        return {}
    try:
        family = int(text[2:4] + text[0:2], 16)
        if family == 1:
            raw = bytes.fromhex(text[4:])
            return {"family": "unix", "path": raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")}
        if family == 2 and len(text) >= 16:
            return {"family": "ipv4", "addr": str(ipaddress.IPv4Address(bytes.fromhex(text[8:16]))),
                    "port": str(int(text[4:8], 16))}
        if family == 10 and len(text) >= 48:
            out = {"family": "ipv6", "addr": str(ipaddress.IPv6Address(bytes.fromhex(text[16:48]))),
                   "port": str(int(text[4:8], 16))}
            flow = int(text[8:16], 16)
            if flow:
                out["flow"] = str(flow)
            return out
    except ValueError:
        return {"saddr": text}
    return {"family": "netlink" if family == 16 else str(family), "saddr": text}


def _execve(rd: RecordData) -> None:
    try:
        argc = int(rd.data.get("argc", ""))
    except ValueError:
        return
    for i in range(min(argc, 1 << 16)):
        _hex_string(rd, f"a{i}")


def interpret(record: Record) -> RecordData:
    """The record's fields interpreted (see the module doc)."""
    rd = RecordData()
    _extract(_normalized_body(record), rd)
    for key in ("auid", "old-auid", "ses"):
        _unset(rd, key)
    _context(rd, "subj")
    _result(rd)
    _exit(rd)
    _keys(rd)
    _hex_strings(rd, "cwd")
    kind = record.type
    if kind in (SYSCALL, SECCOMP):
        if kind == SECCOMP:
            _signal_name(rd)
        _arch_and_syscall(rd)
        _hex_strings(rd, "exe")
    elif kind == SOCKADDR:
        saddr = rd.data.pop("saddr", None)
        if saddr is not None:
            rd.data.update(sockaddr(saddr))
    elif kind == PROCTITLE:
        _hex_strings(rd, "proctitle")
    elif kind == _USER_CMD:
        _hex_strings(rd, "cmd")
    elif kind in (_TTY, _USER_TTY):
        _hex_strings(rd, "data")
    elif kind == EXECVE:
        _execve(rd)
    elif kind == PATH:
        _context(rd, "obj")
        _hex_strings(rd, "name")
    elif kind == _USER_LOGIN:
        _hex_strings(rd, "acct")
    elif kind == CWD:
        pass
    return rd


def field_list(record: Record) -> list[tuple[str, str]]:
    """The record's fields in order, values as written, as auparse walks them: a user message's ``msg='...'``
    fields inline, the SELinux AVC verdict and permissions as ``seresult``/``seperms``, and the punctuation
    some PAM messages wrap fields in (``(hostname=?,``) left out."""
    out: list[tuple[str, str]] = []
    for key, value in FIELD.findall(_avc_body(record)):
        if key == "msg" and value[:1] == "'":
            out.extend((k, _trim(v)) for k, v in FIELD.findall(value[1:-1]))
        else:
            out.append((key, _trim(value)))
    return out


def _avc_body(record: Record) -> str:
    if record.type == AVC:
        match = _SELINUX_AVC.search(record.body)
        if match:
            perms = ",".join(match.group(2).split())
            return f"seresult={match.group(1)} seperms={perms} {record.body[match.end():]}"
    return record.body


def _trim(value: str) -> str:
    if value[:1] in "\"'":
        return value
    value = value.rstrip(",")
    return value.rstrip(")") if "(" not in value else value
