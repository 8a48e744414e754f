"""ScapWriter: files it writes are read, printed and filtered by sysdig 0.29 as the originals are."""
from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from .scap_oracle import capture_path

from syswarden.events.accounts import GroupInfo, UserInfo
from syswarden.events.event import Event, FdInfo, FdType, SockTuple, ThreadInfo
from syswarden.sources.base import SourceConfig
from syswarden.sources.scap.reader import ScapSource
from syswarden.sources.scap.writer import ScapWriter

FIELDS = "*%evt.rawtime %evt.type %evt.dir %proc.name %fd.name %proc.pname %user.name %proc.cmdline %fd.typechar"


def copy_capture(src_name: str, dest: Path, *, exit_only: bool = False) -> ScapWriter:
    src = ScapSource(SourceConfig(path=str(capture_path(src_name))))
    with ScapWriter(str(dest), legacy_enter=exit_only) as w:
        w.write_threads(src.initial_threads(), users=src.meta.users, groups=src.meta.groups,
                        interfaces=src.meta.interfaces)
        for e in src.events():
            if exit_only and e.dir == ">" and not e.state_only and e.type not in ("switch", "procexit",
                                                                                 "signaldeliver", "container"):
                continue
            w.write_event(e)
    return w


@pytest.mark.parametrize("name", ["falco_cat_write.scap", "falco_connect_localhost.scap",
                                  "libs_test_ipv6_client.scap", "falco_psp_write_tmp_test.scap"])
def test_copy_prints_like_original_in_sysdig(name: str, tmp_path: Path, sysdig) -> None:
    """A capture read and written back prints the same fields in sysdig 0.29 as the original, event by event."""
    out = tmp_path / "copy.scap"
    copy_capture(name, out)
    assert sysdig.lines(out, FIELDS) == sysdig.lines(capture_path(name), FIELDS)


@pytest.mark.parametrize("filt", ["evt.type=open and fd.name startswith /etc",
                                  "proc.name=curl and fd.typechar=6",
                                  "evt.type in (connect, sendto) and fd.l4proto=udp"])
def test_exit_only_events_filter_like_original(filt: str, tmp_path: Path, sysdig) -> None:
    """Exit-only events (as live sources give) written with state-only enter events filter as the original."""
    out = tmp_path / "exit_only.scap.gz"
    copy_capture("libs_curl_google.scap", out, exit_only=True)
    assert gzip.open(out).read(4) == b"\n\r\r\n"
    theirs = sysdig.lines(capture_path("libs_curl_google.scap"), "*%evt.rawtime %fd.name %proc.name",
                          f"({filt}) and evt.dir=<")
    mine = sysdig.lines(out, "*%evt.rawtime %fd.name %proc.name", filt)
    assert mine == theirs and len(mine) > 0


def test_hand_built_events_in_sysdig(tmp_path: Path, sysdig) -> None:
    """Events built in Python (Linux flag values, socket tuples, a seeded thread) print as sysdig renders them."""
    out = tmp_path / "built.scap"
    shell = ThreadInfo(tid=4000, pid=4000, ptid=1, comm="sh", exe="sh", exepath="/bin/sh", cwd="/", uid=0, gid=0)
    app = ThreadInfo(tid=4242, pid=4242, ptid=4000, comm="app", exe="./app", exepath="/opt/app", args=["-v", "x y"],
                     cwd="/srv", uid=0, gid=0, loginuid=1000)
    app.fds[5] = FdInfo(5, FdType.FILE, "/etc/hosts", flags=0o2000000)
    events = [
        Event(1, 1_700_000_000_000_000_000, "openat", 4242, {"fd": 3, "dirfd": -100, "name": "/tmp/out",
              "flags": 0o1 | 0o100 | 0o1000, "mode": 0o644, "dev": 0}, res=3),
        Event(2, 1_700_000_000_000_000_100, "connect", 4242, {"res": 0, "tuple": SockTuple(
            "AF_INET", "10.0.0.1", 40000, "10.0.0.2", 443), "fd": 7}, res=0),
        Event(3, 1_700_000_000_000_000_200, "read", 4242, {"res": 12, "data": b"hello world\n", "fd": 5}, res=12),
    ]
    with ScapWriter(str(out)) as w:
        w.write_threads([shell, app])
        for e in events:
            w.write_event(e)
    lines = sysdig.lines(out, "*%evt.type %proc.name %proc.pname %proc.cmdline %proc.cwd %fd.name %evt.arg.flags "
                              "%user.loginuid", "evt.dir=<")
    assert lines == [
        "openat app sh app -v x y /srv/ /tmp/out O_TRUNC|O_CREAT|O_WRONLY 1000",
        "connect app sh app -v x y /srv/ 10.0.0.1:40000->10.0.0.2:443 <NA> 1000",
        "read app sh app -v x y /srv/ /etc/hosts <NA> 1000",
    ]


