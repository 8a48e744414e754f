"""Fixtures for the eBPF source tests: skip cleanly without root/BTF/toolchain, and prove no link leaks."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from syswarden.sources.ebpf.loader import PROGRAMS


def _held_links() -> set[int]:
    """Ids of the BPF links this test process holds an fd to (an unpinned link lives exactly as long)."""
    ids = set()
    for fd in os.listdir("/proc/self/fdinfo"):
        try:
            text = Path(f"/proc/self/fdinfo/{fd}").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("link_id:"):
                ids.add(int(line.split()[1]))
    return ids


def _our_links() -> set[int]:
    """Links attached to one of the probe's programs (by name) that this process holds, as bpftool lists them.

    Other engineers' monitors may run probes at the same time on this machine: only our own count."""
    links = json.loads(subprocess.run(["bpftool", "link", "list", "-j"], capture_output=True, text=True,
                                      check=True).stdout or "[]")
    progs = json.loads(subprocess.run(["bpftool", "prog", "list", "-j"], capture_output=True, text=True,
                                      check=True).stdout or "[]")
    probe_progs = {p["id"] for p in progs if p.get("name") in PROGRAMS}
    held = _held_links()
    return {link["id"] for link in links if link.get("prog_id") in probe_progs and link["id"] in held}


def ebpf_unavailable() -> str | None:
    """Why the eBPF source cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root"
    if not Path("/sys/kernel/btf/vmlinux").exists():
        return "kernel has no BTF"
    if shutil.which("bpftool") is None:
        return "bpftool missing"
    try:
        from syswarden.sources.ebpf.loader import build_probe
        build_probe()
    except Exception as exc:  # noqa: BLE001 - any build failure means: skip with its reason
        return f"probe does not build: {exc}"
    return None


@pytest.fixture
def ebpf() -> Iterator[None]:
    """Skip without eBPF; afterwards assert that no link of ours is left attached."""
    reason = ebpf_unavailable()
    if reason:
        pytest.skip(reason)
    before = _our_links()
    yield
    leaked = _our_links() - before
    assert not leaked, f"BPF links left attached: {sorted(leaked)}"
    assert not _held_links() - before, "BPF link fds left open"
