"""With auditd itself as the peer: while auditd runs (a private instance writing ENRICHED logs to a tmp dir),
the audit source reads beside it on the multicast group and auditd keeps the daemon role; auditd's log is then
searched and reported as ausearch and aureport do on the same file."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from syswarden.audit.rule_encode import encode
from syswarden.audit.rules_file import parse_rules
from syswarden.kernel import audit_netlink
from syswarden.kernel.audit_netlink import AUDIT_SYSCALL
from syswarden.sources.audit.source import AuditSource
from syswarden.sources.base import SourceConfig
from tests.audit.conftest import AuditState

pytestmark = pytest.mark.kernel
SYSWARDEN = [sys.executable, "-m", "syswarden"]
CONF = """local_events = yes
write_logs = yes
log_file = {log}
log_format = ENRICHED
flush = INCREMENTAL_ASYNC
freq = 1
max_log_file = 100
num_logs = 2
max_log_file_action = IGNORE
space_left = 2
space_left_action = IGNORE
admin_space_left = 1
admin_space_left_action = IGNORE
disk_full_action = IGNORE
disk_error_action = IGNORE
name_format = NONE
q_depth = 2000
overflow_action = IGNORE
end_of_event_timeout = 2
plugin_dir = {dir}/plugins.d
"""


@pytest.fixture
def auditd(audit_state: AuditState, tmp_path: Path):
    for tool in ("auditd", "ausearch", "aureport"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} (package auditd) is not installed")
    pid = audit_state.before.get("pid", 0)
    if pid and os.path.exists(f"/proc/{pid}"):
        pytest.skip("an audit daemon is running already")
    conf_dir = tmp_path / "auditd"
    (conf_dir / "plugins.d").mkdir(parents=True)
    log = tmp_path / "audit.log"
    (conf_dir / "auditd.conf").write_text(CONF.format(log=log, dir=conf_dir))
    os.chmod(conf_dir / "auditd.conf", 0o600)
    proc = subprocess.Popen(["auditd", "-n", "-s", "nochange", "-c", str(conf_dir)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 15
        while audit_netlink.get_status()["pid"] != proc.pid:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"auditd did not start: {proc.stderr.read() if proc.stderr else ''}")
            time.sleep(0.05)
        yield proc, log
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=15)


def _serials(text: str) -> set[int]:
    return {int(m) for m in re.findall(r"msg=audit\(\d+\.\d+:(\d+)\)", text)}


def _summary(text: str) -> dict[str, int]:
    rows = {}
    for line in text.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2 and parts[0].isdigit():
            rows[parts[1].strip()] = int(parts[0])
    return rows


def test_beside_auditd_then_its_log_as_ausearch_and_aureport_read_it(audit_state: AuditState, auditd,
                                                                    tmp_path: Path) -> None:
    proc, log = auditd
    work = tmp_path / "work"
    work.mkdir()
    rule = parse_rules(f"-a always,exit -F arch=b64 -S fchmodat,unlinkat -F dir={work} -k sw-peer", "t").rules[0]
    audit_netlink.add_rule(encode(rule))
    audit_netlink.set_audit_enabled(1)

    def act() -> None:
        time.sleep(0.5)
        for i in range(5):
            target = work / f"f{i}"
            target.write_text("x")
            subprocess.run(["chmod", "640", str(target)], check=True)
            subprocess.run(["rm", str(target)], check=True)

    source = AuditSource(SourceConfig(options={"socket": "auto"}))
    assert source.channel == "multicast"
    source.stop_at = time.monotonic() + 4
    worker = threading.Thread(target=act)
    worker.start()
    try:
        # the syscall events only: when the source opens quickly enough it also sees the rule's own
        # CONFIG_CHANGE (op=add_rule key="sw-peer"), counted below with ausearch's
        seen = [e for e in source.audit_events()
                if any(r.type == AUDIT_SYSCALL and r.get("key") == '"sw-peer"' for r in e.records)]
    finally:
        source.close()
        worker.join()
    assert len(seen) == 10
    assert audit_netlink.get_status()["pid"] == proc.pid          # auditd kept the daemon role
    proc.terminate()
    proc.wait(timeout=15)
    assert "\x1d" in log.read_text()                                # the ENRICHED format

    theirs = subprocess.run(["ausearch", "-if", str(log), "-k", "sw-peer", "--raw"], capture_output=True,
                            text=True)
    ours = subprocess.run([*SYSWARDEN, "audit", "search", str(log), "-k", "sw-peer"], capture_output=True, text=True)
    assert ours.returncode == 0, ours.stderr
    assert _serials(ours.stdout) == _serials(theirs.stdout)
    # ausearch -k also finds the rule's own CONFIG_CHANGE (op=add_rule key="sw-peer"), logged before the source
    # opened: the log holds the ten syscall events the live source saw plus that one (when auditd had its
    # log open by then)
    config_changes = {int(m) for m in re.findall(r"type=CONFIG_CHANGE msg=audit\(\d+\.\d+:(\d+)\): [^\n]*"
                                                 r"op=add_rule key=\"sw-peer\"", theirs.stdout)}
    assert len(config_changes) <= 1
    assert _serials(theirs.stdout) == {e.serial for e in seen} | config_changes
    for args in (["-sc", "fchmodat"], ["-sc", "unlinkat", "-sv", "yes"], ["-x", "/usr/bin/chmod"]):
        theirs = subprocess.run(["ausearch", "-if", str(log), *args, "--raw"], capture_output=True, text=True)
        ours = subprocess.run([*SYSWARDEN, "audit", "search", str(log), *args], capture_output=True, text=True)
        assert _serials(ours.stdout) == _serials(theirs.stdout) and _serials(ours.stdout), args

    report = subprocess.run([*SYSWARDEN, "audit", "report", str(log)], capture_output=True, text=True, check=True)
    sections = {title: _summary(body) for title, body in
                re.findall(r"(\w+) Summary Report\n(.*?)(?=\n\n|\Z)", report.stdout, re.S)}
    for flags, title in ((["-k"], "Key"), (["-i", "-s"], "Syscall"), (["-x"], "Executable")):
        peer = subprocess.run(["aureport", "-if", str(log), *flags, "--summary"], capture_output=True, text=True)
        assert sections[title] == _summary(peer.stdout), title
    assert sections["Key"] == {"sw-peer": len(seen) + len(config_changes)}
