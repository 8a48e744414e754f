"""The audit netlink multicast group (``AUDIT_NLGRP_READLOG``): read-only copies of every audit record the
kernel emits, delivered whether or not auditd runs and not subject to printk rate limits. Needs CAP_AUDIT_READ.

Bottom layer: yields ``(record type, text)`` pairs; callers parse the text.
"""
from __future__ import annotations

import errno
import os
import select
import time
# _socket and _struct, not socket and struct: these are on every `syswarden run`'s start-up path (the watcher
# subscribes before CMD starts), and socket.py alone imports enum, selectors and array (about 10 ms)
from _socket import AF_NETLINK, SO_RCVBUF, SOCK_CLOEXEC, SOCK_RAW, SOL_SOCKET
from _socket import socket as _socket
from _struct import Struct, pack, unpack_from

NETLINK_AUDIT = 9
SO_RCVBUFFORCE = 33
# A dry run of a busy program logs thousands of records in bursts; the default socket buffer (~200 KiB)
# overflows long before we are scheduled to drain it.
RECEIVE_BUFFER = 8 << 20
AUDIT_NLGRP_READLOG = 1
_NLMSG_HDR = Struct("=IHHII")

# Record types a reader of Landlock denials needs (kernel ``include/uapi/linux/audit.h``).
AUDIT_SYSCALL = 1300
AUDIT_LANDLOCK_ACCESS = 1423
AUDIT_LANDLOCK_DOMAIN = 1424
# Control messages: read and set ``struct audit_status`` (both need CAP_AUDIT_CONTROL).
AUDIT_GET = 1000
AUDIT_SET = 1001
AUDIT_STATUS_ENABLED = 0x1
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
_STATUS_HEAD = Struct("=IIIIIIII")  # mask enabled failure pid rate_limit backlog_limit lost backlog


class _Netlink(_socket):
    """A netlink socket that closes at the end of a ``with`` block (``_socket.socket`` has no context manager)."""

    def __enter__(self) -> "_Netlink":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AuditMulticast:
    """A non-blocking subscription to the audit multicast group; open it before the events you want."""

    def __init__(self) -> None:
        self.overruns = 0
        self._sock = _Netlink(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT)
        try:
            self._sock.bind((0, AUDIT_NLGRP_READLOG))
            self._sock.setblocking(False)
            self._grow_buffer()
        except OSError:
            self._sock.close()
            raise

    def _grow_buffer(self) -> None:
        try:
            self._sock.setsockopt(SOL_SOCKET, SO_RCVBUFFORCE, RECEIVE_BUFFER)  # root: past rmem_max
        except OSError:
            self._sock.setsockopt(SOL_SOCKET, SO_RCVBUF, RECEIVE_BUFFER)

    def read(self, timeout: float, limit: int | None = None) -> list[tuple[int, str]]:
        """Records that arrive within ``timeout`` seconds (returns at the first batch; at most ``limit``
        datagrams, so a reader under a flood of records still gets control back)."""
        out: list[tuple[int, str]] = []
        for data in _datagrams(self, timeout, limit):
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


def _datagrams(reader: AuditMulticast | AuditDaemonSocket, timeout: float, limit: int | None) -> list[bytes]:
    """The datagrams waiting on a non-blocking audit socket within ``timeout`` (at most ``limit``). A full
    socket buffer (ENOBUFS) lost records: counted in ``reader.overruns``, and later ones still come."""
    sock = reader._sock
    ready, _, _ = select.select([sock], [], [], timeout)
    out: list[bytes] = []
    while ready and (limit is None or len(out) < limit):
        try:
            out.append(sock.recv(65536))
        except BlockingIOError:
            break
        except OSError as exc:
            if exc.errno != errno.ENOBUFS:
                raise
            reader.overruns += 1
    return out


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


def split_unicast(data: bytes) -> list[tuple[int, str]]:
    """A datagram the kernel sent to the audit daemon: one record whose ``nlmsg_len`` counts only the payload
    (a quirk auditd relies on; the multicast copies carry the standard length, see ``split_messages``)."""
    if len(data) < _NLMSG_HDR.size:
        return []
    length, msg_type, _flags, _seq, _pid = _NLMSG_HDR.unpack_from(data)
    if msg_type in (NLMSG_ERROR, NLMSG_DONE) or msg_type < 1100:     # control replies use the standard length
        return split_messages(data)
    payload = data[_NLMSG_HDR.size:_NLMSG_HDR.size + length]
    return [(msg_type, payload.rstrip(b"\0").decode("utf-8", "surrogateescape"))]


def _control(msg_type: int, payload: bytes, flags: int = NLM_F_REQUEST) -> list[tuple[int, bytes]]:
    """Send one control message on a fresh unicast socket and return the replies as (type, raw payload)."""
    with _Netlink(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT) as sock:
        sock.bind((0, 0))
        sock.settimeout(2.0)
        return _exchange(sock, msg_type, payload, flags)