def test_reader_reads_what_writer_wrote(tmp_path: Path) -> None:
    """Our own reader gets the same events, parameters and thread table back from a written copy."""
    out = tmp_path / "copy.scap"
    copy_capture("libs_test_ipv6_client.scap", out)
    orig = ScapSource(SourceConfig(path=str(capture_path("libs_test_ipv6_client.scap"))))
    copy = ScapSource(SourceConfig(path=str(out)))
    assert {t.tid: (t.comm, t.args, t.cwd) for t in orig.initial_threads()} == \
        {t.tid: (t.comm, t.args, t.cwd) for t in copy.initial_threads()}
    a = [(e.num, e.ts, e.type, e.dir, e.tid, e.params) for e in orig.events() if e.num]
    b = [(e.num, e.ts, e.type, e.dir, e.tid, {k: v for k, v in e.params.items() if k in a[i][5]})
         for i, e in enumerate(e for e in copy.events() if e.num)]
    assert [x[:5] for x in a] == [x[:5] for x in b]
    assert [x[5] for x in a] == [x[5] for x in b]


def test_overlong_table_strings_keep_the_file_readable(tmp_path: Path, sysdig) -> None:
    """A process with a 5000-byte argv[0], long args, env, cwd, fd and user names must not make sysdig refuse the
    whole file (libscap rejects table strings longer than its buffers: "invalid exelen")."""
    out = tmp_path / "long.scap"
    long = ThreadInfo(tid=5000, pid=5000, ptid=1, comm="longproc", exe="x" * 5000, exepath="/" + "p" * 3000,
                      args=["a" * 3000, "b" * 3000], cwd="/" + "c" * 2000, env=["E=" + "e" * 9000], uid=4321,
                      gid=4321)
    long.fds[3] = FdInfo(3, FdType.FILE, "/" + "f" * 2000)
    with ScapWriter(str(out)) as w:
        w.write_threads([long], users={4321: UserInfo(4321, "u" * 300, "/" + "h" * 2000, "/bin/sh", 4321)},
                        groups={4321: GroupInfo(4321, "g" * 300)})
        w.write_event(Event(1, 1_700_000_000_000_000_000, "read", 5000, {"res": 1, "data": b"x", "fd": 3}, res=1))
    lines = sysdig.lines(out, "*%evt.type %proc.name %proc.exe %user.name %user.homedir", "evt.dir=<")
    assert lines == [f"read longproc {'x' * 1023} {'u' * 255} /{'h' * 254}"]


def test_accounts_round_trip(tmp_path: Path) -> None:
    """The user list keeps each account whole (name, home, shell, primary group) from writer to reader."""
    out = tmp_path / "accounts.scap"
    users = {0: UserInfo(0, "root", "/root", "/bin/bash", 0), 1000: UserInfo(1000, "ana", "/home/ana", "/bin/zsh", 100)}
    groups = {0: GroupInfo(0, "root"), 100: GroupInfo(100, "users")}
    with ScapWriter(str(out)) as w:
        w.write_threads([ThreadInfo(tid=7, pid=7, comm="sh", uid=1000, gid=100)], users=users, groups=groups)
    src = ScapSource(SourceConfig(path=str(out)))
    assert (src.meta.users, src.meta.groups) == (users, groups)
