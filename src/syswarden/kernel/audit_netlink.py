"""The audit netlink multicast group (``AUDIT_NLGRP_READLOG``): read-only copies of every audit record the
kernel emits, delivered whether or not auditd runs and not subject to printk rate limits. Needs CAP_AUDIT_READ.

Bottom layer: yields ``(record type, text)`` pairs; callers parse the text.
"""
from __future__ import annotations

import errno
import select
import socket
import struct

NETLINK_AUDIT = 9
SO_RCVBUFFORCE = 33
# A dry run of a busy program logs thousands of records in bursts; the default socket buffer (~200 KiB)
# overflows long before we are scheduled to drain it.
RECEIVE_BUFFER = 8 << 20
AUDIT_NLGRP_READLOG = 1
_NLMSG_HDR = struct.Struct("=IHHII")


class AuditMulticast:
    """A non-blocking subscription to the audit multicast group; open it before the events you want."""

    def __init__(self) -> None:
        self.overruns = 0
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_AUDIT)
        try:
            self._sock.bind((0, AUDIT_NLGRP_READLOG))
            self._sock.setblocking(False)
            self._grow_buffer()
        except OSError:
            self._sock.close()
            raise

    def _grow_buffer(self) -> None:
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RECEIVE_BUFFER)  # root: past rmem_max
        except OSError:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)

    def read(self, timeout: float) -> list[tuple[int, str]]:
        """Records that arrive within ``timeout`` seconds (returns at the first batch)."""
        ready, _, _ = select.select([self._sock], [], [], timeout)
        out: list[tuple[int, str]] = []
        while ready:
            try:
                data = self._sock.recv(65536)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno != errno.ENOBUFS:
                    raise
                self.overruns += 1  # the socket buffer overflowed: records were lost, later ones still come
                continue
            out.extend(split_messages(data))
        return out

    def fileno(self) -> int:
        return self._sock.fileno()

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> "AuditMulticast":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def split_messages(data: bytes) -> list[tuple[int, str]]:
    """Split a netlink datagram into (nlmsg_type, payload text) pairs."""
    out = []
    offset = 0
    while offset + _NLMSG_HDR.size <= len(data):
        length, msg_type, _flags, _seq, _pid = _NLMSG_HDR.unpack_from(data, offset)
        if length < _NLMSG_HDR.size:
            break
        payload = data[offset + _NLMSG_HDR.size: offset + length]
        out.append((msg_type, payload.rstrip(b"\0").decode("utf-8", "replace")))
        offset += (length + 3) & ~3
    return out
