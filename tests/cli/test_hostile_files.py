"""Every command-line front door that reads a file, given a FIFO (the open blocks until a writer comes) or
/dev/zero (never ends): a clear error naming the file and exit 2, under a memory bound and a timeout, never a
hang, a MemoryError or a traceback."""
from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

SYSWARDEN = [sys.executable, "-m", "syswarden"]
# {f}: the hostile file; each command reads it before doing anything else
FRONT_DOORS = [
    "audit check {f}", "audit translate {f}", "audit search {f}", "audit report {f}", "audit load {f}",
    "capture -r {f}", "capture -r {scap}", "capture -r {jsonl}", "convert {f} --to yaml",
    "monitor --replay {f}", "monitor -c {f} --replay {ok}", "monitor -r {f} --replay {ok}",
    "record --merge {f} -o {out} -- true", "record --widen {f} -o {out} -- true", "record --from {f} --pid 1 -o {out}",
    "rules validate {f}", "rules list -r {f}", "run --policy {f} -- true", "run --apparmor {f} -- true",
    "compile {f}", "disasm {f}", "check {f} read", "config validate {f}", "config show -c {f}",
]


def _bounded() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("kind", ["fifo", "/dev/zero"])
@pytest.mark.parametrize("door", FRONT_DOORS)
def test_a_fifo_or_endless_device_is_refused_by_name(door: str, kind: str, fifo: Path, tmp_path: Path) -> None:
    hostile = str(fifo) if kind == "fifo" else kind
    # the same, named as a recording is (the reader is chosen by suffix when the content cannot be read)
    for suffix in (".scap", ".jsonl"):
        (tmp_path / f"x{suffix}").symlink_to(hostile)
    ok = tmp_path / "empty.jsonl"
    ok.write_text("")
    args = door.format(f=hostile, ok=ok, out=tmp_path / "out.yaml", scap=tmp_path / "x.scap",
                       jsonl=tmp_path / "x.jsonl").split()
    proc = subprocess.run([*SYSWARDEN, *args], capture_output=True, text=True, timeout=60, preexec_fn=_bounded,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 2, proc.stderr
    said = proc.stderr + proc.stdout          # rules validate reports in its table on stdout, as falco -V
    assert "Traceback" not in said and "MemoryError" not in said
    assert (hostile in said or str(tmp_path / "x.") in said) and "not a regular file" in said, said
