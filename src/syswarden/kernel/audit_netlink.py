"""The audit netlink multicast group (``AUDIT_NLGRP_READLOG``): read-only copies of every audit record the
kernel emits, delivered whether or not auditd runs and not subject to printk rate limits. Needs CAP_AUDIT_READ.

Bottom layer: yields ``(record type, text)`` pairs; callers parse the text.
"""
from __future__ import annotations

import errno
import os
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

# Record types a reader of Landlock denials needs (kernel ``include/uapi/linux/audit.h``).
AUDIT_SYSCALL = 1300
AUDIT_LANDLOCK_ACCESS = 1423
AUDIT_LANDLOCK_DOMAIN = 1424
# Control messages: read and set ``struct audit_status`` (both need CAP_AUDIT_CONTROL).
AUDIT_GET = 1000
AUDIT_SET = 1001
AUDIT_STATUS_ENABLED = 0x1
NLMSG_ERROR = 2
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
_STATUS_HEAD = struct.Struct("=IIIIIIII")  # mask enabled failure pid rate_limit backlog_limit lost backlog


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


def _control(msg_type: int, payload: bytes, flags: int = NLM_F_REQUEST) -> list[tuple[int, bytes]]:
    """Send one control message on a fresh unicast socket and return the replies as (type, raw payload)."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_AUDIT) as sock:
        sock.bind((0, 0))
        sock.settimeout(2.0)
        sock.send(_NLMSG_HDR.pack(_NLMSG_HDR.size + len(payload), msg_type, flags, 1, 0) + payload)
        replies: list[tuple[int, bytes]] = []
        while not replies:
            data = sock.recv(65536)
            offset = 0
            while offset + _NLMSG_HDR.size <= len(data):
                length, reply_type, _f, _s, _p = _NLMSG_HDR.unpack_from(data, offset)
                if length < _NLMSG_HDR.size:
                    break
                replies.append((reply_type, data[offset + _NLMSG_HDR.size: offset + length]))
                offset += (length + 3) & ~3
        return replies


def _raise_on_error(replies: list[tuple[int, bytes]], what: str) -> None:
    for reply_type, payload in replies:
        if reply_type == NLMSG_ERROR and len(payload) >= 4:
            (code,) = struct.unpack_from("=i", payload)
            if code < 0:
                raise OSError(-code, f"{what}: {os.strerror(-code)}")


def audit_enabled() -> int:
    """The kernel's audit ``enabled`` state: 0 off, 1 on, 2 on and locked (AUDIT_GET; needs CAP_AUDIT_CONTROL)."""
    replies = _control(AUDIT_GET, b"")
    _raise_on_error(replies, "AUDIT_GET")
    for reply_type, payload in replies:
        if reply_type == AUDIT_GET and len(payload) >= _STATUS_HEAD.size:
            return int(_STATUS_HEAD.unpack_from(payload)[1])
    raise OSError(errno.EPROTO, "AUDIT_GET: no audit_status in the reply")


def set_audit_enabled(value: int) -> None:
    """Turn audit off (0) or on (1). Locking (2, ``auditctl -e 2``) is refused here: it cannot be undone until
    reboot, and nothing in syswarden may do that."""
    if value not in (0, 1):
        raise ValueError(f"audit enabled must be 0 or 1, not {value!r} (2 would lock the configuration)")
    payload = _STATUS_HEAD.pack(AUDIT_STATUS_ENABLED, value, 0, 0, 0, 0, 0, 0)
    _raise_on_error(_control(AUDIT_SET, payload, NLM_F_REQUEST | NLM_F_ACK), "AUDIT_SET")
