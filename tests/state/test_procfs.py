"""Tests for seeding state from /proc against a real child process (syswarden.state.procfs)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from syswarden.events.event import Event, FdType
from syswarden.state import State
from syswarden.state.procfs import iter_processes, read_process

CHILD = r"""
import os, socket, sys
os.chdir(sys.argv[1])
f = open("data.txt", "w")
s = socket.create_connection(("127.0.0.1", int(sys.argv[2])))
print(s.getsockname()[1], flush=True)
sys.stdin.read()
"""


@pytest.fixture
def child(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path, int, int, socket.socket]]:
    """A real child in tmp_path holding data.txt open and a TCP connection to a listener of ours."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    lport = listener.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path), str(lport)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        cport = int(proc.stdout.readline())
        conn, _ = listener.accept()
        yield proc, tmp_path, lport, cport, conn
        conn.close()
    finally:
        proc.kill()
        proc.wait()
        listener.close()


def test_read_process_matches_the_real_child(
        child: tuple[subprocess.Popen[str], Path, int, int, socket.socket]) -> None:
    """cmdline, cwd, uid, parent, the open file and the TCP socket are read from /proc as they are."""
    proc, tmp, lport, cport, _ = child
    t = read_process(proc.pid)
    assert t is not None
    assert (t.tid, t.pid, t.ptid) == (proc.pid, proc.pid, os.getpid())
    assert t.exe == sys.executable and t.args[0] == "-c" and t.args[-2:] == [str(tmp), str(lport)]
    assert t.exepath == os.path.realpath(sys.executable) and t.comm == Path(sys.executable).name[:15]
    assert t.cwd == str(tmp) and t.uid == os.geteuid() and t.gid == os.getegid()
    assert t.start_ts > 0 and t.container_id == ""
    files = {fd.name: fd for fd in t.fds.values() if fd.type is FdType.FILE}
    data = files[str(tmp / "data.txt")]
    assert data.flags & os.O_ACCMODE == os.O_WRONLY
    socks = [fd for fd in t.fds.values() if fd.type is FdType.IPV4]
    assert [(s.name, s.is_server, s.l4proto) for s in socks] == [
        (f"127.0.0.1:{cport}->127.0.0.1:{lport}", False, "tcp")]


def test_server_side_socket_is_named_client_to_server(
        child: tuple[subprocess.Popen[str], Path, int, int, socket.socket]) -> None:
    """Our accepted socket and our listener are named as Falco names them."""
    _, _, lport, cport, conn = child
    me = read_process(os.getpid())
    assert me is not None
    accepted = me.fds[conn.fileno()]
    assert (accepted.name, accepted.is_server) == (f"127.0.0.1:{cport}->127.0.0.1:{lport}", True)
    listeners = [fd for fd in me.fds.values() if fd.name == f"127.0.0.1:{lport}"]
    # a server socket with no role yet, as libscap reads it (fd.is_server is true, fd.sip <NA>)
    assert len(listeners) == 1 and listeners[0].servsock
    assert (listeners[0].dip, listeners[0].dport) == ("127.0.0.1", lport)


def test_iter_processes_includes_child_and_threads(
        child: tuple[subprocess.Popen[str], Path, int, int, socket.socket]) -> None:
    """A whole-system scan finds the child and this process, whose threads share one fd dict."""
    proc = child[0]
    seen = {t.tid: t for t in iter_processes(threads=True)}
    assert proc.pid in seen and os.getpid() in seen and 1 in seen
    for t in seen.values():
        if t.pid == os.getpid() and t.tid != t.pid:
            assert t.fds is seen[os.getpid()].fds


def test_live_state_learns_unknown_thread_and_its_parents(
        child: tuple[subprocess.Popen[str], Path, int, int, socket.socket]) -> None:
    """In live mode an event from an unseen tid reads it and its ancestors from /proc."""
    proc, tmp, _, _, _ = child
    st = State(procfs=True)
    e = st.apply(Event(num=1, ts=1, type="openat", tid=proc.pid, res=9,
                       params={"fd": 9, "dirfd": -100, "name": "other.txt", "flags": 0, "mode": 0}))
    assert e.thread is not None and e.thread.cwd == str(tmp)
    assert e.fd is not None and e.fd.name == str(tmp / "other.txt")
    assert e.thread.parent is not None and e.thread.parent.pid == os.getpid()
    assert any(fd.name == str(tmp / "data.txt") for fd in e.thread.fds.values())
    assert st.stats.placeholders == 0


def test_vanished_process_is_none() -> None:
    """Reading a pid that does not exist gives None rather than an error."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    assert read_process(proc.pid) is None


def test_ipv6_udp_and_unix_sockets_of_this_process(tmp_path: Path) -> None:
    """IPv6 TCP, UDP and named unix sockets held by this process are resolved from /proc/net."""
    if not socket.has_ipv6 or not Path("/proc/net/tcp6").exists():
        pytest.skip("no IPv6 in this kernel")
    srv = socket.socket(socket.AF_INET6)
    srv.bind(("::1", 0))
    srv.listen(1)
    cli = socket.create_connection(("::1", srv.getsockname()[1]))
    acc, _ = srv.accept()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(str(tmp_path / "s.sock"))
    try:
        fds = read_process(os.getpid()).fds                         # type: ignore[union-attr]
        lport, cport = srv.getsockname()[1], cli.getsockname()[1]
        want = f"::1:{cport}->::1:{lport}"
        client = fds[cli.fileno()]
        assert (client.type, client.name, client.is_server) == (FdType.IPV6, want, False)
        assert (fds[acc.fileno()].name, fds[acc.fileno()].is_server) == (want, True)
        assert (fds[udp.fileno()].l4proto, fds[udp.fileno()].name) == ("udp", f"127.0.0.1:{udp.getsockname()[1]}")
        assert (fds[unix.fileno()].type, fds[unix.fileno()].name) == (FdType.UNIX, str(tmp_path / "s.sock"))
    finally:
        for s in (srv, cli, acc, udp, unix):
            s.close()
