"""One policy file through every command that reads policies (issue 15 item 1): an OCI runtime config.json
(whose linux.seccomp is the profile) and a native policy with a landlock: section give the same seccomp
behaviour in compile, check, convert and run, and each command says which part it acts on."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PY = sys.executable
BIND = "import socket\ntry:\n    socket.socket().bind(('127.0.0.1', 0)); print('bound')\nexcept OSError as e:\n" \
       "    print('errno', e.errno)\n"


def sw(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PY, "-m", "syswarden", *args], capture_output=True, text=True, timeout=120)


@pytest.fixture()
def oci_config(tmp_path: Path) -> Path:
    """An OCI runtime config whose seccomp profile allows everything but bind (EACCES)."""
    seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
               "syscalls": [{"names": ["bind"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}
    config = {"ociVersion": "1.0.2", "process": {"args": ["sh"]}, "root": {"path": "rootfs"},
              "linux": {"namespaces": [{"type": "pid"}], "seccomp": seccomp}}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config, indent=2))
    return path


def test_oci_config_in_every_command(oci_config: Path, tmp_path: Path) -> None:
    compiled = sw("compile", str(oci_config), "--arch", "x86_64")
    assert compiled.returncode == 0, compiled.stderr
    checked = sw("check", str(oci_config), "bind", "--no-path")
    assert checked.returncode == 0 and "ERRNO(13)" in checked.stdout, checked.stderr
    converted = sw("convert", str(oci_config), "--to", "yaml")
    assert converted.returncode == 0 and "bind" in converted.stdout, converted.stderr
    ran = sw("run", "--policy", str(oci_config), "--", PY, "-c", BIND)
    assert ran.returncode == 0 and ran.stdout.strip() == "errno 13", ran.stderr
    # the converted native policy behaves the same under run
    native = tmp_path / "converted.yaml"
    native.write_text(converted.stdout)
    again = sw("run", "--policy", str(native), "--", PY, "-c", BIND)
    assert again.stdout.strip() == "errno 13", again.stderr


def test_landlock_section_in_every_command(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text("default: allow\nrules:\n  - syscalls: [bind]\n    action: errno(13)\n"
                      "landlock:\n  paths:\n    - path: /\n      allow: [read, execute]\n  net:\n    connect: [443]\n")
    for args, verb in ((("compile", str(policy)), "compiling"), (("check", str(policy), "bind"), "checking")):
        result = sw(*args)
        assert result.returncode == 0, result.stderr
        assert f"note: {verb} the seccomp part of {policy}; its landlock: section" in result.stderr
    assert "ERRNO(13)" in sw("check", str(policy), "bind").stdout
    to_yaml = sw("convert", str(policy), "--to", "yaml")
    assert to_yaml.returncode == 0 and "landlock:" in to_yaml.stdout and "connect: [443]" in to_yaml.stdout
    round_trip = tmp_path / "again.yaml"
    round_trip.write_text(to_yaml.stdout)
    assert sw("convert", str(round_trip), "--to", "yaml").stdout == to_yaml.stdout
    to_docker = sw("convert", str(policy), "--to", "docker")
    assert to_docker.returncode == 0 and "has no place for the landlock: section" in to_docker.stderr
    ran = sw("run", "--policy", str(policy), "--", PY, "-c", BIND)
    assert ran.returncode == 0 and ran.stdout.strip() == "errno 13", ran.stderr
