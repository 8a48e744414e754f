"""I/O buffers (issue 19 item 1), read live by both sources: the first ``snaplen`` bytes of what each
read/write/send/recv call transferred, only for the event types asked for (``SourceConfig.buffer_types``)."""
from __future__ import annotations

import sys
import textwrap

from syswarden.events.event import Event
from syswarden.sources.base import SourceConfig, open_source
from tests.sources.test_live_params import live  # noqa: F401 - the fixture: each live source in turn

IO_TYPES = frozenset({"read", "write", "pread", "pwrite", "readv", "writev", "preadv", "pwritev", "sendto",
                      "recvfrom", "sendmsg", "recvmsg"})
# Every call moves a payload starting with its own tag, so each event's data is known exactly; "long" is longer
# than the snaplen and must be cut there.
PROGRAM = textwrap.dedent("""
    import os, socket, tempfile
    a, b = socket.socketpair()
    def tag(name, n=40):
        return (name.encode() + b":" + b"x" * n)[:n]
    os.write(a.fileno(), tag("write")); os.read(b.fileno(), 100)
    a.send(tag("sendto")); b.recv(100)
    a.sendmsg([tag("sendmsg", 10), tag("-part2", 20)]); b.recvmsg(100)
    os.writev(a.fileno(), [tag("writev", 5), tag("-v2", 30)]); os.readv(b.fileno(), [bytearray(7), bytearray(100)])
    os.write(a.fileno(), tag("long", 300)); os.read(b.fileno(), 1000)
    fd, path = tempfile.mkstemp()
    os.pwrite(fd, tag("pwrite"), 0); os.pread(fd, 100, 0)
    # Python's os.pwritev calls pwritev2 (a generic event in Falco): glibc's pwritev is the pwritev syscall
    import ctypes
    libc = ctypes.CDLL(None)
    class IOVec(ctypes.Structure):
        _fields_ = [("base", ctypes.c_char_p), ("len", ctypes.c_size_t)]
    out, back = tag("pwritev", 12), ctypes.create_string_buffer(12)
    libc.pwritev(fd, ctypes.byref(IOVec(out, 12)), 1, ctypes.c_long(0))
    libc.preadv(fd, ctypes.byref(IOVec(ctypes.cast(back, ctypes.c_char_p), 12)), 1, ctypes.c_long(0))
    os.close(fd); os.unlink(path)
    try:
        os.write(9999, tag("badfd"))
    except OSError:
        pass
""")


def _capture(source: str, snaplen: int, buffers: frozenset[str]) -> list[Event]:
    cfg = SourceConfig(command=[sys.executable, "-c", PROGRAM], event_types=IO_TYPES, snaplen=snaplen,
                       buffer_types=buffers)
    src = open_source(source, cfg)
    try:
        return [e for e in src.events() if e.type in IO_TYPES]
    finally:
        src.close()


def _payloads(events: list[Event]) -> dict[str, list[bytes]]:
    """Each tagged call's data, by event type (the interpreter's own reads and writes carry no tag)."""
    out: dict[str, list[bytes]] = {}
    for e in events:
        data = e.params.get("data", b"")
        if data.startswith(_TAGS):
            out.setdefault(e.type, []).append(data)
    return out


_TAGS = (b"write", b"sendto:", b"sendmsg:", b"long:", b"pwrite", b"badfd:")


def test_buffers_are_the_first_snaplen_bytes_transferred(live: str) -> None:  # noqa: F811
    got = _payloads(_capture(live, 80, IO_TYPES))
    x = b"x" * 300
    assert got["write"] == [b"write:" + x[:34], b"long:" + x[:75], b"badfd:" + x[:34]]
    assert got["read"] == [b"write:" + x[:34], b"long:" + x[:75]]
    assert got["sendto"] == got["recvfrom"] == [b"sendto:" + x[:33]]
    assert got["sendmsg"] == got["recvmsg"] == [b"sendmsg:" + x[:2] + b"-part2:" + x[:13]]
    # writev sent 35 bytes from two iovecs; readv scattered them over 7 + 100 bytes: gathered back in order
    assert got["writev"] == got["readv"] == [b"write" + b"-v2:" + x[:26]]
    assert got["pwrite"] == got["pread"] == [b"pwrite:" + x[:33]]
    assert got["pwritev"] == got["preadv"] == [b"pwritev:" + x[:4]]


def test_buffers_only_for_the_types_asked_and_never_with_snaplen_0(live: str) -> None:  # noqa: F811
    events = _capture(live, 16, frozenset({"write"}))
    assert _payloads(events)["write"] == [b"write:" + b"x" * 10, b"long:" + b"x" * 11, b"badfd:" + b"x" * 10]
    assert all(e.params["data"] == b"" for e in events if e.type != "write")
    assert all(e.params["data"] == b"" for e in _capture(live, 0, IO_TYPES))
