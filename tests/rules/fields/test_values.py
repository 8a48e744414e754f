"""Field extraction and formatting on hand-built events: the text Falco prints and the JSON it emits."""
from __future__ import annotations

import pwd

from dataclasses import dataclass, field

from syswarden.events.accounts import GroupInfo, UserInfo
from syswarden.events.event import Event, FdInfo, FdType, SockTuple, ThreadInfo
from syswarden.rules.fields import registry


@dataclass
class _Tables:
    """Hand-built tables in the shape the fields read them from an event (``rules.fields.lookups.Lookups``)."""

    users: dict[int, UserInfo] = field(default_factory=dict)
    groups: dict[int, GroupInfo] = field(default_factory=dict)
    threads: dict[int, ThreadInfo] = field(default_factory=dict)

    def user(self, uid: int) -> UserInfo | None:
        return self.users.get(uid)

    def group(self, gid: int) -> GroupInfo | None:
        return self.groups.get(gid)

    def thread(self, tid: int) -> ThreadInfo | None:
        return self.threads.get(tid)


def _thread() -> ThreadInfo:
    init = ThreadInfo(tid=1, pid=1, comm="systemd", exepath="/usr/lib/systemd/systemd")
    sshd = ThreadInfo(tid=50, pid=50, comm="sshd", exe="/usr/sbin/sshd", exepath="/usr/sbin/sshd", sid=50,
                      args=["-D"], parent=init)
    return ThreadInfo(tid=101, pid=100, ptid=50, comm="bash", exe="-bash", exepath="/usr/bin/bash", args=["-c", "id"],
                      env=["HOME=/root", "TERM=xterm"], cwd="/root/", uid=0, euid=0, gid=0, egid=0, loginuid=-1,
                      tty=34816, sid=50, vpid=100, start_ts=1_000, parent=sshd, cap_effective=(1 << 21) | 1,
                      container_id="")


def _text(name: str, event: Event, arg: str | None = None) -> str:
    fdef = registry.lookup(name, arg)
    return fdef.format(fdef.extract(event))


def _event(**kw: object) -> Event:
    base: dict[str, object] = {"num": 3, "ts": 1_700_000_000_000_000_500, "type": "execve", "tid": 101,
                               "thread": _thread(), "res": 0}
    base.update(kw)
    return Event(**base)  # type: ignore[arg-type]


def test_process_fields() -> None:
    """Process, parent, ancestor and session fields print as Falco does."""
    ev = _event()
    assert _text("proc.cmdline", ev) == "bash -c id"
    assert _text("proc.args", ev) == "-c id"
    assert _text("proc.pcmdline", ev) == "sshd -D"
    assert _text("proc.aname", ev, "2") == "systemd"
    assert _text("proc.aname", ev) == "sshd systemd"     # libsinsp: ancestors from the parent up
    assert _text("proc.sname", ev) == "sshd"
    assert _text("proc.env", ev, "TERM") == "xterm"
    assert _text("proc.duration", ev) == str(1_700_000_000_000_000_500 - 1_000)
    assert _text("proc.tty", ev) == "34816"
    assert _text("proc.pexepath", ev) == "/usr/sbin/sshd"
    assert _text("proc.exe_ino", ev) == "<NA>"


def test_thread_and_user_fields() -> None:
    """Capabilities print by name; user names come from the event's lookups (else the host); unknown loginuid
    is -1."""
    ev = _event()
    assert _text("thread.cap_effective", ev) == "CAP_CHOWN CAP_SYS_ADMIN"
    assert _text("thread.tid", ev) == "101"
    assert _text("user.name", ev) == pwd.getpwuid(0).pw_name
    assert _text("user.loginuid", ev) == "-1"
    assert _text("user.loginname", ev) == "<NA>"
    ev.lookups = _Tables(users={0: UserInfo(0, "alice", "/home/alice", "/bin/sh")}, groups={0: GroupInfo(0, "staff")})
    assert _text("user.name", ev) == "alice"
    assert _text("user.shell", ev) == "/bin/sh"
    assert _text("group.name", ev) == "staff"
    assert _text("user.name", _event()) == pwd.getpwuid(0).pw_name      # another event: the host again


def test_unknown_uid_prints_as_uint32() -> None:
    """A uid of -1 prints 4294967295, as sysdig shows for processes without user state."""
    ev = _event()
    assert ev.thread is not None
    ev.thread.uid = ev.thread.euid = -1
    assert _text("user.uid", ev) == "4294967295"


def test_container_host_defaults() -> None:
    """Host processes are container.id/name 'host'; image fields and k8s are <NA>."""
    ev = _event()
    assert _text("container.id", ev) == "host"
    assert _text("container.name", ev) == "host"
    assert _text("container.image.repository", ev) == "<NA>"
    assert _text("k8s.ns.name", ev) == "<NA>"
    assert ev.thread is not None
    assert _text("container.type", ev) == "<NA>"
    ev.thread.container_id = "0123456789abcdef0123"
    ev.thread.container_runtime = "docker"
    assert _text("container.id", ev) == "0123456789ab"
    assert _text("container.full_id", ev) == "0123456789abcdef0123"
    assert _text("container.type", ev) == "docker"


