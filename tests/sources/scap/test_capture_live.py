"""`syswarden capture -w` with a live source: the written capture reads back in sysdig 0.29 and in syswarden."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from syswarden.cli.main import cli
from syswarden.errors import SyswardenError
from syswarden.sources.base import SourceConfig, open_source

pytestmark = pytest.mark.kernel


def record(tmp_path: Path, source: str, out: Path) -> Path:
    if os.geteuid() != 0:
        pytest.skip("live capture needs root")
    probe = tmp_path / "probe.txt"
    probe.write_text("hello\n")
    result = CliRunner(mix_stderr=False).invoke(cli, ["capture", "-w", str(out), "--source", source, "--",
                                                      "cat", str(probe)])
    if isinstance(result.exception, SyswardenError) and result.exception.exit_code == 1:
        pytest.skip(f"{source} source unavailable here: {result.exception}")
    assert result.exit_code == 0, result.stderr or repr(result.exception)
    assert "hello" in result.stdout or out.exists()
    return probe


@pytest.mark.parametrize("source", ["ptrace", "ebpf"])
def test_recorded_scap_reads_in_sysdig(source: str, tmp_path: Path) -> None:
    """cat's openat of a file it reads shows in sysdig -r with the file name, O_RDONLY and the process names."""
    if shutil.which("sysdig") is None:
        pytest.skip("sysdig is not installed")
    import subprocess

    # a loaded 2-core machine can make a live source lose events (counted as drops); try a few recordings
    for attempt in range(3):
        out = tmp_path / f"live{attempt}.scap.gz"
        probe = record(tmp_path, source, out)
        proc = subprocess.run(["sysdig", "-r", str(out), "-p", "%evt.type %proc.name %fd.name %evt.arg.flags",
                               f"evt.type in (open, openat) and evt.dir=< and fd.name={probe}"],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, f"sysdig cannot read {out}: {proc.stderr.strip()}"
        lines = proc.stdout.split("\n")
        if any(line.endswith("O_RDONLY") for line in lines):
            break
    assert f"openat cat {probe} O_RDONLY" in lines or f"open cat {probe} O_RDONLY" in lines, lines[:5]
    ours = [e for e in open_source("scap", SourceConfig(path=str(out))).events()
            if e.type in ("open", "openat") and e.dir == "<" and e.params.get("name") == str(probe)]
    assert ours and ours[0].params["flags"] & 0o3 == os.O_RDONLY


def test_recorded_jsonl_reads_back(tmp_path: Path) -> None:
    """-w FILE.jsonl writes the JSONL replay format, which capture --read filters like a scap file."""
    out = tmp_path / "live.jsonl"
    probe = record(tmp_path, "ptrace", out)
    result = CliRunner(mix_stderr=False).invoke(cli, ["capture", "-r", str(out), "-p", "%evt.type %proc.name",
                                                      f"fd.name={probe} and evt.type in (open, openat)"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.split("\n")[0] in ("openat cat", "open cat")


@pytest.mark.parametrize("source", ["ptrace", "ebpf"])
def test_recorded_command_keeps_its_parent_and_cwd(source: str, tmp_path: Path, monkeypatch) -> None:
    """The command is in the recording's thread table as it was before its exec, so sysdig resolves a relative
    path against the cwd it inherited and names syswarden as its parent."""
    if shutil.which("sysdig") is None:
        pytest.skip("sysdig is not installed")
    import subprocess

    if os.geteuid() != 0:
        pytest.skip("live capture needs root")
    (tmp_path / "rel.txt").write_text("hello\n")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "rel.scap"
    result = CliRunner(mix_stderr=False).invoke(cli, ["capture", "-w", str(out), "--source", source, "--",
                                                      "cat", "rel.txt"])
    if isinstance(result.exception, SyswardenError) and result.exception.exit_code == 1:
        pytest.skip(f"{source} source unavailable here: {result.exception}")
    assert result.exit_code == 0, result.stderr or repr(result.exception)
    proc = subprocess.run(["sysdig", "-r", str(out), "-p", "%proc.name %proc.cwd %fd.name",
                           "evt.type in (open, openat) and evt.dir=< and fd.name contains rel.txt"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [f"cat {tmp_path}/ {tmp_path}/rel.txt"]
