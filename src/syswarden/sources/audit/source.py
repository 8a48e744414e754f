"""``AuditSource``: events from Linux audit — the kernel's stream live, or audit log files replayed.

Live, it reads the kernel's records as the audit daemon when none is registered (AUDIT_SET pid: the kernel
then sends it every record and stops printing them to the kernel log), or read-only from the multicast group
when one is (auditd keeps its rules and its log). As the daemon it turns auditing on if it was off, and on
``close()`` gives the daemon role back and restores the enabled state; if the process dies first the kernel
unregisters it at its next record. ``options``: ``socket`` = ``auto`` (default) | ``unicast`` | ``multicast``;
``timeout`` = end-of-event timeout in seconds (default 1.0 live, 2.0 for logs, as ausearch);
``backlog_limit`` (default 8192) and ``backlog_wait_time`` (default 0: drop, never slow audited processes) are
set in the kernel while we are the daemon, and restored.

Replayed (``config.path``: a log file or a directory of rotated logs), records are read as ``audit search``
reads them. Either way records are reassembled into events (``audit.reassembly``) and converted
(``convert.to_events``). With ``config.command`` only the command's process tree is reported (followed
through each record's ppid).
"""
from __future__ import annotations

import errno
import os
import sys
import time
from collections.abc import Iterator

from syswarden.audit.logs import LogStats, expand, read_events, read_records
from syswarden.audit.reassembly import AuditEvent, Reassembler
from syswarden.audit.records import MalformedRecord, parse_netlink
from syswarden.errors import SourceError
from syswarden.events.event import Event, ThreadInfo
from syswarden.kernel import audit_netlink
from syswarden.sources.audit.convert import to_events
from syswarden.sources.base import SourceConfig, SourceStats
from syswarden.sources.targets import GatedCommand, ppid_of, seed_threads

_POLL_S = 0.2
_BATCH = 1024                               # datagrams per read: the loop's checks run under a flood too
_CONTROL_TYPES = range(1000, 1100)          # replies and control messages, not records


