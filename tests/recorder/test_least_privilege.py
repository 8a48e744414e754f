"""Least privilege (issue 17): what a run did not do stays denied — by the seccomp part (a profile of ``true``
refuses a listening socket) and by the Landlock part (a profile of ``cat FILE`` refuses other files and every
port)."""
from __future__ import annotations

from pathlib import Path

import pytest

from syswarden.policy.formats.native_yaml import load
from syswarden.policy.model import ActionKind
from syswarden.seccomp.compiler import compile_policy
from syswarden.seccomp.explain import explain
from syswarden.syscalls.arch import Arch
from tests.recorder.conftest import bare, confined, record

pytestmark = pytest.mark.kernel

LISTEN = ["/usr/bin/python3", "-c",
          ("import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); "
           "print('listening', s.getsockname()[1])")]


@pytest.mark.parametrize("backend", ["ptrace", "ebpf"])
def test_profile_of_true_refuses_a_listening_socket(backend: str, tmp_path: Path) -> None:
    policy_file, recorded = record(tmp_path, ["true"], backend=backend)
    assert recorded.returncode == 0
    assert "listening" in bare(LISTEN).stdout
    run = confined(policy_file, LISTEN)
    assert run.returncode != 0 and "listening" not in run.stdout
    # the filter itself, as the kernel will run it, denies each step of opening a listening socket
    compiled = compile_policy(load(policy_file.read_text()))
    for name in ("socket", "bind", "listen", "accept4"):
        assert explain(compiled, Arch.X86_64, name).action & 0xFFFF0000 == ActionKind.ERRNO.value, name


def _landlock_only(policy_file: Path, tmp: Path) -> Path:
    """The recorded Landlock section under an allow-everything seccomp part: what is refused is Landlock's doing."""
    text = policy_file.read_text()
    section = text[text.index("\nlandlock:") + 1:]
    out = tmp / "landlock-only.yaml"
    out.write_text("default: allow\n" + section)
    return out


def test_cat_profile_with_landlock_refuses_other_files_and_every_port(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "file.txt").write_text("the file\n")
    (data / "sibling.txt").write_text("same directory\n")
    (tmp_path / "other.txt").write_text("outside\n")
    policy_file, recorded = record(tmp_path, ["cat", str(data / "file.txt")], "--landlock")
    assert recorded.stdout == "the file\n"
    assert confined(policy_file, ["cat", str(data / "file.txt")]).stdout == "the file\n"
    assert confined(policy_file, ["cat", str(data / "sibling.txt")]).stdout == "same directory\n"
    outside = confined(policy_file, ["cat", str(tmp_path / "other.txt")])
    assert outside.returncode != 0 and "Permission denied" in outside.stderr
    # binding: refused by Landlock alone (bind: [] in the recorded section)
    landlock_only = _landlock_only(policy_file, tmp_path)
    assert "bind: []" in landlock_only.read_text()
    python_dirs = ["--fs-read", "/usr", "--fs-read", "/etc"]
    run = confined(landlock_only, LISTEN, *python_dirs)
    assert run.returncode != 0 and "PermissionError" in run.stderr
    # the same command may bind once the port rule is gone: it was the recorded net rule that refused
    without_net = tmp_path / "no-net.yaml"
    without_net.write_text(landlock_only.read_text().split("  net:")[0])
    assert "listening" in confined(without_net, LISTEN, *python_dirs).stdout
