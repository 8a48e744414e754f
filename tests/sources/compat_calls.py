"""Shared by the eBPF and ptrace compat tests: build ``tests/data/compat/int80io.c`` (64-bit code issuing i386
syscalls through ``int $0x80``), run it under a source, and check the events against what the program says
the kernel returned."""
from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from syswarden.events.event import Event

DATA = Path(__file__).resolve().parents[1] / "data"


def build(source: str, out_dir: Path, *flags: str) -> Path:
    """gcc ``tests/data/<source>`` into ``out_dir`` (skips the test when gcc is missing)."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed")
    exe = out_dir / Path(source).stem
    subprocess.run([gcc, "-O1", *flags, "-o", str(exe), str(DATA / source)], check=True, capture_output=True)
    return exe


def build_int80io(out_dir: Path) -> Path:
    # -no-pie: the static buffers the kernel reads must sit below 4 GiB for the 32-bit gate
    return build("compat/int80io.c", out_dir, "-no-pie")


@dataclass(frozen=True, slots=True)
class Int80Run:
    """What int80io printed (fds of open, openat, socket; results of connect, sendmsg, execve) and the ports
    of the local TCP listener and UDP socket it talked to."""

    open_fd: int
    openat_fd: int
    socket_fd: int
    connect: int
    sendmsg: int
    execve: int
    tcp_port: int
    udp_port: int


def run_int80io(capture: Callable[[list[str]], list[Event]], exe: Path, target: Path,
                tmp_path: Path) -> tuple[list[Event], Int80Run]:
    """Run int80io on ``target`` (at least 4 bytes long) against a local TCP listener and UDP socket."""
    server = socket.create_server(("127.0.0.1", 0))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(5)
    ports, out = (server.getsockname()[1], udp.getsockname()[1]), tmp_path / "int80io.out"
    try:
        events = capture(["/bin/sh", "-c", f"exec {exe} {target} {ports[0]} {ports[1]} > {out}"])
        # the datagram carries the first 4 bytes of the file the program read
        assert udp.recv(16) == target.read_bytes()[:4]
    finally:
        server.close()
        udp.close()
    values = {k: int(v) for k, v in (item.split("=") for item in out.read_text().split())}
    result = Int80Run(values["open"], values["openat"], values["socket"], values["connect"], values["sendmsg"],
                      values["execve"], *ports)
    return events, result


def check_int80_events(events: list[Event], result: Int80Run, target: Path) -> None:
    """The i386 calls appear under their 64-bit event names with the same params, truncated to 32 bits."""
    assert result.open_fd >= 0 and result.openat_fd >= 0 and result.socket_fd >= 0 and result.connect == 0
    assert result.sendmsg == 4 and result.execve == -2
    opens = [e for e in events if e.type == "open" and e.params["name"] == str(target)]
    assert len(opens) == 1, [(e.type, e.params) for e in events]
    assert opens[0].params["fd"] == opens[0].res == result.open_fd and opens[0].params["flags"] == 0
    assert opens[0].params["abi"] == "i386"
    openats = [e for e in events if e.type == "openat" and e.params["name"] == str(target)]
    assert len(openats) == 1
    # the junk above bit 31 of the dirfd register is ignored by the kernel: -100 (AT_FDCWD), not a huge number
    assert openats[0].params["dirfd"] == -100 and openats[0].params["fd"] == result.openat_fd
    socks = [e for e in events if e.type == "socket" and e.res == result.socket_fd]
    assert socks and socks[0].params["abi"] == "i386"
    assert (socks[0].params["domain"], socks[0].params["type"]) == (socket.AF_INET, socket.SOCK_STREAM)
    conns = [e for e in events if e.type == "connect"]
    assert len(conns) == 1 and conns[0].res == 0 and conns[0].params["fd"] == result.socket_fd
    addr = conns[0].params["addr"]
    assert (addr.family, addr.addr, addr.port) == ("AF_INET", "127.0.0.1", result.tcp_port)
    tup = conns[0].params["tuple"]
    assert (tup.dip, tup.dport, tup.l4proto) == ("127.0.0.1", result.tcp_port, "tcp")
    # sendmsg's peer comes from a 32-bit struct compat_msghdr
    sends = [e for e in events if e.type == "sendmsg"]
    assert len(sends) == 1 and sends[0].res == 4 and sends[0].params["abi"] == "i386"
    assert (sends[0].params["tuple"].dip, sends[0].params["tuple"].dport) == ("127.0.0.1", result.udp_port)
    # a failed execve's argv is an array of 32-bit pointers
    execs = [e for e in events if e.type == "execve" and e.res == -2]
    assert len(execs) == 1 and execs[0].params["abi"] == "i386"
    assert (execs[0].params["filename"], execs[0].params["exe"], execs[0].params["args"]) == (
        "/nonexistent/int80io", "/nonexistent/int80io", ["x"])
    # native calls of the same process keep no marker
    assert all("abi" not in e.params for e in events if e.type == "execve" and e.res == 0)


def check_i386_setuid(capture: Callable[[list[str]], list[Event]], tmp_path: Path) -> None:
    """i386 setuid32 (213) is the event `setuid`; i386 setuid (23) takes a 16-bit id the kernel widens
    (0x10000 is uid 0, 0xffff is -1, refused with EINVAL)."""
    rawsys = build("bypass/rawsys.c", tmp_path)
    events = capture(["/bin/sh", "-c", f"{rawsys} int80 213 0; {rawsys} int80 23 0x10000; {rawsys} int80 23 0xffff"])
    got = [(e.type, e.params["uid"], e.res) for e in events if e.params.get("abi") == "i386"]
    assert got == [("setuid", 0, 0), ("setuid", 0, 0), ("setuid", 0xFFFFFFFF, -22)]


def check_32bit_binary(capture: Callable[[list[str]], list[Event]], tmp_path: Path) -> None:
    """A real i386 executable (exec'ed by 64-bit sh) opens a file: an `open` marked i386, its fd the exit code."""
    target = tmp_path / "target32.txt"
    target.write_text("x")
    try:
        exe = build("compat/open32.c", tmp_path, "-m32", "-nostdlib", "-static", f'-DTARGET="{target}"')
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"gcc cannot build i386 code here: {exc.stderr!r}")
    status = tmp_path / "status"
    events = capture(["/bin/sh", "-c", f"{exe}; echo $? > {status}"])
    opens = [e for e in events if e.type == "open" and e.params["name"] == str(target)]
    assert [(e.res, e.params["abi"]) for e in opens] == [(int(status.read_text()), "i386")]
    assert opens[0].res >= 0
    # the exec of the 32-bit image was made by 64-bit sh: the execve event keeps no marker
    assert [e.params.get("abi") for e in events if e.type == "execve" and e.params["exe"] == str(exe)] == [None]


