"""The audit source against the real kernel: the seed rule set (every mount; successful unlink/unlinkat below a
directory the test creates; a file the test creates watched for write and attribute change with key
passwd_mgmt; an executable watched for execute) through ``monitor --source audit`` and ``audit search --live``;
SECCOMP records (a kill, and SECCOMP_RET_LOG) as violated-seccomp-policy naming the syscall; the daemon role
given back on exit and after a crash.

Every test restores the rules, the audit daemon pid and the enabled state (fixture ``audit_state``).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from syswarden.kernel import audit_netlink
from tests.audit.conftest import AuditState

pytestmark = pytest.mark.kernel
SYSWARDEN = [sys.executable, "-m", "syswarden"]

RULES = """
- rule: audit keyed event
  desc: an event an audit rule with a key matched
  condition: audit.key exists
  output: "key=%audit.key[0] type=%evt.type proc=%proc.name"
  priority: NOTICE
- rule: seccomp violation
  desc: a seccomp filter killed or logged a syscall
  condition: evt.type = violated-seccomp-policy
  output: "seccomp %evt.arg.syscall %evt.arg.action proc=%proc.name type=%audit.type"
  priority: WARNING
"""
FIELDS = ["audit.key", "evt.type", "proc.name", "proc.exepath", "proc.cwd", "proc.pid", "proc.ppid", "user.uid",
          "evt.arg.name", "evt.arg.path", "evt.arg.filename", "evt.arg.dir", "fd.name", "audit.success",
          "evt.arg.syscall", "evt.arg.action", "audit.type"]


@pytest.fixture
def scene(tmp_path: Path) -> dict[str, Path]:
    base = tmp_path / "scene"
    (base / "d").mkdir(parents=True)
    (base / "mnt").mkdir()
    (base / "passwd").write_text("root:x:0:0\n")
    exe = base / "mytrue"
    exe.write_bytes(Path("/bin/true").read_bytes())
    exe.chmod(0o755)
    rules = tmp_path / "seed.rules"
    rules.write_text(f"-a always,exit -F arch=b64 -S mount -k sw-mount\n"
                     f"-a always,exit -F arch=b64 -S unlink,unlinkat -F success=1 -F dir={base / 'd'} -k sw-delete\n"
                     f"-w {base / 'passwd'} -p wa -k passwd_mgmt\n"
                     f"-w {exe} -p x -k sw-exec\n")
    falco = tmp_path / "audit_rules.yaml"
    falco.write_text(RULES.replace('output: "key=%audit.key[0] type=%evt.type proc=%proc.name"',
                                   'output: "' + " ".join(f"{f}=%{f}" for f in FIELDS) + '"'))
    return {"base": base, "rules": rules, "falco": falco}


ACTIONS = ("cd {base} && touch d/victim && rm d/victim && echo x >> passwd && chmod 600 passwd && ./mytrue a b "
           "&& mount -t tmpfs none mnt && umount mnt")


def _load(rules: Path) -> None:
    done = subprocess.run([*SYSWARDEN, "audit", "load", "-q", str(rules)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _check_seed(alerts: list[dict], base: Path) -> None:
    by_key: dict[str, list[dict]] = {}
    for alert in alerts:
        fields = alert["output_fields"]
        by_key.setdefault(fields["audit.key"][0] if isinstance(fields["audit.key"], list)
                          else fields["audit.key"], []).append(fields)
    delete = by_key["sw-delete"]
    assert any(f["evt.type"] == "unlinkat" and f["evt.arg.name"] == f"{base}/d/victim" and f["proc.name"] == "rm"
               and f["proc.cwd"] == str(base) and f["audit.success"] is True for f in delete)
    passwd = by_key["passwd_mgmt"]
    assert any(f["evt.type"] == "openat" and f["fd.name"] == f"{base}/passwd" for f in passwd)       # the write
    assert any(f["evt.type"] == "fchmodat" and f["evt.arg.filename"] == f"{base}/passwd" and f["proc.name"] == "chmod"
               for f in passwd)                                                                  # attribute change
    execs = by_key["sw-exec"]
    assert any(f["evt.type"] == "execve" and f["proc.exepath"] == f"{base}/mytrue" and f["proc.name"] == "mytrue"
               and f["proc.cwd"] == str(base) for f in execs)
    mounts = by_key["sw-mount"]
    assert any(f["evt.type"] == "mount" and f["evt.arg.dir"] == f"{base}/mnt" and f["proc.name"] == "mount"
               for f in mounts)
    for fields in delete + passwd + execs + mounts:
        assert fields["proc.pid"] > 1 and fields["proc.ppid"] >= 1 and fields["user.uid"] == os.geteuid()


def test_seed_rules_through_monitor(quiet_audit: AuditState, scene: dict[str, Path]) -> None:
    _load(scene["rules"])
    command = ["sh", "-c", ACTIONS.format(base=scene["base"])]
    done = subprocess.run([*SYSWARDEN, "monitor", "--source", "audit", "--json", "-r", str(scene["falco"]), "--",
                           *command], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    alerts = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    _check_seed(alerts, scene["base"])
    status = audit_netlink.get_status()
    for key in ("pid", "enabled", "backlog_limit", "backlog_wait_time"):       # the daemon role given back, the
        assert status[key] == quiet_audit.before[key], key                     # settings it changed restored


def test_seed_rules_through_search_live(quiet_audit: AuditState, scene: dict[str, Path]) -> None:
    _load(scene["rules"])
    command = ["sh", "-c", ACTIONS.format(base=scene["base"])]
    done = subprocess.run([*SYSWARDEN, "audit", "search", "--live", "--json", "-k", "passwd_mgmt", "-k", "sw-exec",
                           "-k", "sw-delete", "-k", "sw-mount", "--", *command], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    docs = [json.loads(line) for line in done.stdout.splitlines()]
    base = str(scene["base"])
    by_tag = {tag: [d for d in docs if tag in d.get("tags", [])] for tag in ("passwd_mgmt", "sw-exec", "sw-delete",
                                                                             "sw-mount")}
    # go-libaudit keeps a PATH name as the program passed it (chmod got "passwd", relative to its cwd)
    assert any(d["summary"]["action"] == "changed-file-permissions-of" and d["file"]["path"] == "passwd"
               and d["process"]["cwd"] == base for d in by_tag["passwd_mgmt"])
    assert any(d["summary"]["action"] == "executed" and d["process"]["exe"] == f"{base}/mytrue"
               and d["process"]["args"] == ["./mytrue", "a", "b"] and d["process"]["cwd"] == base
               for d in by_tag["sw-exec"])
    assert any(d["summary"]["action"] == "deleted" and d["process"]["name"] == "rm" for d in by_tag["sw-delete"])
    assert any(d["summary"]["action"] == "mounted" for d in by_tag["sw-mount"])


def _monitor_all(falco: Path, duration_s: float, action) -> list[dict]:
    """monitor --source audit system-wide (no command): started, given time to register, stopped with SIGINT."""
    proc = subprocess.Popen([*SYSWARDEN, "monitor", "--source", "audit", "--json", "-q", "-r", str(falco)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while audit_netlink.get_status()["pid"] != proc.pid and time.monotonic() < deadline:
            time.sleep(0.1)
        assert audit_netlink.get_status()["pid"] == proc.pid, "monitor did not become the audit daemon"
        action()
        time.sleep(duration_s)
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_seccomp_kill_and_log_are_violations(quiet_audit: AuditState, scene: dict[str, Path]) -> None:
    run = [*SYSWARDEN, "run", "-q"]
    pids: list[int] = []

    def act() -> None:
        for extra, code in ((["--drop", "getppid"], "import os; os.getppid()"),
                            (["--log", "--drop", "getpgrp"], "import os; os.getpgrp()")):
            child = subprocess.Popen([*run, *extra, "--", sys.executable, "-c", code], stderr=subprocess.DEVNULL)
            pids.append(child.pid)
            child.wait(timeout=30)

    alerts = _monitor_all(scene["falco"], 2.0, act)
    violations = [a["output_fields"] for a in alerts if a["rule"] == "seccomp violation"]
    got = {(f["evt.arg.syscall"], f["evt.arg.action"]) for f in violations}
    assert ("getppid", "kill_process") in got
    assert ("getpgrp", "log") in got
    assert all(f["audit.type"] == "SECCOMP" for f in violations)


def test_a_crashed_source_gives_the_daemon_role_back(quiet_audit: AuditState) -> None:
    code = ("import os, time\nfrom syswarden.sources.audit.source import AuditSource\n"
            "from syswarden.sources.base import SourceConfig\nsrc = AuditSource(SourceConfig())\n"
            "print(src.channel, flush=True)\ntime.sleep(60)\n")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "unicast"
    assert audit_netlink.get_status()["pid"] == child.pid
    child.kill()
    child.wait()
    quiet_audit.restore()
    status = audit_netlink.get_status()
    assert status["pid"] == 0
    for key in ("enabled", "backlog_limit", "backlog_wait_time"):
        assert status[key] == quiet_audit.before[key], key
