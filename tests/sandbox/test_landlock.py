"""Landlock rules: planning per ABI, and enforcement checked against the real kernel in child processes."""
from __future__ import annotations

import pytest

from syswarden.errors import InputError, KernelError, PolicySyntaxError
from syswarden.kernel.landlock_abi import FsAccess, NetAccess
from syswarden.policy import landlock as pl
from syswarden.sandbox import landlock as ll

from .conftest import free_ports, run_child

CHILD_PRELUDE = """
import os, socket, sys
from syswarden.policy import landlock as pl
from syswarden.sandbox import landlock as ll
"""


def test_plan_on_abi_1_reports_truncate_and_network_not_enforced() -> None:
    """On ABI 1 truncate cannot be denied and TCP port rules are reported as not enforced."""
    spec = pl.spec_from_flags(fs_read=("/usr",), net_bind=(8080,))
    report = ll.plan(spec, 1)
    assert not report.fs_handled & FsAccess.TRUNCATE
    assert report.net_handled == NetAccess(0)
    text = "\n".join(report.not_enforced)
    assert "truncate" in text and "TCP bind" in text and "rename/link" in text


def test_plan_on_abi_7_enforces_everything_requested() -> None:
    """ABI 7 handles every filesystem right and the requested TCP right only."""
    report = ll.plan(pl.spec_from_flags(fs_read=("/usr",), net_connect=(443,)), 7)
    assert report.not_enforced == ()
    assert report.fs_handled & FsAccess.IOCTL_DEV
    assert report.net_handled == NetAccess.CONNECT_TCP


def test_plan_without_landlock_reports_filesystem_not_enforced() -> None:
    """ABI 0 (no Landlock) handles nothing and says so."""
    report = ll.plan(pl.spec_from_flags(fs_write=("/tmp",)), 0)
    assert not report.enforced
    assert any("not available" in line for line in report.not_enforced)


def test_require_rejects_lower_abi() -> None:
    """--require-landlock N fails with a KernelError when the ABI is lower."""
    with pytest.raises(KernelError, match="ABI 9 required"):
        ll.require(ll.plan(pl.spec_from_flags(fs_read=("/usr",)), 7), 9)


def test_missing_path_is_an_input_error() -> None:
    """A rule on a path that does not exist is refused before anything runs."""
    with pytest.raises(InputError, match="does not exist"):
        ll.check_paths(pl.spec_from_flags(fs_read=("/nonexistent/syswarden-test",)))


def test_bad_port_is_rejected() -> None:
    """A port outside 0-65535 is a PolicySyntaxError."""
    with pytest.raises(PolicySyntaxError, match="TCP port"):
        pl.spec_from_flags(net_bind=(70000,))


@pytest.mark.kernel
def test_fs_rules_deny_outside_and_allow_inside(tmp_path, landlock_abi_version) -> None:
    """Reading /etc/hostname fails with EACCES while writing inside the allowed dir works."""
    result = run_child(CHILD_PRELUDE + f"""
spec = pl.spec_from_flags(fs_read=("/usr", "/lib", "/lib64"), fs_write=({str(tmp_path)!r},))
ll.apply(spec)
try:
    open("/etc/hostname").read()
    print("read-ok")
except PermissionError as e:
    print("read-denied", e.errno)
with open({str(tmp_path / 'out.txt')!r}, "w") as f:
    f.write("hello")
print("write-ok")
""")
    assert result.returncode == 0, result.stderr
    assert "read-denied 13" in result.stdout
    assert "write-ok" in result.stdout
    assert (tmp_path / "out.txt").read_text() == "hello"


@pytest.mark.kernel
def test_tcp_bind_rule_allows_only_listed_port(landlock_abi_version) -> None:
    """With a bind rule for one port, binding another port fails with EACCES."""
    if landlock_abi_version < 4:
        pytest.skip("TCP rules need Landlock ABI 4")
    allowed, other = free_ports(2)
    result = run_child(CHILD_PRELUDE + f"""
ll.apply(pl.spec_from_flags(net_bind=({allowed},)))
for port in ({allowed}, {other}):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port)); print(port, "bound")
    except OSError as e:
        print(port, "denied", e.errno)
    s.close()
""")
    assert result.returncode == 0, result.stderr
    assert f"{allowed} bound" in result.stdout
    assert f"{other} denied 13" in result.stdout


@pytest.mark.kernel
def test_degraded_plan_enforces_files_but_not_ports(tmp_path, landlock_abi_version) -> None:
    """Planned for ABI 3 (as on Linux 6.2), file rules are enforced and TCP rules are reported and not applied."""
    port, = free_ports(1)
    result = run_child(CHILD_PRELUDE + f"""
spec = pl.spec_from_flags(fs_read=("/usr", "/lib", "/lib64"), fs_write=({str(tmp_path)!r},), net_bind=(1,))
report = ll.plan(spec, 3)
print("not enforced:", any("TCP bind" in w for w in report.not_enforced))
ll.enforce(spec, report)
s = socket.socket(); s.bind(("127.0.0.1", {port})); print("bound")
try:
    open("/etc/hostname").read()
except PermissionError as e:
    print("read-denied", e.errno)
""")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:3] == ["not enforced: True", "bound", "read-denied 13"]
