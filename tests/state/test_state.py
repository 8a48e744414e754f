"""Tests for state transitions per event family (syswarden.state.State)."""
from __future__ import annotations

import errno
import os

from syswarden.events.accounts import UserInfo
from syswarden.events.event import Event, FdType, SockAddr, SockTuple, ThreadInfo
from syswarden.state import REQUIRED_EVENT_TYPES, State
from syswarden.state.processes import ancestors

from .conftest import EventMaker

O_CLOEXEC, O_DIRECTORY = os.O_CLOEXEC, os.O_DIRECTORY
CLONE_CHILD = 0x01200011            # fork(): CLONE_CHILD_SETTID|CLONE_CHILD_CLEARTID|SIGCHLD
CLONE_THREAD_FLAGS = 0x003D0F00     # pthread_create: VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|PARENT_SETTID|...


def test_open_resolves_against_cwd_and_dirfd(state: State, ev: EventMaker) -> None:
    """openat's fd.name is absolute: relative to the cwd (AT_FDCWD) or to the dirfd's directory."""
    e = state.apply(ev("openat", 100, 3, fd=3, dirfd=-100, name="notes.txt", flags=os.O_RDONLY, mode=0))
    assert e.fd is not None and e.fd.name == "/root/notes.txt" and e.fd.type is FdType.FILE
    assert e.params["name"] == "/root/notes.txt"          # evt.arg.name is resolved, as Falco shows it
    d = state.apply(ev("open", 100, 4, fd=4, name="/etc", flags=O_DIRECTORY))
    assert d.fd is not None and d.fd.type is FdType.DIRECTORY
    e = state.apply(ev("openat", 100, 5, fd=5, dirfd=4, name="ssh/../shadow", flags=os.O_WRONLY, mode=0))
    assert e.fd is not None and e.fd.name == "/etc/shadow"
    assert set(state.thread(100).fds) == {3, 4, 5}          # type: ignore[union-attr]
    assert e.thread is not None and e.thread.comm == "bash"


def test_open_name_is_normal_and_nameraw_keeps_what_the_caller_wrote(state: State, ev: EventMaker) -> None:
    """fd.name collapses `.`, `..` and `//` of an absolute or relative open (libsinsp's concatenate_paths);
    fd.nameraw keeps the name as given, for the fd's later events too; nothing is left in the event's params."""
    e = state.apply(ev("openat", 100, 3, fd=3, dirfd=-100, name="/tmp/a/../../etc//hostname", flags=0, mode=0))
    assert e.fd is not None and (e.fd.name, e.fd.nameraw) == ("/etc/hostname", "/tmp/a/../../etc//hostname")
    assert e.params["name"] == "/etc/hostname" and set(e.params) == {"fd", "dirfd", "name", "flags", "mode"}
    e = state.apply(ev("openat", 100, 4, fd=4, dirfd=-100, name="../etc/shadow", flags=0, mode=0))
    assert e.fd is not None and (e.fd.name, e.fd.nameraw) == ("/etc/shadow", "../etc/shadow")
    e = state.apply(ev("openat", 100, -2, fd=-2, dirfd=-100, name="/x/../missing", flags=0, mode=0))
    assert e.fd is not None and e.fd.num == -1 and (e.fd.name, e.fd.nameraw) == ("/missing", "/x/../missing")
    e = state.apply(ev("open", 100, 5, fd=5, name="/etc/hosts", flags=0))
    assert e.fd is not None and (e.fd.name, e.fd.nameraw) == ("/etc/hosts", "")     # fd.nameraw: same as fd.name
    r = state.apply(ev("read", 100, 1, fd=3, size=1, data=b""))
    assert r.fd is not None and r.fd.nameraw == "/tmp/a/../../etc//hostname"


def test_failed_open_has_fd_minus_one_and_name(state: State, ev: EventMaker) -> None:
    """A failed open is not stored but its event carries fd.num -1 and the path it tried."""
    e = state.apply(ev("openat", 100, -errno.ENOENT, fd=-errno.ENOENT, dirfd=-100, name="/nope", flags=0, mode=0))
    assert e.fd is not None and (e.fd.num, e.fd.name) == (-1, "/nope")
    assert -errno.ENOENT not in state.thread(100).fds       # type: ignore[union-attr]


