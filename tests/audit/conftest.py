"""Shared fixtures of the audit tests: the reference data, and a guard that leaves the kernel's audit state (rules,
daemon pid, enabled) as it found it, even when a test fails."""
from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ANCHORS = Path("/work/shared/anchors/audit")


def anchors() -> Path:
    if not ANCHORS.is_dir():
        pytest.skip("the shared audit reference data is not on this machine")
    return ANCHORS


def auditctl() -> str:
    path = shutil.which("auditctl")
    if path is None:
        pytest.skip("auditctl (package auditd) is not installed")
    return path


def kernel_audit_usable() -> None:
    from syswarden.kernel import audit_netlink
    if os.geteuid() != 0:
        pytest.skip("needs root (CAP_AUDIT_CONTROL)")
    try:
        status = audit_netlink.get_status()
    except OSError as exc:
        pytest.skip(f"audit netlink unusable: {exc}")
    if status.get("enabled") == 2:
        pytest.skip("audit is locked (enabled 2)")


class KernelRules:
    """Rules this test added: deleted by exact match on the way out (never -D: others' rules stay)."""

    def __init__(self) -> None:
        from syswarden.kernel import audit_netlink
        self._netlink = audit_netlink
        self.before = set(audit_netlink.list_rules())

    def ours(self) -> list[bytes]:
        """Rules now in the kernel that were not there when the guard started."""
        return [raw for raw in self._netlink.list_rules() if raw not in self.before]

    def cleanup(self) -> None:
        for raw in reversed(self.ours()):
            try:
                self._netlink.delete_rule(raw)
            except OSError:
                pass


@pytest.fixture
def kernel_rules() -> Iterator[KernelRules]:
    """Delete every rule added during the test (exactly those), whatever happens."""
    kernel_audit_usable()
    guard = KernelRules()
    try:
        yield guard
    finally:
        guard.cleanup()


def run_auditctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([auditctl(), *args], capture_output=True, text=True, timeout=30)


class AuditState:
    """The machine-wide audit state a test may change: rules, daemon pid, enabled, backlog and failure settings.
    ``restore()`` puts back
    what it found: rules added are deleted exactly, a daemon left by a process that died (a crashed source) is
    released (the kernel drops a dead daemon at its next record; a configuration record is one), and enabled
    goes back to what it was (never touched when locked)."""

    def __init__(self) -> None:
        from syswarden.kernel import audit_netlink
        self.netlink = audit_netlink
        self.before = audit_netlink.get_status()
        self.rules = KernelRules()

    def restore(self) -> None:
        nl = self.netlink
        self.rules.cleanup()
        status = nl.get_status()
        if status.get("enabled") == 2:
            return
        pid = status.get("pid", 0)
        if pid and pid != self.before.get("pid") and not os.path.exists(f"/proc/{pid}"):
            nl.set_audit_enabled(1)          # the CONFIG_CHANGE record makes the kernel drop the dead daemon
        wanted = self.before.get("enabled", 0)
        if nl.get_status().get("enabled") != wanted and wanted in (0, 1):
            nl.set_audit_enabled(wanted)
        now = nl.get_status()
        changed = {k: self.before[k] for k in ("backlog_limit", "backlog_wait_time", "rate_limit", "failure")
                   if k in self.before and now.get(k) != self.before[k]}
        if changed:
            nl.set_status(**changed)


@pytest.fixture
def audit_state() -> Iterator[AuditState]:
    kernel_audit_usable()
    state = AuditState()
    try:
        yield state
    finally:
        state.restore()


@pytest.fixture
def quiet_audit(audit_state: AuditState) -> AuditState:
    """``audit_state``, for tests that take the daemon role themselves: skipped while another audit daemon
    (auditd, another test's) holds it, as the role is machine-global."""
    pid = audit_state.before.get("pid", 0)
    if pid and os.path.exists(f"/proc/{pid}"):
        pytest.skip(f"an audit daemon (pid {pid}) holds the audit role; these tests take it themselves")
    return audit_state
