"""Which Landlock rule stopped CMD: the kernel's LANDLOCK_ACCESS audit records, turned into one line per denial
(sandbox stage, after CMD exited; the Landlock counterpart of ``denials.py``).

With Landlock ABI 7 the kernel logs each denial as ``LANDLOCK_ACCESS`` (1423,
``domain=1a2b blockers=fs.read_file path="/etc/hostname" dev="vda" ino=612``) and, the first time a domain
denies something, ``LANDLOCK_DOMAIN`` (1424, ``domain=1a2b status=allocated mode=enforcing pid=4242 ...``),
whose ``pid`` is the process that called ``landlock_restrict_self`` — our child, which then became CMD. A
denial is CMD's when its domain is the one whose allocation record carries CMD's pid; the domain is inherited
by CMD's children and by nobody else, so this covers exactly CMD's process tree. The ``SYSCALL`` record of the
same event (same serial) names the process that was denied. Nothing is guessed: no record, no line.

Records exist only while audit is enabled (``security/landlock/audit.c`` returns early otherwise), so
``audit_on_for_run`` turns it on for the run when it is off, and back off afterwards.
"""
from __future__ import annotations

import os
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from syswarden.kernel import audit_fields, audit_netlink
from syswarden.kernel.audit_netlink import AUDIT_LANDLOCK_ACCESS, AUDIT_LANDLOCK_DOMAIN, AUDIT_SYSCALL

MAX_LINES = 20
# The fields the kernel writes as untrusted strings (quoted, or hex when unclean); numbers such as a port 8089
# look like hex too and must stay as they are.
_UNTRUSTED = frozenset({"path", "name", "comm", "ocomm", "exe"})
# The run flag that grants each filesystem right (``sandbox.landlock.FLAG_RIGHTS``); rights no flag grants
# (make_char/make_block, ioctl_dev, mount changes) get no suggestion.
_FS_FLAG = {"fs.read_file": "--fs-read", "fs.read_dir": "--fs-read", "fs.execute": "--fs-exec"}
_FS_WRITE = {"fs.write_file", "fs.remove_dir", "fs.remove_file", "fs.make_dir", "fs.make_reg", "fs.make_sock",
             "fs.make_fifo", "fs.make_sym", "fs.refer", "fs.truncate"}
_SCOPE_FLAG = {"scope.signal": "signal", "scope.abstract_unix_socket": "abstract-unix-socket"}


@dataclass(frozen=True, slots=True)
class LandlockDenial:
    """One LANDLOCK_ACCESS record of CMD's domain; ``pid``/``comm`` from its event's SYSCALL record (None and ""
    when that record is missing). ``fields`` holds the record's object fields, decoded (path, src, opid ...)."""

    pid: int | None
    comm: str
    blockers: tuple[str, ...]
    fields: tuple[tuple[str, str], ...]

    def field(self, name: str) -> str | None:
        return next((v for k, v in self.fields if k == name), None)


def _fields(text: str) -> dict[str, str]:
    return audit_fields.parse_record(text).fields


def collect(records: list[tuple[int, str]], cmd_pid: int) -> list[LandlockDenial]:
    """CMD's denials, in the order the kernel logged them, from ``(record type, text)`` pairs."""
    parsed = [(kind, (r := audit_fields.parse_record(text)).serial, r.fields) for kind, text in records]
    domains = {f.get("domain") for kind, _, f in parsed
               if kind == AUDIT_LANDLOCK_DOMAIN and f.get("status") == "allocated" and f.get("pid") == str(cmd_pid)}
    processes = {serial: f for kind, serial, f in parsed if kind == AUDIT_SYSCALL}
    out = []
    for kind, serial, f in parsed:
        if kind != AUDIT_LANDLOCK_ACCESS or f.get("domain") not in domains:
            continue
        proc = processes.get(serial, {}) if serial is not None else {}
        pid = audit_fields.parse_int(proc.get("pid"))
        objects = tuple((k, audit_fields.decode_untrusted(v) if k in _UNTRUSTED else v) for k, v in f.items()
                        if k not in ("domain", "blockers"))
        comm = audit_fields.decode_untrusted(proc.get("comm", '""'))
        out.append(LandlockDenial(pid, comm, tuple(f.get("blockers", "").split(",")), objects))
    return out


def cmd_domain(records: list[tuple[int, str]], cmd_pid: int) -> str | None:
    """The id of the domain CMD's pid created, once the kernel has logged it (at its first denial)."""
    for kind, text in records:
        f = _fields(text)
        if kind == AUDIT_LANDLOCK_DOMAIN and f.get("status") == "allocated" and f.get("pid") == str(cmd_pid):
            return f.get("domain")
    return None