def test_close_removes_and_reports_the_fd(state: State, ev: EventMaker) -> None:
    """close attaches the fd it closed; a failed close keeps it."""
    state.apply(ev("open", 100, 3, fd=3, name="/etc/passwd", flags=0))
    bad = state.apply(ev("close", 100, -errno.EINTR, fd=3))
    assert bad.fd is not None and 3 in state.thread(100).fds  # type: ignore[union-attr]
    e = state.apply(ev("close", 100, 0, fd=3))
    assert e.fd is not None and e.fd.name == "/etc/passwd"
    assert 3 not in state.thread(100).fds                    # type: ignore[union-attr]


def test_dup_family(state: State, ev: EventMaker) -> None:
    """dup2 copies the old fd to the new number and attaches the old fd; dup3 O_CLOEXEC marks the copy."""
    state.apply(ev("socket", 100, 3, domain=2, type=1, proto=0))
    state.apply(ev("connect", 100, 0, fd=3, tuple=SockTuple("AF_INET", "10.0.0.2", 5555, "6.6.6.6", 4444)))
    e = state.apply(ev("dup2", 100, 1, oldfd=3, newfd=1))
    assert e.fd is not None and e.fd.type is FdType.IPV4          # the rule "redirect stdout to network" needs this
    fds = state.thread(100).fds                                    # type: ignore[union-attr]
    assert fds[1].name == "10.0.0.2:5555->6.6.6.6:4444" and fds[1].num == 1
    state.apply(ev("dup3", 100, 7, oldfd=3, newfd=7, flags=O_CLOEXEC))
    assert fds[7].flags & O_CLOEXEC and not fds[1].flags & O_CLOEXEC
    state.apply(ev("fcntl", 100, 9, fd=3, cmd=1030, arg=0))
    assert fds[9].flags & O_CLOEXEC


def test_dup_of_an_fd_state_never_saw_forgets_the_new_number(state: State, ev: EventMaker) -> None:
    """dup2 onto an open fd replaces it: when state does not know the old fd (opened before it started, or an
    open the kernel prefilter dropped), the new number is no longer what state had there."""
    state.apply(ev("socket", 100, 3, domain=2, type=1, proto=0))
    state.apply(ev("dup2", 100, 1, oldfd=3, newfd=1))
    fds = state.thread(100).fds                                    # type: ignore[union-attr]
    assert fds[1].type is FdType.IPV4
    e = state.apply(ev("dup2", 100, 1, oldfd=8, newfd=1))          # 8: a file state never saw
    assert e.fd is None and 1 not in fds and 3 in fds
    state.apply(ev("dup2", 100, -errno.EBADF, oldfd=9, newfd=3))   # a failed dup2 replaces nothing
    assert 3 in fds


def test_a_socket_call_on_a_non_socket_names_nothing(state: State, ev: EventMaker) -> None:
    """connect/bind/sendto failing with ENOTSOCK leave a file's entry as it was and make none up."""
    state.apply(ev("openat", 100, 3, fd=3, dirfd=-100, name="/tmp/f", flags=O_CLOEXEC, mode=0))
    fds = state.thread(100).fds                                    # type: ignore[union-attr]
    for call in ("connect", "bind", "sendto"):
        for fd in (3, 9):
            e = state.apply(ev(call, 100, -errno.ENOTSOCK, fd=fd, addr=SockAddr("AF_INET", "1.2.3.4", 80),
                               tuple=SockTuple("AF_INET", "10.0.0.1", 5, "1.2.3.4", 80)))
            assert e.fd is fds.get(fd)
    assert fds[3].type is FdType.FILE and fds[3].name == "/tmp/f" and 9 not in fds


