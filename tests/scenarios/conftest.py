"""Scenario fixtures: run ``syswarden monitor`` with the stock Falco rules on a real command, over each live
source, and hand back the alerts (Falco JSON) it printed. Also: scratch paths in system directories that are
always removed, and a throwaway cgroup named like a Docker container's.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

RULES_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "anchors" / "falco"
RULES = ("falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml")
SYSWARDEN = [sys.executable, "-m", "syswarden"]
# A real interpreter binary (not a pyenv shim script), so a symlink to it keeps its own name as comm.
PY3 = os.path.realpath(sys.executable)


def _ebpf_reason() -> str | None:
    if os.geteuid() != 0:
        return "eBPF needs root"
    if not Path("/sys/kernel/btf/vmlinux").exists():
        return "kernel has no BTF"
    try:
        from syswarden.sources.ebpf.loader import build_probe
        build_probe()
    except Exception as exc:  # noqa: BLE001 - any build failure: skip with its reason
        return f"probe does not build: {exc}"
    return None


@pytest.fixture(params=["ebpf", "ptrace"])
def source(request: pytest.FixtureRequest) -> str:
    """Each scenario runs once per live source; a source the machine cannot run is skipped with its reason."""
    if not RULES_DIR.joinpath(RULES[0]).exists():
        pytest.skip(f"stock rules not found in {RULES_DIR}")
    if request.param == "ebpf" and (reason := _ebpf_reason()):
        pytest.skip(reason)
    return str(request.param)


def monitor(source: str, script: str, *, timeout: float = 60, enable: tuple[str, ...] = (), rules: str = "",
            options: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Alerts ``syswarden monitor --source SOURCE`` raised (every matching rule) while ``sh`` ran SCRIPT, with
    the stock, incubating and sandbox rules, the rules named in ``enable`` enabled (they are off by default),
    ``rules`` (YAML) loaded after them, and ``options`` (more monitor flags)."""
    args = [*SYSWARDEN, "monitor", "--source", source, "--json", "--all-matches", "-q", *options]
    for name in RULES:
        args += ["-r", str(RULES_DIR / name)]
    with tempfile.TemporaryDirectory() as extra:
        if enable or rules:
            path = Path(extra) / "overrides.yaml"
            path.write_text("".join(f"- rule: {name}\n  enabled: true\n" for name in enable) + rules)
            args += ["-r", str(path)]
        # from a file, so the shell's own command line does not hold every word of the script
        (Path(extra) / "script.sh").write_text(script + "\n")
        proc = subprocess.run([*args, "--", "/bin/sh", str(Path(extra) / "script.sh")], capture_output=True,
                              text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def named(directory: Path, *names: str) -> dict[str, Path]:
    """Symlinks called ``names`` to the real Python interpreter, in ``directory``: run as ``NAME -c CODE``, each is
    a process whose comm, argv[0] and executable name are NAME (what rules match tools by)."""
    out = {}
    for name in names:
        out[name] = directory / name
        out[name].symlink_to(PY3)
    return out


def fired(alerts: list[dict[str, Any]], rule: str) -> list[dict[str, Any]]:
    """The output_fields of every alert of ``rule``."""
    return [a["output_fields"] for a in alerts if a["rule"] == rule]


@pytest.fixture
def scratch_name() -> str:
    """A name no real file has (for files the test creates in system directories)."""
    return f"syswarden-test-{secrets.token_hex(4)}"


@pytest.fixture
def system_paths() -> Iterator[list[Path]]:
    """Paths a test creates outside its tmp dir; every one is removed afterwards, even on failure."""
    paths: list[Path] = []
    yield paths
    for p in paths:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)


@pytest.fixture
def container_cgroup() -> Iterator[Path]:
    """A cgroup v2 directory named like a Docker container's scope; removed once its processes are gone."""
    from syswarden.sources.targets import CgroupPaths

    root = CgroupPaths().root
    if os.geteuid() != 0 or not root:
        pytest.skip("needs root and a cgroup2 mount")
    path = Path(root) / f"docker-{secrets.token_hex(32)}.scope"
    path.mkdir()
    yield path
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            path.rmdir()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"could not remove cgroup {path}")