def domain_released(records: list[tuple[int, str]], domain: str) -> bool:
    """Whether the kernel logged the domain's deallocation: it has no process left, so no denial can follow."""
    return any(kind == AUDIT_LANDLOCK_DOMAIN and (f := _fields(text)).get("domain") == domain
               and f.get("status") == "deallocated" for kind, text in records)


def explain(denials: list[LandlockDenial], limit: int = MAX_LINES) -> list[str]:
    """One line per distinct denial (unescaped: the printer escapes), at most ``limit`` then a count. The same
    denial met by several processes of one name (a shell script's children) is one line naming the first pid."""
    pids: dict[tuple[str, str], list[int | None]] = {}
    for denial in denials:
        seen = pids.setdefault((denial.comm, describe(denial)), [])
        if denial.pid not in seen:
            seen.append(denial.pid)
    lines = [f"{_who(comm, found)} {what}" for (comm, what), found in pids.items()]
    if len(lines) > limit:
        return [*lines[:limit], f"... and {len(lines) - limit} more Landlock denials"]
    return lines


def _who(comm: str, pids: list[int | None]) -> str:
    if pids[0] is None:
        return "a process of CMD"
    others = len(pids) - 1
    return f"{comm} (pid {pids[0]})" if not others else f"{comm} (pid {pids[0]} and {others} more)"


def describe(denial: LandlockDenial) -> str:
    """What was denied and what would allow it, without the process (``explain`` puts it in front)."""
    blockers = ",".join(denial.blockers)
    kind = denial.blockers[0] if denial.blockers else ""
    if kind.startswith("fs."):
        target = denial.field("path") or denial.field("name") or "an unnamed file"
        return f"was denied {blockers} on {target} by Landlock ({_fs_hint(denial.blockers, target)})"
    if kind in ("net.bind_tcp", "net.connect_tcp"):
        flag = "--net-bind" if kind == "net.bind_tcp" else "--net-connect"
        port = denial.field("src" if kind == "net.bind_tcp" else "dest") or denial.field("lport") or "?"
        hint = f"not a {flag} port; add {flag} {port}" if port.isdigit() else f"not a {flag} port"
        return f"was denied {blockers} on TCP port {port} by Landlock ({hint})"
    if kind in _SCOPE_FLAG:
        return f"was denied {blockers} {_scope_target(denial)} by Landlock (--scope {_SCOPE_FLAG[kind]})"
    return f"was denied {blockers} by Landlock"


def _fs_hint(blockers: tuple[str, ...], path: str) -> str:
    flags = {_FS_FLAG.get(b) or ("--fs-write" if b in _FS_WRITE else None) for b in blockers}
    flag = next((f for f in ("--fs-write", "--fs-read", "--fs-exec") if f in flags), None)
    if flag is None:
        return "no run flag grants this right; a policy file's landlock: section can"
    if not path.startswith("/"):
        return f"not under any {flag} path"
    where = path if os.path.isdir(path) else os.path.dirname(path) or "/"
    return f"not under any {flag} path; add {flag} {shlex.quote(where)}"


def _scope_target(denial: LandlockDenial) -> str:
    opid, ocomm = denial.field("opid"), denial.field("ocomm")
    if opid is not None:
        return f"to pid {opid}" + (f" ({ocomm})" if ocomm else "") + " outside its domain"
    path = denial.field("path")
    if path and path.startswith("\0"):
        path = "@" + path[1:]  # an abstract socket name, in the usual notation (ss, netstat)
    return f"to {path} outside its domain" if path else "outside its domain"


@contextmanager
def audit_on_for_run(switch: bool = True) -> Iterator[bool]:
    """Audit enabled while the block runs: Landlock logs nothing when it is off. With ``switch``, turned on
    only when it is off (0), and back to 0 on the way out even on errors; left alone when on or locked (2), or
    when we may not read or change it (no CAP_AUDIT_CONTROL). Yields whether audit is on.

    Switching is opt-in (``run --landlock-audit``): audit is a system-wide setting, and once it has been on the
    kernel gives every new task an audit context until reboot."""
    try:
        state = audit_netlink.audit_enabled()
    except OSError:
        yield False
        return
    if state != 0 or not switch:
        yield state != 0
        return
    try:
        audit_netlink.set_audit_enabled(1)
    except OSError:
        yield False
        return
    try:
        yield True
    finally:
        try:
            if audit_netlink.audit_enabled() == 1:  # not if someone locked it (2) meanwhile
                audit_netlink.set_audit_enabled(0)
        except OSError:
            pass  # nothing more can be done from here; docs/sandbox.md says how to check and fix it