def test_sockets_connect_accept_bind(state: State, ev: EventMaker) -> None:
    """socket+connect names the fd client->server; accept names it client->this server; bind by local addr."""
    state.apply(ev("socket", 100, 3, domain=10, type=1, proto=0))
    c = state.apply(ev("connect", 100, -errno.EINPROGRESS, fd=3, addr=SockAddr("AF_INET6", "::1", 80),
                       tuple=SockTuple("AF_INET6", "::1", 40000, "::1", 80)))
    assert c.fd is not None and (c.fd.type, c.fd.name, c.fd.connected) == (FdType.IPV6, "::1:40000->::1:80", True)
    state.apply(ev("socket", 100, 4, domain=2, type=1 | 0o4000, proto=0))
    b = state.apply(ev("bind", 100, 0, fd=4, addr=SockAddr("AF_INET", "0.0.0.0", 8080)))
    assert b.fd is not None and b.fd.name == "0.0.0.0:8080" and b.fd.is_server and b.fd.servsock
    lst = state.apply(ev("listen", 100, 0, fd=4, backlog=5))
    assert lst.fd is b.fd
    a = state.apply(ev("accept4", 100, 5, fd=5, tuple=SockTuple("AF_INET", "9.9.9.9", 1234, "10.0.0.2", 8080)))
    assert a.fd is not None and a.fd.name == "9.9.9.9:1234->10.0.0.2:8080" and a.fd.is_server and a.fd.l4proto == "tcp"
    u = state.apply(ev("socket", 100, 6, domain=1, type=1, proto=0))
    state.apply(ev("connect", 100, 0, fd=6, tuple=SockTuple("AF_UNIX", "", 0, "/run/docker.sock", 0)))
    assert u.fd is not None and u.fd.name == "/run/docker.sock" and u.fd.type is FdType.UNIX


def test_connect_on_unknown_fd_creates_socket(state: State, ev: EventMaker) -> None:
    """A connect on an fd opened before capture still yields a named socket."""
    e = state.apply(ev("connect", 100, 0, fd=9, tuple=SockTuple("AF_INET", "1.2.3.4", 1, "5.6.7.8", 2)))
    assert e.fd is not None and e.fd.type is FdType.IPV4 and e.fd.name == "1.2.3.4:1->5.6.7.8:2"


def test_pipes_and_other_fd_kinds(state: State, ev: EventMaker) -> None:
    """pipe2 adds two pipe fds; eventfd/memfd/epoll fds get their kinds; bpf only for fd-returning commands."""
    p = state.apply(ev("pipe2", 100, 0, fd1=3, fd2=4, ino=777, flags=O_CLOEXEC))
    fds = state.thread(100).fds                                    # type: ignore[union-attr]
    assert fds[3].type is FdType.PIPE and (fds[4].name, fds[4].ino) == ("", 777) and p.fd is fds[4]
    state.apply(ev("memfd_create", 100, 5, fd=5, name="payload", flags=0))
    state.apply(ev("eventfd2", 100, 6, flags=0))
    state.apply(ev("epoll_create1", 100, 7, flags=0))
    state.apply(ev("bpf", 100, 0, fd=0, cmd=1))             # MAP_LOOKUP_ELEM returns 0, not an fd
    state.apply(ev("bpf", 100, 8, fd=8, cmd=5))             # PROG_LOAD
    assert (fds[5].type, fds[5].name) == (FdType.MEMFD, "memfd:payload")
    assert fds[6].type is FdType.EVENT and fds[7].type is FdType.EVENTPOLL and fds[8].type is FdType.BPF
    assert 0 not in fds


def test_fork_child_inherits_copy_of_fds_cwd_uids(state: State, ev: EventMaker) -> None:
    """A fork creates the child (from the parent's exit) with a copy of the fds, the cwd and the ids."""
    state.apply(ev("open", 100, 3, fd=3, name="/etc/passwd", flags=0))
    e = state.apply(ev("clone", 100, 200, flags=CLONE_CHILD, comm="bash", exe="-bash", args=[], tid=100, pid=100,
                       ptid=50, cwd="/root", uid=1000, gid=1000))
    assert e.thread is not None and e.thread.tid == 100
    child = state.thread(200)
    assert child is not None and (child.pid, child.ptid, child.cwd, child.uid) == (200, 100, "/root", 1000)
    assert child.parent is state.thread(100) and child.fds[3].name == "/etc/passwd"
    assert child.fds is not state.thread(100).fds             # type: ignore[union-attr]
    state.apply(ev("close", 200, 0, fd=3))
    assert 3 in state.thread(100).fds                          # type: ignore[union-attr]
    # The child's own clone exit (res 0) arriving afterwards does not replace it.
    again = state.apply(ev("clone", 200, 0, flags=CLONE_CHILD, tid=200, pid=200, ptid=100, comm="bash"))
    assert again.thread is child


