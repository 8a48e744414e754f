"""i386 syscalls made by 64-bit code through `int $0x80` reach the rules under `syswarden monitor`, once per
live source: the stock rules match them as they match the 64-bit calls, and `evt.arg.abi` tells them apart."""
from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest

from tests.scenarios.conftest import SYSWARDEN, fired, monitor
from tests.sources.compat_calls import build_int80io

pytestmark = [pytest.mark.kernel, pytest.mark.slow]


def test_read_sensitive_file_through_int80(source: str, tmp_path: Path) -> None:
    """/etc/shadow opened with i386 open and openat alerts twice with the program's name; /etc/hostname does not."""
    exe = build_int80io(tmp_path)
    alerts = monitor(source, f"{exe} /etc/shadow >/dev/null; {exe} /etc/hostname >/dev/null")
    hits = fired(alerts, "Read sensitive file untrusted")
    assert [(h["fd.name"], h["proc.name"], h["proc.pname"], h["user.name"]) for h in hits] == [
        ("/etc/shadow", "int80io", "sh", "root")] * 2
    assert hits[0]["proc.cmdline"] == "int80io /etc/shadow"


RULES = """\
- rule: Compat connect
  desc: a connect made through the i386 ABI
  condition: evt.type=connect and evt.dir=< and evt.arg.abi=i386
  output: compat connect (fd=%fd.name rport=%fd.rport proc=%proc.name abi=%evt.arg.abi)
  priority: WARNING
- rule: Compat open
  desc: an open made through the i386 ABI
  condition: evt.type in (open, openat) and evt.dir=< and evt.arg.abi=i386 and fd.num>=0
  output: compat open (file=%fd.name type=%evt.type fd=%fd.num)
  priority: WARNING
- rule: Native open of the target
  desc: the same file opened by 64-bit code (the twin that must not look compat)
  condition: evt.type in (open, openat) and evt.dir=< and fd.name endswith /target.txt and not evt.arg.abi exists
  output: native open (file=%fd.name)
  priority: WARNING
"""


def test_socketcall_connect_and_open_with_abi_marker(source: str, tmp_path: Path) -> None:
    """socketcall(SYS_CONNECT) is a `connect` with the socket's fd.name; the opens have the file's fd.name; a
    64-bit `cat` of the same file matches only the rule without the marker."""
    exe, target = build_int80io(tmp_path), tmp_path / "target.txt"
    target.write_text("x")
    (tmp_path / "rules.yaml").write_text(RULES)
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    script = f"{exe} {target} {port} >/dev/null; cat {target} >/dev/null"
    args = [*SYSWARDEN, "monitor", "--source", source, "--json", "--all-matches", "-q", "-r",
            str(tmp_path / "rules.yaml"), "--", "/bin/sh", "-c", script]
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=60)
    finally:
        server.close()
    assert proc.returncode == 0, proc.stderr
    alerts = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    conns = fired(alerts, "Compat connect")
    assert len(conns) == 1 and conns[0]["fd.rport"] == port and conns[0]["proc.name"] == "int80io"
    assert conns[0]["fd.name"].startswith("127.0.0.1:") and conns[0]["fd.name"].endswith(f"->127.0.0.1:{port}")
    opens = fired(alerts, "Compat open")
    assert sorted((o["evt.type"], o["fd.name"]) for o in opens) == [("open", str(target)), ("openat", str(target))]
    assert [n["fd.name"] for n in fired(alerts, "Native open of the target")] == [str(target)]
