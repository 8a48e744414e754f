"""Tests for container identification from cgroup paths (syswarden.state.containers)."""
from __future__ import annotations

import pytest

from syswarden.state.containers import HOST, parse_cgroup_lines, parse_cgroup_path, parse_cgroups_param

ID = "3f9a0f4e5b6c7d8e9f00112233445566778899aabbccddeeff00112233445566"

CASES = [
    (f"12:memory:/docker/{ID}", "docker"),
    (f"0::/system.slice/docker-{ID}.scope", "docker"),
    (f"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod4a1b_2c3d.slice/cri-containerd-{ID}.scope",
     "containerd"),
    (f"0::/system.slice/containerd.service/kubepods-burstable-pod4a1b_2c3d.slice:cri-containerd:{ID}", "containerd"),
    (f"11:cpuset:/kubepods/besteffort/pod5ea9b7f1-1111-2222-3333-444455556666/{ID}", "cri"),
    (f"0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/crio-{ID}.scope", "cri-o"),
    (f"0::/machine.slice/libpod-{ID}.scope", "podman"),
    (f"0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope/container", "podman"),
]


@pytest.mark.parametrize(("line", "runtime"), CASES)
def test_real_world_cgroup_lines(line: str, runtime: str) -> None:
    """Each runtime's cgroup layout yields the 12-hex id and the runtime name."""
    ref = parse_cgroup_lines([line])
    assert (ref.id, ref.full_id, ref.runtime) == (ID[:12], ID, runtime)


@pytest.mark.parametrize("line", [
    "0::/user.slice/user-0.slice/session-1.scope",
    "0::/init.scope",
    f"0::/machine.slice/libpod-conmon-{ID}.scope",
    f"0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/crio-conmon-{ID}.scope",
    "4:memory:/process_api/3ccbbf5c7d7a125d14da1ecfc1ad8e3e",
    "0::/",
])
def test_host_and_monitor_processes_are_host(line: str) -> None:
    """Host sessions and the runtimes' conmon monitors are not containers."""
    assert parse_cgroup_lines([line]) is HOST


def test_lxc_names() -> None:
    """LXC containers are identified by name."""
    assert parse_cgroup_path("/lxc.payload.web1").id == "web1"
    assert parse_cgroup_path("/lxc/web2").runtime == "lxc"


def test_event_cgroups_param_forms() -> None:
    """The clone/execve ``cgroups`` param works as a list and as NUL-separated bytes."""
    items = ["cpuset=/", f"memory=/docker/{ID}"]
    assert parse_cgroups_param(items).id == ID[:12]
    assert parse_cgroups_param("\0".join(items).encode()).runtime == "docker"
    assert parse_cgroups_param(None) is HOST


def test_own_process_is_host() -> None:
    """This test process (not in a container runtime cgroup) parses as host from its real /proc file."""
    with open("/proc/self/cgroup") as f:
        assert parse_cgroup_lines(f) is HOST