def test_child_side_clone_first_creates_child(state: State, ev: EventMaker) -> None:
    """When the child's clone exit comes first, it creates the child from the parent found by ptid."""
    state.apply(ev("open", 100, 3, fd=3, name="/tmp/x", flags=0))
    e = state.apply(ev("clone", 300, 0, flags=CLONE_CHILD, tid=300, pid=300, ptid=100, comm="bash", exe="bash",
                       args=["-c", "id"], cwd="/root", uid=1000, gid=1000))
    assert e.thread is not None and e.thread.tid == 300 and e.thread.parent is state.thread(100)
    assert e.thread.fds[3].name == "/tmp/x" and e.thread.args == ["-c", "id"]
    state.apply(ev("clone", 100, 300, flags=CLONE_CHILD, tid=100, pid=100, ptid=50, comm="bash"))
    assert state.thread(300) is e.thread


def test_threads_share_fds_and_cwd(state: State, ev: EventMaker) -> None:
    """A thread (CLONE_THREAD|CLONE_FILES) shares the fd table; chdir in one thread moves the process."""
    state.apply(ev("clone", 100, 101, flags=CLONE_THREAD_FLAGS, comm="bash", tid=100, pid=100, ptid=50))
    t = state.thread(101)
    assert t is not None and t.pid == 100 and t.ptid == 50 and t.fds is state.thread(100).fds  # type: ignore[union-attr]
    state.apply(ev("open", 101, 3, fd=3, name="shared.txt", flags=0))
    assert state.thread(100).fds[3].name == "/root/shared.txt"  # type: ignore[union-attr]
    state.apply(ev("chdir", 101, 0, path="/tmp"))
    assert state.thread(100).cwd == "/tmp" and t.cwd == "/tmp"  # type: ignore[union-attr]


def test_execve_replaces_image_and_closes_cloexec(state: State, ev: EventMaker) -> None:
    """A successful execve replaces comm/exe/exepath/args/env and drops O_CLOEXEC fds; a failed one does nothing."""
    state.apply(ev("open", 100, 3, fd=3, name="/etc/passwd", flags=O_CLOEXEC))
    state.apply(ev("open", 100, 4, fd=4, name="/etc/group", flags=0))
    state.apply(ev("execve", 100, -errno.ENOENT, exe="nope", args=[], comm="nope"))
    assert state.thread(100).comm == "bash"                        # type: ignore[union-attr]
    e = state.apply(ev("execve", 100, 0, exe="curl", args=["-s", "http://x"], comm="curl", cwd="/root",
                       env=b"A=1\0B=2\0", filename="/usr/bin/curl", trusted_exepath="/usr/bin/curl",
                       tid=100, pid=100, ptid=50, uid=0, gid=0, loginuid=4294967295, flags=4))
    t = e.thread
    assert t is not None and (t.comm, t.exe, t.exepath, t.args) == ("curl", "curl", "/usr/bin/curl", ["-s", "http://x"])
    assert t.env == ["A=1", "B=2"] and t.uid == 0 and t.loginuid == -1 and t.exe_from_memfd
    assert t.cmdline == "curl -s http://x"
    assert set(t.fds) == {4}
    assert [a.comm for a in ancestors(t)] == ["sshd", "systemd"]


def test_execve_kills_other_threads(state: State, ev: EventMaker) -> None:
    """After execve only the exec'ing thread of the process remains."""
    state.apply(ev("clone", 100, 101, flags=CLONE_THREAD_FLAGS, tid=100, pid=100, ptid=50))
    state.apply(ev("execve", 100, 0, exe="ls", args=[], comm="ls"))
    assert state.thread(101) is None or state.thread(101).exited  # type: ignore[union-attr]


def test_procexit_removes_but_children_keep_parent(state: State, ev: EventMaker) -> None:
    """procexit takes the thread out of the live table; its child still names it as parent."""
    state.apply(ev("clone", 100, 400, flags=CLONE_CHILD, tid=100, pid=100, ptid=50, comm="bash"))
    e = state.apply(ev("procexit", 100, evdir=">", status=0, ret=0, sig=0, core=0, reaper_tid=1))
    assert e.thread is not None and e.thread.comm == "bash" and e.thread.exited
    assert 100 not in state.threads
    child = state.thread(400)
    assert child is not None and child.parent is e.thread and child.parent.comm == "bash"