def test_fd_fields_file_and_socket() -> None:
    """File fds split into directory and filename; sockets know client, server, local and remote ends."""
    f = FdInfo(num=3, type=FdType.FILE, name="/etc/ssh/sshd_config")
    ev = _event(type="openat", fd=f, params={"fd": 3, "name": "/etc/ssh/sshd_config", "flags": 0, "mode": 0}, res=3)
    assert _text("fd.directory", ev) == "/etc/ssh"
    assert _text("fd.filename", ev) == "sshd_config"
    assert _text("fd.typechar", ev) == "f"
    assert _text("fd.type", ev) == "file"
    assert _text("fd.sip", ev) == "<NA>"
    s = FdInfo(num=5, type=FdType.IPV4, name="1.2.3.4:5555->10.0.0.1:22", l4proto="tcp", sip="1.2.3.4", sport=5555,
               dip="10.0.0.1", dport=22, is_server=True)
    ev = _event(type="accept4", fd=s,
                params={"fd": 5, "tuple": SockTuple("AF_INET", "1.2.3.4", 5555, "10.0.0.1", 22)}, res=5)
    assert [_text(n, ev) for n in ("fd.cip", "fd.sip", "fd.lport", "fd.rport", "fd.rip", "fd.l4proto")] == [
        "1.2.3.4", "10.0.0.1", "22", "5555", "1.2.3.4", "tcp"]
    assert _text("fd.sockfamily", ev) == "ip"
    root = FdInfo(num=3, type=FdType.DIRECTORY, name="/")
    assert _text("fd.filename", _event(type="openat", fd=root, res=3, params={"fd": 3, "name": "/"})) == "<NA>"
    assert _text("fd.directory", ev) == "<NA>"


def test_failed_open_without_fd_state() -> None:
    """A failed open has fd.num -1 and fd.name from its path, so open_file_failed works."""
    ev = _event(type="openat", thread=None, res=-2, params={"fd": -2, "name": "/nope", "flags": 0, "mode": 0})
    assert _text("fd.num", ev) == "-1"
    assert _text("fd.name", ev) == "/nope"
    assert _text("evt.res", ev) == "ENOENT"
    assert _text("evt.arg.fd", ev) == "ENOENT"
    assert "fd=-2(ENOENT)" in _text("evt.args", ev)


def test_event_fields() -> None:
    """Times, flags and results print in Falco's formats; JSON values stay typed."""
    ev = _event(type="openat", res=3, params={"fd": 3, "dirfd": -100, "name": "/etc/x", "flags": 0o101, "mode": 0o644})
    assert _text("evt.time.iso8601", ev) == "2023-11-14T22:13:20.000000500+0000"
    assert _text("evt.arg.flags", ev) == "O_CREAT|O_WRONLY"  # Falco's table order
    assert _text("evt.is_open_write", ev) == "true"
    num = registry.lookup("evt.num")
    assert num.json_value(num.extract(ev)) == 3
    flag = registry.lookup("evt.is_open_write")
    assert flag.json_value(flag.extract(ev)) is True
    missing = registry.lookup("k8s.pod.name")
    assert missing.json_value(missing.extract(ev)) is None
    buf = registry.lookup("evt.buffer")
    assert buf.format(buf.extract(_event(type="write", params={"data": b"ab\x00\ncd"}))) == "ab..cd"


def test_event_category() -> None:
    """I/O events take the category of their fd; others keep the event table's category."""
    f = FdInfo(num=3, type=FdType.FILE, name="/etc/x")
    s = FdInfo(num=4, type=FdType.IPV4, name="a:1->b:2")
    assert _text("evt.category", _event(type="read", fd=f, params={"fd": 3})) == "file"
    assert _text("evt.category", _event(type="read", fd=s, params={"fd": 4})) == "net"
    assert _text("evt.category", _event(type="read", params={"fd": 9})) == "unknown"
    assert _text("evt.category", _event()) == "process"


def test_parameter_rendering_details() -> None:
    """Hex addresses, socket fds with their L4 protocol, unix tuples, and pids named through the thread lookup."""
    from syswarden.events.event import SockAddr

    ev = _event(type="brk", params={"addr": 0x55DB0DE94000}, res=0x55DB0DE73000)
    assert _text("evt.arg.addr", ev) == "55DB0DE94000"
    assert _text("evt.arg.res", ev) == "55DB0DE73000"
    sock = FdInfo(num=4, type=FdType.IPV6, name="::1:1->::1:2", l4proto="udp", sip="::1", dip="::1", connected=True)
    fresh = FdInfo(num=5, type=FdType.IPV4, l4proto="tcp")
    thread = _thread()
    thread.fds = {4: sock, 5: fresh}
    assert _text("evt.arg.fd", _event(type="sendto", thread=thread, params={"fd": 4})) == "<6u>::1:1->::1:2"
    assert _text("evt.arg.fd", _event(type="fcntl", thread=thread, params={"fd": 5})) == "<4>"
    unix = SockTuple("AF_UNIX", "0", 0, "/run/nscd/socket", 0xFFFF88003C420800)
    assert _text("evt.arg.tuple", _event(type="connect", params={"fd": 3, "tuple": unix})) == \
        "0->ffff88003c420800 /run/nscd/socket"
    bound = SockAddr("AF_INET6", "2001:db8::4", 0)
    assert _text("evt.arg.addr", _event(type="bind", params={"fd": 3, "addr": bound})) == "2001:db8::4:0"
    child = ThreadInfo(tid=4242, pid=4242, comm="curl")
    tables = _Tables(threads={4242: child})
    assert _text("evt.arg.res", _event(type="clone", res=4242, lookups=tables)) == "curl"
    assert "res=4242(curl)" in _text("evt.args", _event(type="clone", res=4242, lookups=tables))
    assert _text("evt.arg.res", _event(type="clone", res=4242)) == "4242"