def check_compat_filter(capture_types: Callable[[list[str], set[str]], list[Event]], tmp_path: Path) -> None:
    """Compat calls obey the captured set like native ones: an i386 prctl(PR_GET_DUMPABLE) is an event when
    `prctl` is wanted and absent when it is not."""
    rawsys = build("bypass/rawsys.c", tmp_path)
    cmd = ["/bin/sh", "-c", f"exec {rawsys} int80 172 3"]
    wanted = [(e.type, e.params["option"], e.res) for e in capture_types(cmd, {"prctl"}) if "abi" in e.params]
    assert wanted == [("prctl", 3, 1)]
    assert not [e for e in capture_types(cmd, {"connect"}) if e.type == "prctl"]


def check_i386_fork(capture: Callable[[list[str]], list[Event]], tmp_path: Path) -> None:
    """An i386 fork (2) is a `fork` on both sides, parent (res = child pid) and child (res 0), marked i386."""
    rawsys = build("bypass/rawsys.c", tmp_path)
    events = capture(["/bin/sh", "-c", f"exec {rawsys} int80 2 >/dev/null"])
    forks = sorted((e.res, e.tid) for e in events if e.type == "fork" and e.params.get("abi") == "i386")
    assert len(forks) == 2 and forks[0][0] == 0 and forks[1][0] == forks[0][1]


class CompatSuite:
    """The compat tests every live source passes; a source's test module subclasses it and sets ``source``."""

    source = ""

    def capture(self, cmd: list[str], types: set[str] | None = None) -> list[Event]:
        from syswarden.sources.base import SourceConfig, open_source

        src = open_source(self.source, SourceConfig(command=cmd, event_types=frozenset(types) if types else None))
        try:
            return list(src.events())
        finally:
            src.close()

    def test_int80_open_openat_and_socketcall_connect(self, tmp_path: Path) -> None:
        """open/openat through int 0x80 (junk in the upper register halves), socketcall SOCKET/CONNECT/SENDMSG,
        a failed execve."""
        target = tmp_path / "secret.txt"
        target.write_text("secret\n")
        events, result = run_int80io(self.capture, build_int80io(tmp_path), target, tmp_path)
        check_int80_events(events, result, target)

    def test_x32_numbers_get_x86_64_names(self, tmp_path: Path) -> None:
        """An x32 open (nr 2 | 0x40000000; this kernel has no x32 ABI, so ENOSYS) is an `open` marked x32."""
        rawsys = build("bypass/rawsys.c", tmp_path)
        events = self.capture(["/bin/sh", "-c", f"exec {rawsys} x32 2 0"])
        x32 = [e for e in events if e.params.get("abi") == "x32"]
        assert [(e.type, e.res) for e in x32] == [("open", -38)]

    def test_i386_id_calls_take_64bit_names_and_16bit_ids(self, tmp_path: Path) -> None:
        """setuid32 is reported as setuid; the old 16-bit setuid's id is widened as the kernel widens it."""
        check_i386_setuid(self.capture, tmp_path)

    def test_32bit_executable(self, tmp_path: Path) -> None:
        """A real i386 executable's open is seen with its fd."""
        check_32bit_binary(self.capture, tmp_path)

    def test_compat_calls_are_filtered_like_native_ones(self, tmp_path: Path) -> None:
        """Only wanted compat calls are captured (by their i386 numbers)."""
        check_compat_filter(self.capture, tmp_path)

    def test_i386_fork_on_both_sides(self, tmp_path: Path) -> None:
        """An i386 fork is reported for the parent and the child, both marked."""
        check_i386_fork(self.capture, tmp_path)