class AuditSource:
    """See the module doc. ``channel`` says how records were read: unicast, multicast or log."""

    def __init__(self, config: SourceConfig) -> None:
        self.config = config
        self.stats = SourceStats()
        self.log_stats = LogStats()
        self.channel = "log" if config.path else ""
        self.hostname = ""
        opts = config.options
        timeout = float(opts.get("timeout", 2.0 if config.path else 1.0))
        self.reassembler = Reassembler(timeout_ns=int(timeout * 1e9))
        self._socket: audit_netlink.AuditDaemonSocket | audit_netlink.AuditMulticast | None = None
        self._restore_enabled: int | None = None
        self._restore_status: dict[str, int] = {}
        self._child: GatedCommand | None = None
        self._tree: set[int] = set()
        self._outside: set[int] = set()
        self._num = 0
        self._seed: list[ThreadInfo] = []
        self._lost_at_start = 0
        #: time.monotonic() at which a live stream ends by itself (None: until the command exits, or forever)
        self.stop_at: float | None = None
        if config.path:
            self._files = expand([config.path])
            return
        try:
            self._open_live(opts.get("socket", "auto"))
            self._seed = list(seed_threads())
            if config.command:
                self._child = GatedCommand(config.command)
                self._tree.add(self._child.pid)
                self._child.release()
        except BaseException:
            self.close()
            raise

    # -- the kernel's stream ----------------------------------------------------------------------------------
    def _open_live(self, mode: str) -> None:
        if mode not in ("auto", "unicast", "multicast"):
            raise SourceError(f"audit source: socket must be auto, unicast or multicast, not {mode!r}")
        try:
            status = audit_netlink.get_status()
        except OSError as exc:
            raise SourceError(f"the audit source needs root (CAP_AUDIT_CONTROL and CAP_AUDIT_READ): "
                              f"{exc.strerror or exc}") from None
        self._lost_at_start = status.get("lost", 0)
        daemon = status.get("pid", 0)
        if mode == "unicast" or (mode == "auto" and not _alive(daemon)):
            try:
                self._socket = audit_netlink.AuditDaemonSocket()
                self.channel = "unicast"
            except OSError as exc:
                if mode == "unicast" or exc.errno != errno.EEXIST:
                    raise SourceError(f"cannot become the audit daemon: {exc.strerror or exc}") from None
        if self._socket is None:
            try:
                self._socket = audit_netlink.AuditMulticast()
                self.channel = "multicast"
            except OSError as exc:
                raise SourceError(f"cannot join the audit multicast group: {exc.strerror or exc}") from None
        if self.channel == "unicast" and status.get("enabled") == 0:
            audit_netlink.set_audit_enabled(1)
            self._restore_enabled = 0
        if self.channel == "unicast":
            self._tune_backlog(status)

    def _tune_backlog(self, status: dict[str, int]) -> None:
        """As the daemon, ask the kernel to queue more (8192, as auditbeat) and never to make audited processes
        wait for us (backlog_wait_time 0): when we fall behind, the kernel drops records and counts them in
        ``lost`` (reported as drops) rather than slowing the machine. Both restored on close."""
        opts = self.config.options
        wanted = {"backlog_limit": max(int(opts.get("backlog_limit", 8192)), status.get("backlog_limit", 0)),
                  "backlog_wait_time": int(opts.get("backlog_wait_time", 0))}
        changed = {k: v for k, v in wanted.items() if k in status and status[k] != v}
        if changed:
            audit_netlink.set_status(**changed)
            self._restore_status = {k: status[k] for k in changed}

    def initial_threads(self) -> Iterator[ThreadInfo]:
        return iter(self._seed)

    def events(self) -> Iterator[Event]:
        """syswarden events (Falco names), converted from ``audit_events()``."""
        for event in self.audit_events():
            for out in to_events(event, self._num + 1):
                if self.config.exclude_self and not self.config.path and (out.pid or out.tid) == os.getpid():
                    continue
                self._num += 1
                out.num = self._num
                self.stats.events += 1
                yield out

    def audit_events(self) -> Iterator[AuditEvent]:
        """Reassembled audit events (those of the command's tree with ``config.command``)."""
        source = self._log_events() if self.config.path else self._live_events()
        try:
            for event in source:
                if self._wanted(event):
                    yield event
        except BaseException:
            if not self.config.path:
                self.close()
            raise

    def _live_events(self) -> Iterator[AuditEvent]:
        assert self._socket is not None
        sock, reassembler = self._socket, self.reassembler
        done_at: float | None = None
        while True:
            for msg_type, text in sock.read(_POLL_S, _BATCH):
                if msg_type in _CONTROL_TYPES:
                    continue
                try:
                    record = parse_netlink(msg_type, text)
                except MalformedRecord:
                    self.stats.skipped += 1
                    continue
                yield from reassembler.push(record, time.time_ns())
            yield from reassembler.expire(time.time_ns())
            self.stats.drops = reassembler.stats.lost + sock.overruns
            if self._child is not None and done_at is None and self._child.poll() is not None:
                done_at = time.monotonic() + reassembler.timeout_ns / 1e9 + _POLL_S
            if self.stop_at is not None and done_at is None and time.monotonic() >= self.stop_at:
                done_at = time.monotonic()
            if done_at is not None and time.monotonic() >= done_at:
                yield from reassembler.close()
                return

    def _log_events(self) -> Iterator[AuditEvent]:
        records = read_records(self._files, self.log_stats)
        for event in read_events(records, self.reassembler):
            self.stats.skipped = self.log_stats.malformed
            yield event
        # Serial gaps in a log are not counted as drops: a log may hold a selection (ausearch output, a grep).
        self.stats.skipped = self.log_stats.malformed
        if self.log_stats.malformed:
            print(f"syswarden: audit: {self.log_stats.malformed} malformed lines skipped (first: "
                  f"{self.log_stats.examples[0]})", file=sys.stderr)

    def _wanted(self, event: AuditEvent) -> bool:
        if self._child is None:
            return True
        record = next((r for r in event.records if r.get("pid") is not None), None)
        if record is None:
            return False
        pid, ppid = record.number("pid"), record.number("ppid")
        if pid in self._tree or ppid in self._tree or (pid is not None and self._descends(pid)):
            self._tree.add(pid or 0)
            return True
        return False

    def _descends(self, pid: int) -> bool:
        """Whether a live process descends from the tree (records like SECCOMP carry no ppid; a process that has
        already gone when its first record is read cannot be placed and is left out). A pid found outside is
        remembered, so a busy machine costs one /proc walk per process, not per event."""
        if pid in self._outside:
            return False
        inside = self._walk(pid)
        if not inside:
            if len(self._outside) > 65536:
                self._outside.clear()
            self._outside.add(pid)
        return inside

    def _walk(self, pid: int) -> bool:
        for _ in range(64):
            parent = ppid_of(pid)
            if parent is None or parent <= 1:
                return False
            if parent in self._tree:
                return True
            pid = parent
        return False

    def _count_kernel_losses(self) -> None:
        try:
            lost = audit_netlink.get_status().get("lost", 0) - self._lost_at_start
        except OSError:
            return
        if lost > 0:
            # The serial gaps count lost events, the kernel counts lost records: the larger is reported, so a loss
            # is never silent and never counted twice (a lost event is at least one lost record).
            self.stats.drops = max(self.stats.drops, lost)
            print(f"syswarden: audit: the kernel lost {lost} records (backlog full or rate limit)", file=sys.stderr)

    @property
    def exit_code(self) -> int | None:
        return None if self._child is None else self._child.returncode

    def close(self) -> None:
        """Stop a still-running command, give the daemon role back, restore audit's enabled state."""
        if self._child is not None and self._child.poll() is None:
            self._child.kill()
            self._child.wait()
        sock, self._socket = self._socket, None
        try:
            if sock is not None:
                self._count_kernel_losses()
                sock.close()
            if self._restore_status:
                audit_netlink.set_status(**self._restore_status)
                self._restore_status = {}
        except OSError as exc:      # never mask what stopped us; say what could not be undone
            print(f"syswarden: audit: could not restore the audit settings: {exc}", file=sys.stderr)
        finally:
            if self._restore_enabled is not None:
                try:
                    if audit_netlink.audit_enabled() == 1:
                        audit_netlink.set_audit_enabled(self._restore_enabled)
                except OSError:
                    pass
                self._restore_enabled = None


def _alive(pid: int) -> bool:
    return pid > 0 and os.path.exists(f"/proc/{pid}")