def test_setuid_family(state: State, ev: EventMaker) -> None:
    """setuid/setresuid/setregid change the effective ids on success only; -1 means unchanged."""
    state.apply(ev("setuid", 100, -errno.EPERM, uid=0))
    assert state.thread(100).uid == 1000                           # type: ignore[union-attr]
    state.apply(ev("setresuid", 100, 0, ruid=-1, euid=0, suid=-1))
    state.apply(ev("setregid", 100, 0, rgid=-1, egid=27))
    t = state.thread(100)
    assert t is not None and (t.uid, t.euid, t.gid, t.egid) == (0, 0, 27, 27)
    state.apply(ev("setresgid", 100, 0, rgid=-1, egid=4294967295, sgid=-1))
    assert t.gid == 27


def test_setsid_leads_a_new_session_and_process_group(state: State, ev: EventMaker) -> None:
    """setsid makes the caller lead a new session and a new process group (as the kernel does); a failed one
    changes nothing."""
    t = state.thread(100)
    assert t is not None
    t.sid, t.vpgid = 50, 50
    state.apply(ev("setsid", 100, -errno.EPERM))
    assert (t.sid, t.vpgid) == (50, 50)
    state.apply(ev("setsid", 100, 100))
    assert (t.sid, t.vpgid) == (100, 100)


def test_fchdir_and_relative_chdir(state: State, ev: EventMaker) -> None:
    """chdir with a relative path and fchdir to a directory fd both update cwd."""
    state.apply(ev("chdir", 100, 0, path="../etc"))
    assert state.thread(100).cwd == "/etc"                         # type: ignore[union-attr]
    state.apply(ev("open", 100, 3, fd=3, name="/var/log", flags=O_DIRECTORY))
    state.apply(ev("fchdir", 100, 0, fd=3))
    assert state.thread(100).cwd == "/var/log"                     # type: ignore[union-attr]


def test_unknown_thread_gets_placeholder(ev: EventMaker) -> None:
    """An event from a tid nobody announced gets a minimal thread (no /proc lookup in replay mode)."""
    st = State()
    e = st.apply(ev("openat", 4242, 3, fd=3, dirfd=-100, name="/etc/hosts", flags=0, mode=0))
    assert e.thread is not None and e.thread.tid == 4242 and e.thread.comm == "" and st.stats.placeholders == 1
    assert e.fd is not None and e.fd.name == "/etc/hosts"
    x = st.apply(ev("execve", 4242, 0, exe="sh", args=[], comm="sh", tid=4242, pid=4242, ptid=1))
    assert x.thread is e.thread and x.thread.ptid == 1 and x.thread.comm == "sh"


def test_uses_fd_events_attach_fd(state: State, ev: EventMaker) -> None:
    """Events that use an fd (write, sendto, fchmod, ...) get event.fd from the table."""
    state.apply(ev("open", 100, 3, fd=3, name="/etc/cron.d/x", flags=os.O_WRONLY))
    w = state.apply(ev("write", 100, 5, fd=3, size=5, data=b"hello"))
    assert w.fd is not None and w.fd.name == "/etc/cron.d/x"
    r = state.apply(ev("read", 100, 0, fd=99, size=1))
    assert r.fd is None


def test_legacy_enter_events_fill_missing_exit_params(state: State, ev: EventMaker) -> None:
    """An old capture's open enter event supplies the name its exit lacks."""
    state.apply(ev("open", 100, None, evdir=">", name="relative.conf", flags=0, mode=0))
    e = state.apply(ev("open", 100, 3, fd=3))
    assert e.fd is not None and e.fd.name == "/root/relative.conf"


def test_container_from_clone_cgroups(state: State, ev: EventMaker) -> None:
    """A clone whose cgroups param names a docker cgroup puts the child in that container."""
    cid = "ab" * 32
    state.apply(ev("clone", 500, 0, flags=CLONE_CHILD, tid=500, pid=500, ptid=100, comm="sh",
                   cgroups=["cpuset=/", f"memory=/docker/{cid}"]))
    t = state.thread(500)
    assert t is not None and (t.container_id, t.container_runtime) == (cid[:12], "docker")


