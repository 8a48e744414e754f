"""The audit netlink control messages syswarden uses: reading and (temporarily) setting audit's enabled state."""
from __future__ import annotations

import subprocess

import pytest

from syswarden.kernel import audit_netlink


def _auditctl_enabled() -> int:
    status = subprocess.run(["auditctl", "-s"], capture_output=True, text=True, check=True).stdout
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("enabled ")))


def _readable() -> int:
    try:
        return audit_netlink.audit_enabled()
    except OSError:
        pytest.skip("no CAP_AUDIT_CONTROL")


@pytest.mark.kernel
def test_audit_enabled_agrees_with_auditctl() -> None:
    try:
        expected = _auditctl_enabled()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("auditctl is not usable here")
    assert _readable() == expected


@pytest.mark.kernel
def test_set_audit_enabled_round_trip() -> None:
    """Switching audit on (when it is off) and back leaves it as it was. Audit that is on is set on again (never
    switched off, even briefly: someone relies on it); a locked (2) configuration is never touched."""
    before = _readable()
    if before == 2:
        pytest.skip("audit is locked until reboot")
    try:
        audit_netlink.set_audit_enabled(1)
        assert audit_netlink.audit_enabled() == 1
    finally:
        audit_netlink.set_audit_enabled(before)
    assert audit_netlink.audit_enabled() == before


def test_locking_is_refused_before_any_kernel_call() -> None:
    with pytest.raises(ValueError, match="2 would lock"):
        audit_netlink.set_audit_enabled(2)
