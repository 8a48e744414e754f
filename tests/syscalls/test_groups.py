"""systemd syscall groups: nesting, @known, unknown names, and agreement with systemd-analyze."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from syswarden.errors import PolicyError
from syswarden.syscalls import groups, tables


def test_nested_groups_are_expanded() -> None:
    """@default contains @sandbox's members, not the token @sandbox."""
    default = groups.expand("@default")
    assert "@sandbox" not in default and not any(n.startswith("@") for n in default)
    assert set(groups.expand("@sandbox")) <= set(default)
    assert "execve" in default


def test_system_service_contains_network_io() -> None:
    """@system-service includes @network-io (nested) and has no duplicates."""
    svc = groups.expand("@system-service")
    assert set(groups.expand("@network-io")) <= set(svc)
    assert len(svc) == len(set(svc))


def test_known_is_every_table_name_plus_obsolete() -> None:
    """@known covers every syscall any table knows and the @obsolete names."""
    known = set(groups.expand("@known"))
    assert tables.all_names() <= known
    assert set(groups.expand("@obsolete")) <= known


def test_plain_names_pass_through() -> None:
    """A token without @ stands for itself."""
    assert groups.expand("openat") == ("openat",)


def test_unknown_group_names_close_matches() -> None:
    """An unknown group raises PolicyError naming it and suggesting the nearest groups."""
    with pytest.raises(PolicyError, match=r"unknown syscall group '@network-i0'; did you mean @network-io"):
        groups.expand("@network-i0")


def test_every_member_name_is_a_syscall_some_arch_or_libseccomp_knows() -> None:
    """Group members are real syscall names, save a few aliases systemd lists for portability."""
    unknown = {m for g in groups.groups() for m in groups.expand(g)} - tables.all_names()
    assert unknown <= {"fstatat", "llseek", "newfstat"}, sorted(unknown)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_agrees_with_systemd_analyze() -> None:
    """For @network-io, systemd-analyze lists a subset of our (newer) group."""
    out = subprocess.run(["systemd-analyze", "syscall-filter", "@network-io"], capture_output=True,
                         text=True, check=True, timeout=30).stdout
    theirs = {ln.strip() for ln in out.splitlines()[1:] if ln.strip() and not ln.strip().startswith("#")}
    assert theirs and theirs <= set(groups.expand("@network-io"))
