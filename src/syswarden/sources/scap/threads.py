"""A capture's process and fd lists (``tables``' records) as the ``ThreadInfo``/``FdInfo`` state starts from,
with socket names as Falco prints them."""
from __future__ import annotations

import ipaddress

from syswarden.events.event import FdInfo, FdType, ThreadInfo
from syswarden.events.types import FLAG_TABLES
from syswarden.sources.scap import event_codes as EC
from syswarden.sources.scap import tables as T

# scap_fd_type -> our FdType
_FD_KINDS = {
    1: FdType.FILE, 16: FdType.FILE, 2: FdType.DIRECTORY, 3: FdType.IPV4, 5: FdType.IPV4, 4: FdType.IPV6,
    6: FdType.IPV6, 7: FdType.PIPE, 8: FdType.UNIX, 9: FdType.EVENT, 11: FdType.SIGNALFD, 12: FdType.EVENTPOLL,
    13: FdType.INOTIFY, 14: FdType.TIMERFD, 15: FdType.NETLINK, 17: FdType.BPF, 18: FdType.USERFAULTFD,
    19: FdType.IO_URING, 20: FdType.MEMFD, 21: FdType.PIDFD,
}


def _uid(value: int) -> int:
    return -1 if value in (0xFFFFFFFF, -1) else value


def thread_from_record(rec: T.ProcRecord) -> ThreadInfo:
    """A process-list entry as the ``ThreadInfo`` state starts from."""
    return ThreadInfo(
        tid=rec.tid, pid=rec.pid, ptid=rec.ptid, comm=rec.comm, exe=rec.exe, exepath=rec.exepath or "",
        args=list(rec.args), env=list(rec.env), cwd=rec.cwd, uid=_uid(rec.uid), gid=_uid(rec.gid),
        euid=_uid(rec.uid), egid=_uid(rec.gid), loginuid=_uid(rec.loginuid), tty=rec.tty,
        sid=rec.sid, vpid=rec.vpid, vtid=rec.vtid, vpgid=rec.vpgid, exe_writable=rec.exe_writable,
        exe_upper_layer=rec.exe_upper_layer, exe_lower_layer=rec.exe_lower_layer,
        exe_from_memfd=rec.exe_from_memfd, exe_ino=rec.exe_ino,
        exe_ino_ctime=rec.exe_ino_ctime, exe_ino_mtime=rec.exe_ino_mtime, cap_permitted=rec.cap_permitted,
        cap_effective=rec.cap_effective, cap_inheritable=rec.cap_inheritable,
        container_id=container_of(rec.cgroups)[0], container_runtime=container_of(rec.cgroups)[1],
    )


def container_of(cgroups: list[str]) -> tuple[str, str]:
    """(container id, runtime) of a thread from its cgroup lines, through the state engine's parser."""
    from syswarden.state.containers import parse_cgroup_lines

    ref = parse_cgroup_lines(cgroups)
    return ref.id, ref.runtime


def _ip_text(raw: bytes) -> str:
    return str(ipaddress.ip_address(raw)) if len(raw) in (4, 16) else ""


def fdinfo_from_record(rec: T.FdRecord) -> FdInfo:
    """A fd-list entry as ``FdInfo`` (socket names as Falco prints them: ``sip:sport->dip:dport``)."""
    kind = _FD_KINDS.get(rec.kind, FdType.UNKNOWN)
    flags = FLAG_TABLES["file_flags"].from_falco(rec.flags) if "file_flags" in FLAG_TABLES else rec.flags
    info = FdInfo(num=rec.fd, type=kind, name=rec.name, flags=flags, dev=rec.dev, ino=rec.ino)
    if rec.kind in (3, 4):
        info.sip, info.dip, info.sport, info.dport = _ip_text(rec.sip), _ip_text(rec.dip), rec.sport, rec.dport
        info.l4proto, info.sockfamily, info.connected = EC.L4_PROTOS.get(rec.l4proto, ""), "ip", True
        info.name = f"{hostport(info.sip, info.sport)}->{hostport(info.dip, info.dport)}"
    elif rec.kind in (5, 6):
        # a server socket: its address is the server end; read from a fd list it has no role (libsinsp)
        info.dip, info.dport, info.servsock = _ip_text(rec.sip), rec.sport, True
        info.l4proto, info.sockfamily = EC.L4_PROTOS.get(rec.l4proto, ""), "ip"
        info.name = hostport(info.dip, info.dport)
    elif rec.kind == 8:
        info.sockfamily = "unix"
        info.sip, info.dip = f"{rec.unix_source:x}", f"{rec.unix_dest:x}"
    return info


def hostport(ip: str, port: int) -> str:
    return f"{ip}:{port}"
