"""syscall_decode: the per-syscall parameter lists follow Falco's event table, and sockaddrs the kernel wrote
decode to what Python's socket module reports."""
from __future__ import annotations

import ctypes
import socket
import struct
from pathlib import Path

import pytest

from syswarden.events.types import event_spec
from syswarden.sources.syscall_decode import (SPECS, ArgKind, RawCall, build_params, parse_endpoints,
                                              parse_sockaddr, syscall_names_for)

_libc = ctypes.CDLL(None, use_errno=True)


def kernel_sockaddr(sock: socket.socket) -> bytes:
    """The raw ``struct sockaddr`` the kernel writes for getsockname(2)."""
    buf, size = ctypes.create_string_buffer(128), ctypes.c_uint32(128)
    assert _libc.getsockname(sock.fileno(), buf, ctypes.byref(size)) == 0
    return buf.raw[:size.value]


@pytest.mark.parametrize("name", sorted(n for n in SPECS if n not in ("execve", "execveat")))
def test_parameters_are_the_event_tables(name: str) -> None:
    """Each decoded syscall emits exactly the exit-event parameters of Falco's table, in its order."""
    spec = event_spec(name, "<")
    assert spec is not None
    assert [p for p, _ in SPECS[name].params] == [p.name for p in spec.params]


def test_exec_parameters_are_a_subset_of_the_table() -> None:
    """The failed-exec parameter lists only use names the event table has."""
    for name in ("execve", "execveat"):
        spec = event_spec(name, "<")
        assert spec is not None
        assert {p for p, _ in SPECS[name].params} <= {p.name for p in spec.params}


@pytest.mark.parametrize("family,bind", [(socket.AF_INET, ("127.0.0.1", 0)), (socket.AF_INET6, ("::1", 0))])
def test_inet_sockaddr_matches_getsockname(family: socket.AddressFamily, bind: tuple[str, int]) -> None:
    """AF_INET/AF_INET6 sockaddrs written by the kernel decode to the address and port Python reports."""
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind(bind)
        addr = parse_sockaddr(kernel_sockaddr(s))
        assert addr is not None
        assert (addr.family, addr.addr, addr.port) == (family.name, s.getsockname()[0], s.getsockname()[1])


def test_unix_sockaddr_path_and_abstract(tmp_path: Path) -> None:
    """Unix sockaddrs decode to the path, and abstract names get Falco's leading '@'."""
    with socket.socket(socket.AF_UNIX) as s, socket.socket(socket.AF_UNIX) as a:
        s.bind(str(tmp_path / "sock"))
        a.bind("\0syswarden-abstract")
        assert parse_sockaddr(kernel_sockaddr(s)) is not None
        assert parse_sockaddr(kernel_sockaddr(s)).addr == str(tmp_path / "sock")  # type: ignore[union-attr]
        assert parse_sockaddr(kernel_sockaddr(a)).addr == "@syswarden-abstract"  # type: ignore[union-attr]


def test_connect_params_from_raw_registers() -> None:
    """connect's fd is the low 32 bits as a signed int; the tuple falls back to the sockaddr's peer."""
    raw = struct.pack("<H", socket.AF_INET) + struct.pack(">H", 443) + socket.inet_aton("10.1.2.3") + bytes(8)
    params = build_params(RawCall("connect", 7, 7, -115, (0xFFFFFFFF00000005, 0, 16, 0, 0, 0), {1: raw}))
    assert params["fd"] == 5 and params["res"] == -115
    assert (params["tuple"].dip, params["tuple"].dport) == ("10.1.2.3", 443)
    assert (params["addr"].addr, params["addr"].port) == ("10.1.2.3", 443)


def test_endpoints_blob_layout() -> None:
    """The probe's sock_endpoints blob (family, type, ports, addresses) decodes both ends."""
    blob = struct.pack("<HHHH16s16s", socket.AF_INET, socket.SOCK_DGRAM, 5353, 53,
                       socket.inet_aton("192.0.2.1"), socket.inet_aton("192.0.2.53"))
    ep = parse_endpoints(blob)
    assert ep is not None and (ep.l4proto, ep.laddr, ep.lport, ep.raddr, ep.rport) == (
        "udp", "192.0.2.1", 5353, "192.0.2.53", 53)


def test_spec_words_and_selection() -> None:
    """The probe's spec word packs 4 bits per argument; selection keeps only decodable names."""
    assert SPECS["renameat2"].word & 0xFFFFFF == (int(ArgKind.STR) << 4) | (int(ArgKind.STR) << 12)
    assert SPECS["accept4"].word >> 30 == 0b11
    assert syscall_names_for(frozenset({"openat", "procexit", "nonsense"})) == ["openat"]


def test_io_length_follows_falco() -> None:
    """A read gives what it read (nothing on failure), a send what it sent or, failed, its size; a failed vectored
    send is bounded by its iovecs; never more than the snaplen (capped)."""
    from syswarden.sources.syscall_decode import MAX_SNAPLEN, BufferKind, io_length

    assert [io_length(BufferKind.IN, r, 100, 80) for r in (50, 200, 0, -11)] == [50, 80, 0, 0]
    assert [io_length(BufferKind.OUT, r, 30, 80) for r in (50, 200, -9)] == [50, 80, 30]
    assert io_length(BufferKind.IOV_OUT, -9, 2, 80) == 80 and io_length(BufferKind.MSG_IN, -9, 2, 80) == 0
    assert io_length(BufferKind.IN, 10**6, 0, 10**6) == MAX_SNAPLEN


def test_data_and_transferred_size_recipes() -> None:
    """The data parameter is the buffer blob (empty when none was read); readv's size is what it moved."""
    from syswarden.sources.syscall_decode import DATA_SLOT, RawCall, build_params

    write = build_params(RawCall("write", 1, 1, 5, (3, 0x1000, 9, 0, 0, 0), {DATA_SLOT: b"hello"}))
    assert write == {"res": 5, "data": b"hello", "fd": 3, "size": 9}
    readv = build_params(RawCall("readv", 1, 1, -14, (3, 0x1000, 2, 0, 0, 0), {}))
    assert readv == {"res": -14, "size": 0, "data": b"", "fd": 3}