def test_required_event_types_cover_state() -> None:
    """The event types state needs include the process lifecycle and fd-creating syscalls."""
    for name in ("clone", "clone3", "fork", "vfork", "execve", "execveat", "procexit", "open", "openat", "openat2",
                 "creat", "close", "dup", "dup2", "dup3", "socket", "connect", "accept", "accept4", "bind",
                 "pipe", "pipe2", "chdir", "fchdir", "setuid", "setresuid", "setgid"):
        assert name in REQUIRED_EVENT_TYPES


def test_memory_stays_bounded_under_churn(ev: EventMaker) -> None:
    """100k short-lived processes leave the tables bounded."""
    st = State(max_threads=1000, max_exited=100)
    st.seed([ThreadInfo(tid=1, pid=1, comm="init", cwd="/")])
    for i in range(2, 20002):
        st.apply(Event(num=i, ts=i, type="clone", tid=1, res=i, params={"flags": CLONE_CHILD}))
        st.apply(Event(num=i, ts=i, type="openat", tid=i, res=3, params={"fd": 3, "dirfd": -100, "name": "x"}))
        if i % 2:
            st.apply(Event(num=i, ts=i, type="procexit", tid=i, dir=">"))
    assert len(st.threads) <= 1000 and st.threads.evicted > 0


def test_udp_sendto_takes_tuple_and_name_changed(state: State, ev: EventMaker) -> None:
    """An unconnected UDP socket takes sendto's tuple (Falco's outbound macro) and flags the name change once."""
    state.apply(ev("socket", 100, 3, domain=2, type=2, proto=0))
    tup = SockTuple("AF_INET", "10.0.0.2", 5353, "8.8.8.8", 53, "udp")
    e = state.apply(ev("sendto", 100, 40, fd=3, size=40, tuple=tup))
    assert e.fd is not None and e.fd.name == "10.0.0.2:5353->8.8.8.8:53" and e.fd.l4proto == "udp"
    assert e.fd.name_changed and not e.fd.connected
    again = state.apply(ev("sendto", 100, 40, fd=3, size=40, tuple=tup))
    assert again.fd is e.fd and not again.fd.name_changed


def test_connect_sets_name_changed_then_write_clears_it(state: State, ev: EventMaker) -> None:
    """fd.name_changed is true on the connect that names the socket and false on its next write."""
    state.apply(ev("socket", 100, 3, domain=2, type=1, proto=0))
    c = state.apply(ev("connect", 100, 0, fd=3, tuple=SockTuple("AF_INET", "10.0.0.2", 1, "1.1.1.1", 80)))
    assert c.fd is not None and c.fd.name_changed
    w = state.apply(ev("write", 100, 1, fd=3, size=1))
    assert w.fd is c.fd and not w.fd.name_changed


def test_bound_udp_server_first_datagram_leaves_it_unconnected(state: State, ev: EventMaker) -> None:
    """libsinsp marks a read socket connected before the tuple is applied, and only a plain IP socket: a bound UDP
    server's first datagram names it (name_changed) but leaves it unconnected, so the ``inbound`` macro's UDP
    branch holds once; the next datagram connects it."""
    state.apply(ev("socket", 100, 3, domain=2, type=2, proto=0))
    state.apply(ev("bind", 100, 0, fd=3, addr=SockAddr("AF_INET", "10.1.2.3", 5353)))
    tup = SockTuple("AF_INET", "10.9.9.9", 40000, "10.1.2.3", 5353, "udp")
    inbound = ("evt.type=recvfrom and fd.l4proto != tcp and fd.connected=false and fd.name_changed=true and "
               "fd.typechar=4 and fd.ip != 0.0.0.0 and fd.net != 127.0.0.0/8 and evt.rawres >= 0")
    first = state.apply(ev("recvfrom", 100, 2, fd=3, size=10, tuple=tup))
    assert first.fd is not None and not first.fd.servsock and first.fd.name == "10.9.9.9:40000->10.1.2.3:5353"
    assert _holds(inbound, first)
    second = state.apply(ev("recvfrom", 100, 2, fd=3, size=10, tuple=tup))
    assert second.fd is first.fd and second.fd.connected and not _holds(inbound, second)
    # a plain (unbound) socket is connected by its first successful read, as in libsinsp
    state.apply(ev("socket", 100, 4, domain=2, type=2, proto=0))
    plain = state.apply(ev("recvfrom", 100, 2, fd=4, size=10, tuple=tup))
    assert plain.fd is not None and plain.fd.connected