def _exchange(sock: _Netlink, msg_type: int, payload: bytes, flags: int, *,
              until_done: bool = False) -> list[tuple[int, bytes]]:
    """Send one message and read its replies: the first datagram, or (``until_done``) every part of a multi-part
    reply up to NLMSG_DONE or an error. Records that arrive meanwhile on a daemon socket are skipped."""
    sock.send(_NLMSG_HDR.pack(_NLMSG_HDR.size + len(payload), msg_type, flags, 1, 0) + payload)
    replies: list[tuple[int, bytes]] = []
    while True:
        data = sock.recv(1 << 17)
        offset = 0
        while offset + _NLMSG_HDR.size <= len(data):
            length, reply_type, _f, seq, _p = _NLMSG_HDR.unpack_from(data, offset)
            if length < _NLMSG_HDR.size:
                break
            if seq == 1 or reply_type in (NLMSG_ERROR, NLMSG_DONE):
                replies.append((reply_type, data[offset + _NLMSG_HDR.size: offset + length]))
            offset += (length + 3) & ~3
        if not until_done and replies:
            return replies
        if any(t == NLMSG_DONE or (t == NLMSG_ERROR and _error_code(p) != 0) for t, p in replies):
            return replies


def _error_code(payload: bytes) -> int:
    return unpack_from("=i", payload)[0] if len(payload) >= 4 else 0


def _raise_on_error(replies: list[tuple[int, bytes]], what: str) -> None:
    for reply_type, payload in replies:
        if reply_type == NLMSG_ERROR and len(payload) >= 4:
            (code,) = unpack_from("=i", payload)
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


# ---- rules, status and the audit daemon's socket ---------------------------------------------------------------
AUDIT_ADD_RULE = 1011
AUDIT_DEL_RULE = 1012
AUDIT_LIST_RULES = 1013
AUDIT_SET_FEATURE = 1018
AUDIT_STATUS_FAILURE = 0x2
AUDIT_STATUS_PID = 0x4
AUDIT_STATUS_RATE_LIMIT = 0x8
AUDIT_STATUS_BACKLOG_LIMIT = 0x10
AUDIT_STATUS_BACKLOG_WAIT_TIME = 0x20
AUDIT_STATUS_LOST = 0x40
AUDIT_FEATURE_LOGINUID_IMMUTABLE = 1
_STATUS = Struct("=11I")
_STATUS_FIELDS = ("mask", "enabled", "failure", "pid", "rate_limit", "backlog_limit", "lost", "backlog",
                  "feature_bitmap", "backlog_wait_time", "backlog_wait_time_actual")
_SET_BITS = {"enabled": AUDIT_STATUS_ENABLED, "failure": AUDIT_STATUS_FAILURE, "pid": AUDIT_STATUS_PID,
             "rate_limit": AUDIT_STATUS_RATE_LIMIT, "backlog_limit": AUDIT_STATUS_BACKLOG_LIMIT,
             "backlog_wait_time": AUDIT_STATUS_BACKLOG_WAIT_TIME, "lost": AUDIT_STATUS_LOST}


