"""Collecting the kernel's audit records while CMD runs (sandbox stage): SECCOMP records (kills, traps, logged
calls) and, on request, Landlock's, from the audit multicast group or ``/dev/kmsg``. The watcher is opened
before CMD starts, pumped while it runs, and read after it ended; ``denials.py`` decodes and judges the records.

On every launch's start-up path: nothing is parsed until a record arrives (``denials.parse_record`` is imported
then), and no dataclass, typing or regular expression is loaded here.
"""
from __future__ import annotations

import time

from syswarden.kernel.audit_netlink import AUDIT_LANDLOCK_ACCESS, AUDIT_LANDLOCK_DOMAIN, AUDIT_SYSCALL, AuditMulticast

TYPE_CHECKING = False   # typing.TYPE_CHECKING, without importing typing on the launch path
if TYPE_CHECKING:
    from syswarden.kernel.kmsg import KmsgReader
    from syswarden.sandbox.denials import SeccompRecord

AUDIT_SECCOMP = 1326


class SeccompWatcher:
    """Collects SECCOMP records from the moment it is created; open it before starting the child."""

    def __init__(self, channels: tuple[str, ...] = ("audit-netlink", "kmsg"), landlock: bool = False) -> None:
        """Open the first channel that works, in order (``audit-netlink`` needs CAP_AUDIT_READ). ``landlock``:
        also keep Landlock records (LANDLOCK_ACCESS, LANDLOCK_DOMAIN and the SYSCALL record of the same event,
        which names the process) as ``(type, text)`` in ``landlock_records``."""
        self.records: list[SeccompRecord] = []
        self.landlock_records: list[tuple[int, str]] = []
        self._landlock = landlock
        self._landlock_serials: set[int] = set()
        self._root: int | None = None
        self._tree: dict[int, bool | None] = {}     # None: the chain could not be read
        self.channel = "none"
        self._multicast: AuditMulticast | None = None
        self._kmsg: KmsgReader | None = None
        for channel in channels:
            try:
                if channel == "audit-netlink":
                    self._multicast = AuditMulticast()
                elif channel == "kmsg":          # only without CAP_AUDIT_READ: imported then
                    from syswarden.kernel.kmsg import KmsgReader
                    self._kmsg = KmsgReader()
                else:
                    continue
            except OSError:
                continue
            self.channel = channel
            break

    def _poll(self, timeout: float) -> None:
        typed: list[tuple[int, str]] = []
        if self._multicast is not None:
            typed = self._multicast.read(timeout)
        elif self._kmsg is not None:
            typed = _kmsg_records(self._kmsg.read(timeout))
        else:
            time.sleep(timeout)
        seccomp = [(kind, t) for kind, t in typed if kind == AUDIT_SECCOMP]
        parsed = []
        if seccomp:
            from syswarden.sandbox.denials import parse_record
            parsed = [r for r in (parse_record(t, kind) for kind, t in seccomp) if r is not None]
        self.records.extend(parsed)
        if self._root is not None:
            for record in parsed:
                if record.fatal and record.pid not in self._tree:
                    self._tree[record.pid] = _descends_from(record.pid, self._root)
        if self._landlock:
            self._keep_landlock(typed)

    def _keep_landlock(self, typed: list[tuple[int, str]]) -> None:
        # A SYSCALL record follows the Landlock records of its event (same serial); others are not ours to keep.
        from syswarden.kernel import audit_fields
        for kind, text in typed:
            serial = audit_fields.serial_of(text)
            if serial is None:
                continue
            if kind in (AUDIT_LANDLOCK_ACCESS, AUDIT_LANDLOCK_DOMAIN):
                self._landlock_serials.add(serial)
            elif kind != AUDIT_SYSCALL or serial not in self._landlock_serials:
                continue
            self.landlock_records.append((kind, text))

    def watch_tree(self, root: int) -> None:
        """From now on, note for each killed process whether it descends from ``root`` (CMD), looked up in /proc
        while it is still there (a zombie until its parent reaps it)."""
        self._root = root

    def in_tree(self, pid: int) -> bool | None:
        """Whether killed ``pid`` was seen in CMD's tree: True, False (it was not), or None (gone before we
        could look, or no tree watched)."""
        return self._tree.get(pid)

    @property
    def lost(self) -> bool:
        """True when records were lost on our side (socket buffer overrun): counts are then lower bounds."""
        return self._multicast is not None and self._multicast.overruns > 0

    def fileno(self) -> int:
        """The descriptor to select on while waiting (-1 without a channel)."""
        reader = self._multicast or self._kmsg
        return reader.fileno() if reader is not None else -1

    def pump(self) -> None:
        """Take in what has arrived, so a long run cannot overflow the kernel-side buffer."""
        self._poll(0)

    def find(self, pid: int, timeout: float = 1.0) -> SeccompRecord | None:
        """The kill record of ``pid``; waits up to ``timeout`` because kauditd delivers asynchronously."""
        deadline = time.monotonic() + timeout
        while True:
            hit = next((r for r in self.records if r.pid == pid and r.fatal), None)
            remaining = deadline - time.monotonic()
            if hit is not None or remaining <= 0 or self.channel == "none":
                return hit
            self._poll(min(remaining, 0.1))

    def drain(self, timeout: float = 0.2) -> list[SeccompRecord]:
        """Every record seen so far (after waiting ``timeout`` for late ones)."""
        self._poll(timeout)
        return list(self.records)

    def close(self) -> None:
        for reader in (self._multicast, self._kmsg):
            if reader is not None:
                reader.close()


def _descends_from(pid: int, root: int, limit: int = 64) -> bool | None:
    """Whether ``pid`` is ``root`` or below it, following PPid in /proc; None when the chain cannot be read."""
    for _ in range(limit):
        if pid == root:
            return True
        if pid <= 1:
            return False
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            return None
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) < 2 or not fields[1].isdigit():
            return None
        pid = int(fields[1])
    return None


def _kmsg_records(texts: list[str]) -> list[tuple[int, str]]:
    """``(type, text)`` of the kernel log lines that are audit records (``audit: type=N audit(...): ...``)."""
    from syswarden.kernel import audit_fields
    out = []
    for text in texts:
        if text.startswith("audit: type="):
            kind = audit_fields.parse_record(text).type
            if kind is not None:
                out.append((kind, text))
    return out