def test_useradded_events_feed_the_user_table(ev: EventMaker) -> None:
    """Capture metadata events (useradded/groupadded/userdeleted) maintain the recording's own accounts."""
    st = State()
    st.users.host = False
    st.apply(ev("useradded", -1, evdir=">", uid=1000, gid=1000, name="mstemm", home="/home/mstemm",
                shell="/bin/bash", container_id=""))
    st.apply(ev("groupadded", -1, evdir=">", gid=1000, name="mstemm", container_id=""))
    assert st.users.user(1000) == UserInfo(1000, "mstemm", "/home/mstemm", "/bin/bash", 1000)
    assert st.users.group_name(1000) == "mstemm"
    st.apply(ev("userdeleted", -1, evdir=">", uid=1000, gid=1000, name="mstemm", home="", shell="", container_id=""))
    assert st.users.user(1000) is None
    assert len(st.threads) == 0                                    # tid -1 gets no thread


def test_unknown_tid_placeholder_has_unknown_parent(ev: EventMaker) -> None:
    """A placeholder thread has ptid -1 (libsinsp's invalid thread) and no parent."""
    st = State()
    e = st.apply(ev("close", 77, 0, fd=1))
    assert e.thread is not None and e.thread.ptid == -1 and e.thread.parent is None


def _holds(condition: str, event: Event) -> bool:
    from syswarden.rules.compiler import compile_condition
    from syswarden.rules.filter.parser import parse

    return compile_condition(parse(condition)).predicate(event)


def test_bind_makes_a_server_socket_as_libsinsp(state: State, ev: EventMaker) -> None:
    """bind to a port > 0 makes an IP server socket (parse_bind_exit): fd.sip/sport/snet and fd.ip/port/net compare
    its address, the client/local/remote fields are <NA>; port 0 only names it; connect makes a connection socket."""
    state.apply(ev("socket", 100, 4, domain=2, type=1, proto=0))
    b = state.apply(ev("bind", 100, 0, fd=4, addr=SockAddr("AF_INET", "10.1.2.3", 8080)))
    assert b.fd is not None and b.fd.servsock and b.fd.name == "10.1.2.3:8080"
    for cond in ("fd.sip=10.1.2.3", "fd.sport=8080", "fd.ip=10.1.2.3", "fd.port=8080", "fd.net=10.0.0.0/8",
                 "fd.snet=10.1.0.0/16", "fd.typechar=4 and fd.type=ipv4", "fd.is_server=true", "fd.l4proto=tcp",
                 "not fd.cip exists", "not fd.lip exists", "not fd.rport exists", "not fd.ip=127.0.0.1",
                 "not fd.net=127.0.0.0/8", "fd.sockfamily=ip", "fd.connected=false"):
        assert _holds(cond, b), cond
    assert state.apply(ev("listen", 100, 0, fd=4, backlog=5)).fd is b.fd and b.fd.servsock
    state.apply(ev("socket", 100, 5, domain=10, type=2, proto=0))
    e = state.apply(ev("bind", 100, 0, fd=5, addr=SockAddr("AF_INET6", "::ffff:127.0.0.1", 53)))
    assert e.fd is not None and e.fd.type is FdType.IPV4 and _holds("fd.ip=127.0.0.1 and fd.l4proto=udp", e)
    state.apply(ev("socket", 100, 6, domain=2, type=1, proto=0))
    c = state.apply(ev("bind", 100, 0, fd=6, addr=SockAddr("AF_INET", "0.0.0.0", 0)))
    assert c.fd is not None and not c.fd.servsock and c.fd.name == "0.0.0.0:0" and not _holds("fd.sip exists", c)
    c = state.apply(ev("connect", 100, 0, fd=6, tuple=SockTuple("AF_INET", "10.0.0.2", 40000, "10.1.2.3", 8080)))
    assert _holds("fd.cip=10.0.0.2 and fd.sip=10.1.2.3 and fd.cport=40000 and fd.is_server=false", c)
    # a bound UDP server that connects keeps its role and names the tuple client -> server
    u = state.apply(ev("connect", 100, 0, fd=5, tuple=SockTuple("AF_INET", "127.0.0.1", 53, "127.0.0.1", 5353,
                                                                  "udp")))
    assert u.fd is not None and not u.fd.servsock and u.fd.is_server and u.fd.name == "127.0.0.1:5353->127.0.0.1:53"
