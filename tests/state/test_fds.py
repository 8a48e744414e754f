"""Tests for fd naming and path resolution (syswarden.state.fds)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from syswarden.events.event import FdInfo, FdType, SockTuple
from syswarden.state import fds as F


@pytest.mark.parametrize(("base", "name", "expected"), [
    ("/root", "x", "/root/x"),
    ("/root", "../etc/./passwd", "/etc/passwd"),
    ("/", "../../x", "/x"),
    ("/a//b/", "c//d/", "/a/b/c/d"),
    ("/root", "/abs/../p", "/p"),
    ("", "rel", "rel"),
])
def test_join_path(base: str, name: str, expected: str) -> None:
    """Relative paths join the base and normalise like the kernel's lookup of . and .."""
    assert F.join_path(base, name) == expected


def test_join_path_agrees_with_the_kernel(tmp_path: Path) -> None:
    """Normalised paths name the same file the kernel opens (no symlinks involved)."""
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "f").write_text("x")
    resolved = F.join_path(str(tmp_path / "a" / "b"), "../../f")
    assert os.path.samefile(resolved, tmp_path / "a" / "b" / ".." / ".." / "f")
    assert resolved == str(tmp_path / "f")


def test_resolve_at_dirfd() -> None:
    """A relative name resolves against the dirfd's path, AT_FDCWD against the cwd."""
    fds = {7: FdInfo(num=7, type=FdType.DIRECTORY, name="/etc")}
    assert F.resolve_at(fds, "/root", 7, "ssh/sshd_config") == "/etc/ssh/sshd_config"
    assert F.resolve_at(fds, "/root", F.AT_FDCWD, "x") == "/root/x"
    assert F.resolve_at(fds, "/root", 9, "x") == "x"


def test_socket_kinds_and_tuple_names() -> None:
    """Sockets get their kind and l4proto from domain/type, and Falco's client->server name."""
    tcp = F.socket_fd(3, 2, 1)
    assert (tcp.type, tcp.l4proto, tcp.sockfamily) == (FdType.IPV4, "tcp", "ip")
    assert F.socket_fd(4, "AF_INET6", 2).l4proto == "udp"
    assert F.socket_fd(5, 2, 2, 1).l4proto == "icmp"
    assert F.socket_fd(6, 1, 1).type is FdType.UNIX
    F.apply_tuple(tcp, SockTuple("AF_INET", "10.0.0.1", 40000, "1.1.1.1", 443), server=False, connected=True)
    assert tcp.name == "10.0.0.1:40000->1.1.1.1:443" and tcp.dport == 443 and not tcp.is_server


def test_fd_table_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """add_fd refuses new fds past the per-process cap but still replaces existing numbers."""
    monkeypatch.setattr(F, "MAX_FDS_PER_PROCESS", 2)
    table: dict[int, FdInfo] = {}
    assert F.add_fd(table, FdInfo(num=0, type=FdType.FILE)) and F.add_fd(table, FdInfo(num=1, type=FdType.FILE))
    assert not F.add_fd(table, FdInfo(num=2, type=FdType.FILE))
    assert F.add_fd(table, FdInfo(num=1, type=FdType.PIPE)) and table[1].type is FdType.PIPE
