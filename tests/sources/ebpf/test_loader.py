"""Probe loading and its maps, checked through bpftool (the kernel's view), plus libbpf error translation."""
from __future__ import annotations

import json
import os
import struct
import subprocess
from pathlib import Path

import pytest

from syswarden.errors import KernelError
from syswarden.kernel import libbpf
from syswarden.sources.ebpf.loader import MODE_TREE, Probe, ringbuf_size
from syswarden.sources.syscall_decode import SPECS

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("ebpf")]


def map_id(fd: int) -> int:
    """The kernel id of the map behind one of our fds (from /proc/self/fdinfo)."""
    for line in Path(f"/proc/self/fdinfo/{fd}").read_text().splitlines():
        if line.startswith("map_id:"):
            return int(line.split()[1])
    raise AssertionError(f"fd {fd} is not a BPF map")


def bpftool_lookup(mid: int, key: bytes) -> bytes:
    out = subprocess.run(["bpftool", "map", "lookup", "id", str(mid), "key", *[str(b) for b in key], "-j"],
                         capture_output=True, text=True, check=True).stdout
    return bytes(int(b, 16) for b in json.loads(out)["value"])


def test_syscall_table_and_settings_as_the_kernel_sees_them() -> None:
    """Spec words, the target settings and traced pids written by the loader read back through bpftool."""
    with Probe(ringbuf_bytes=1 << 16) as probe:
        probe.set_syscalls({257: (SPECS["openat"].word, 7), 82: (SPECS["rename"].word, 9)})
        probe.set_syscalls({257: (SPECS["openat"].word, 7)})           # rename is switched off again, live
        probe.configure(mode=MODE_TREE, self_tgid=os.getpid(), cgroup_id=42, filter_on=True, generation=1)
        probe.trace_tgids([12345])
        fds = probe._fds
        assert struct.unpack("<II", bpftool_lookup(map_id(fds["syscalls"]), struct.pack("<I", 257))) == \
            (SPECS["openat"].word, 7)
        assert struct.unpack("<II", bpftool_lookup(map_id(fds["syscalls"]), struct.pack("<I", 82))) == (0, 0)
        assert struct.unpack("<IIQIII4x", bpftool_lookup(map_id(fds["settings"]), bytes(4))) == (
            MODE_TREE, os.getpid(), 42, 1, 1, 0)
        assert bpftool_lookup(map_id(fds["traced"]), struct.pack("<I", 12345)) == struct.pack("<I", 1)
        assert set(probe.counters()) == set(range(probe.ncpus))


def test_ring_buffer_size_is_a_power_of_two_pages() -> None:
    """Requested sizes round up to what BPF_MAP_TYPE_RINGBUF accepts, and the kernel map has that size."""
    assert [ringbuf_size(n) for n in (1, 4096, 5000, 3 << 20)] == [4096, 4096, 8192, 4 << 20]
    with Probe(ringbuf_bytes=5000) as probe:
        info = json.loads(subprocess.run(["bpftool", "map", "show", "id", str(map_id(probe.ringbuf_fd)), "-j"],
                                         capture_output=True, text=True, check=True).stdout)
        assert info["max_entries"] == 8192 and info["type"] == "ringbuf"


def test_libbpf_failures_become_kernel_errors(tmp_path: Path) -> None:
    """A missing or malformed object file is a KernelError naming the file, not a crash."""
    with pytest.raises(KernelError, match="opening BPF object"):
        libbpf.BpfObject(str(tmp_path / "missing.bpf.o"))
    bad = tmp_path / "bad.bpf.o"
    bad.write_bytes(b"\x7fELF" + bytes(60))
    with pytest.raises(KernelError, match=r"bad\.bpf\.o"):
        libbpf.BpfObject(str(bad))
