"""The prefilter's map encoding (sources/ebpf/kernel_tables): layouts agree with probe.h (compiled), one
trie lookup answers for every stored prefix, and the directory-fd state need is dropped."""
from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from syswarden.events.prefilter import Box, PathTest, Prefilter, RetSign, TypeFilter
from syswarden.sources.ebpf import kernel_tables as kt

PROBE_DIR = Path(kt.__file__).parent


def test_map_value_layouts_match_probe_h(tmp_path: Path) -> None:
    """sizeof of each struct the loader packs, as gcc lays out probe.h, equals the Python struct size."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    src = tmp_path / "sizes.c"
    src.write_text('#include <stdio.h>\n#include <linux/types.h>\n#include "probe.h"\nint main(void) {\n'
                   'printf("%zu %zu %zu %zu %zu\\n", sizeof(struct type_info), sizeof(struct pf_type),'
                   ' sizeof(struct pf_path_key), sizeof(struct pf_id_key), sizeof(struct pf_id_val));\n}\n')
    exe = tmp_path / "sizes"
    subprocess.run(["gcc", "-I", str(PROBE_DIR), "-o", str(exe), str(src)], check=True)
    sizes = [int(x) for x in subprocess.run([str(exe)], capture_output=True, text=True).stdout.split()]
    assert sizes == [kt.TYPE_INFO_SIZE, kt.PF_TYPE_SIZE, kt.PATH_KEY_SIZE, kt.ID_KEY_SIZE, kt.ID_VAL_SIZE]


def _mask(tables: kt.KernelTables, kind: int, data: bytes) -> int | None:
    for key, mask in tables.paths.items():
        plen, raw = struct.unpack_from(f"<I{kt.PF_KEY_DATA}s", key)
        if raw[0] & 3 == kind and raw[2:plen // 8] == data:
            return mask
    return None


def test_longest_match_carries_every_shorter_prefix() -> None:
    """Box 0 wants /etc/, box 1 /etc/ssh/, box 2 the exact /etc/ssh/key: the exact key's value holds all three
    bits, /etc/ssh/'s the first two, and an exact name carries its NUL (it is not a prefix)."""
    boxes = (Box(path=PathTest(prefixes=frozenset({"/etc/"}))), Box(path=PathTest(prefixes=frozenset({"/etc/ssh/"}))),
             Box(path=PathTest(exact=frozenset({"/etc/ssh/key"}))))
    pf = Prefilter(filters={"openat": TypeFilter("openat", boxes, path_param="name")})
    tables = kt.compile_filter(pf, {"openat"}, 0)
    assert _mask(tables, kt.PFK_NAMES, b"/etc/") == 0b001
    assert _mask(tables, kt.PFK_NAMES, b"/etc/ssh/") == 0b011
    assert _mask(tables, kt.PFK_NAMES, b"/etc/ssh/key\0") == 0b111
    assert _mask(tables, kt.PFK_NAMES, b"/etc/ssh/key") is None


def test_directory_fd_state_need_is_dropped_only_alone() -> None:
    """A box serving only state's directory-fd need goes (the probe resolves relative paths); one that also
    serves a rule stays."""
    need = "state: a directory fd names later relative paths (openat dirfd, fchdir)"
    boxes = (Box(ret=RetSign.OK, returns_dir=True, origins=(need,)),
             Box(ret=RetSign.OK, returns_dir=True, origins=(need, "Some rule")),
             Box(path=PathTest(exact=frozenset({"/etc/shadow"})), origins=("Read sensitive file",)))
    pf = Prefilter(filters={"openat": TypeFilter("openat", boxes, path_param="name")})
    kept = kt.effective_prefilter(pf)
    assert kept is not None and kept.filters["openat"].boxes == boxes[1:]
    assert kt.effective_prefilter(None) is None
