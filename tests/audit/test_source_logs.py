"""Audit logs as a replay source: rotated (oldest first, gzip too), node= prefixed, ENRICHED, interleaved —
through ``monitor --replay`` and the same rules as live events; SECCOMP records of a log as
violated-seccomp-policy naming the syscall for the record's arch."""
from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

from syswarden.audit.logs import expand, read_events, read_records
from syswarden.sources.audit.source import AuditSource
from syswarden.sources.base import SourceConfig
from tests.audit.conftest import anchors

SYSWARDEN = [sys.executable, "-m", "syswarden"]
RULES = """
- rule: seccomp violation
  desc: x
  condition: evt.type = violated-seccomp-policy
  output: "seccomp %evt.arg.syscall %evt.arg.arch %evt.arg.action %evt.arg.sig proc=%proc.name
    exe=%proc.exepath node=%audit.node"
  priority: WARNING
- rule: keyed
  desc: y
  condition: audit.key exists
  output: "key=%audit.key type=%evt.type proc=%proc.name auid=%audit.auid ses=%audit.ses ok=%audit.success"
  priority: NOTICE
"""


def _line(serial: int, sec: int, node: str = "", body: str = 'cwd="/"', kind: str = "CWD") -> str:
    prefix = f"node={node} " if node else ""
    return f"{prefix}type={kind} msg=audit({sec}.000:{serial}): {body}\n"


def test_rotated_logs_are_read_oldest_first(tmp_path: Path) -> None:
    logs = tmp_path / "audit"
    logs.mkdir()
    (logs / "audit.log.2").write_text(_line(1, 100))
    with gzip.open(logs / "audit.log.1.gz", "wt") as fh:
        fh.write(_line(2, 200))
    (logs / "audit.log").write_text(_line(3, 300))
    (logs / "other.txt").write_text("not a log\n")
    files = expand([str(logs)])
    assert [Path(f).name for f in files] == ["audit.log.2", "audit.log.1.gz", "audit.log"]
    assert [e.serial for e in read_events(read_records(files))] == [1, 2, 3]


def test_seccomp_record_of_a_log(tmp_path: Path) -> None:
    """go-libaudit's test3.log: an i386 SECCOMP record (code 0: kill_thread) for syscall 132, getpgid on i386."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    log = tmp_path / "audit.log"
    log.write_text((anchors() / "go-libaudit" / "auparse-testdata" / "test3.log").read_text())
    done = subprocess.run([*SYSWARDEN, "monitor", "--replay", str(log), "--json", "-r", str(rules)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    alerts = [json.loads(line)["output_fields"] for line in done.stdout.splitlines() if line.startswith("{")]
    (seccomp,) = [a for a in alerts if "evt.arg.syscall" in a]
    expected = {"evt.arg.syscall": "getpgid", "evt.arg.arch": "i386", "evt.arg.action": "kill_thread",
                "proc.name": "sshd", "proc.exepath": "/usr/sbin/sshd"}
    assert {k: seccomp[k] for k in expected} == expected
    assert seccomp["evt.arg.sig"] in ("31", "SIGSYS")        # the fields layer's rendering of a sigtype

def test_enriched_node_and_interleaved_lines(tmp_path: Path) -> None:
    syscall = ("arch=c000003e syscall=268 success=yes exit=0 a0=ffffff9c a1=0 a2=1ed a3=0 items=1 ppid=1 pid={pid} "
               "auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm=\"chmod\" "
               "exe=\"/usr/bin/chmod\" key=\"perm\"\x1dARCH=x86_64 SYSCALL=fchmodat AUID=\"alice\" UID=\"root\"")
    path = 'item=0 name="/srv/f{n}" inode=5 dev=08:01 mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL'
    lines = []
    for n, node in ((1, "web-1"), (2, "web-2")):
        lines.append(_line(40, 1000, node, syscall.format(pid=100 + n), "SYSCALL"))
    for n, node in ((1, "web-1"), (2, "web-2")):
        lines.append(_line(40, 1000, node, path.format(n=n), "PATH"))
        lines.append(_line(40, 1000, node, 'cwd="/srv"'))
    log = tmp_path / "audit.log"
    log.write_text("".join(lines))
    source = AuditSource(SourceConfig(path=str(log)))
    events = list(source.events())
    assert sorted((e.audit.node, e.type, e.params["filename"], e.audit.keys, e.audit.auid, e.audit.ses)
                  for e in events) == [("web-1", "fchmodat", "/srv/f1", ("perm",), 1000, 3),
                                       ("web-2", "fchmodat", "/srv/f2", ("perm",), 1000, 3)]
    assert all(e.thread.cwd == "/srv" and e.thread.exepath == "/usr/bin/chmod" for e in events)
    assert source.stats.skipped == 0