def get_status() -> dict[str, int]:
    """The kernel's ``struct audit_status`` as a dict (fields an older kernel does not send are absent)."""
    replies = _control(AUDIT_GET, b"")
    _raise_on_error(replies, "AUDIT_GET")
    for reply_type, payload in replies:
        if reply_type == AUDIT_GET and len(payload) >= _STATUS_HEAD.size:
            count = min(len(payload) // 4, len(_STATUS_FIELDS))
            return dict(zip(_STATUS_FIELDS, unpack_from(f"={count}I", payload)))
    raise OSError(errno.EPROTO, "AUDIT_GET: no audit_status in the reply")


def _status_payload(**values: int) -> bytes:
    mask = 0
    words = dict.fromkeys(_STATUS_FIELDS, 0)
    for name, value in values.items():
        mask |= _SET_BITS[name]
        words[name] = value & 0xFFFFFFFF
    words["mask"] = mask
    return _STATUS.pack(*(words[f] for f in _STATUS_FIELDS))


def set_status(**values: int) -> None:
    """Set failure, rate_limit, backlog_limit, backlog_wait_time (AUDIT_SET). ``enabled`` goes through
    ``set_audit_enabled`` (which refuses to lock) and the daemon pid through ``AuditDaemonSocket``."""
    if "enabled" in values or "pid" in values:
        raise ValueError("use set_audit_enabled() or AuditDaemonSocket for enabled and pid")
    _raise_on_error(_control(AUDIT_SET, _status_payload(**values), NLM_F_REQUEST | NLM_F_ACK), "AUDIT_SET")


def reset_lost() -> int:
    """Zero the kernel's lost-record counter; returns the count it had."""
    with _Netlink(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT) as sock:
        sock.bind((0, 0))
        sock.settimeout(2.0)
        replies = _exchange(sock, AUDIT_SET, _status_payload(lost=0), NLM_F_REQUEST | NLM_F_ACK)
        _raise_on_error(replies, "AUDIT_SET lost")
        for reply_type, payload in replies:
            if reply_type == AUDIT_SET and len(payload) >= _STATUS_HEAD.size:
                return int(_STATUS_HEAD.unpack_from(payload)[6])
    return 0


def set_loginuid_immutable() -> None:
    """Make the login uid immutable and lock that setting (AUDIT_SET_FEATURE): it cannot be undone until reboot."""
    bit = 1 << AUDIT_FEATURE_LOGINUID_IMMUTABLE
    payload = pack("=IIII", 1, bit, bit, bit)          # vers, mask, features, lock
    _raise_on_error(_control(AUDIT_SET_FEATURE, payload, NLM_F_REQUEST | NLM_F_ACK), "AUDIT_SET_FEATURE")


def add_rule(rule: bytes) -> None:
    """Add one ``struct audit_rule_data`` (AUDIT_ADD_RULE); the kernel's refusal raises OSError with its errno."""
    _raise_on_error(_control(AUDIT_ADD_RULE, rule, NLM_F_REQUEST | NLM_F_ACK), "AUDIT_ADD_RULE")


def delete_rule(rule: bytes) -> None:
    """Delete the rule equal to ``rule`` (AUDIT_DEL_RULE; ENOENT when the kernel has no such rule)."""
    _raise_on_error(_control(AUDIT_DEL_RULE, rule, NLM_F_REQUEST | NLM_F_ACK), "AUDIT_DEL_RULE")


def list_rules() -> list[bytes]:
    """Every rule the kernel holds, in list order, as ``struct audit_rule_data`` bytes (AUDIT_LIST_RULES)."""
    with _Netlink(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT) as sock:
        sock.bind((0, 0))
        sock.settimeout(5.0)
        replies = _exchange(sock, AUDIT_LIST_RULES, b"", NLM_F_REQUEST | NLM_F_ACK, until_done=True)
    _raise_on_error(replies, "AUDIT_LIST_RULES")
    return [payload for reply_type, payload in replies if reply_type == AUDIT_LIST_RULES]


class AuditDaemonSocket:
    """This process as the audit daemon: the kernel sends it every record (and stops printing them to kmsg).

    Registration fails with EEXIST while another daemon (auditd) is registered. ``close()`` gives the role back
    (pid 0) if it is still ours; should this process die first, the kernel notices at its next record (the
    send fails) and unregisters it itself."""

    def __init__(self) -> None:
        self.overruns = 0
        self._sock = _Netlink(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT)
        try:
            self._sock.bind((0, 0))
            self._sock.settimeout(2.0)
            try:
                self._sock.setsockopt(SOL_SOCKET, SO_RCVBUFFORCE, RECEIVE_BUFFER)
            except OSError:
                self._sock.setsockopt(SOL_SOCKET, SO_RCVBUF, RECEIVE_BUFFER)
            replies = _exchange(self._sock, AUDIT_SET, _status_payload(pid=os.getpid()), NLM_F_REQUEST | NLM_F_ACK)
            _raise_on_error(replies, "AUDIT_SET pid")
            self._sock.setblocking(False)
        except OSError:
            self._sock.close()
            raise
        self.pid = os.getpid()

    def read(self, timeout: float, limit: int | None = None) -> list[tuple[int, str]]:
        """Records that arrive within ``timeout`` seconds (as ``AuditMulticast.read``)."""
        out: list[tuple[int, str]] = []
        for data in _datagrams(self, timeout, limit):
            out.extend(m for m in split_unicast(data) if m[0] not in (NLMSG_ERROR, NLMSG_DONE))
        return out

    def fileno(self) -> int:
        return self._sock.fileno()

    def close(self) -> None:
        """Unregister (only if the kernel still names this process) and close the socket.

        The request goes without an acknowledgement: our receive buffer may be full of records, and the kernel
        drops what it cannot queue there (the ack too, reporting ENOBUFS). Whether it took effect is read back on
        a fresh socket."""
        if self._sock.fileno() < 0:
            return
        try:
            for _ in range(3):
                if get_status().get("pid") != self.pid:
                    break
                payload = _status_payload(pid=0)
                _datagrams(self, 0.0, None)                 # drain what is queued: room for the kernel's answer
                try:
                    self._sock.send(_NLMSG_HDR.pack(_NLMSG_HDR.size + len(payload), AUDIT_SET, NLM_F_REQUEST, 2,
                                                    0) + payload)
                except OSError as exc:
                    if exc.errno != errno.ENOBUFS:      # ENOBUFS: handled, the answer had no room; read it back
                        raise
                deadline = time.monotonic() + 1.0
                while get_status().get("pid") == self.pid and time.monotonic() < deadline:
                    time.sleep(0.02)
        finally:
            self._sock.close()

    def __enter__(self) -> "AuditDaemonSocket":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
