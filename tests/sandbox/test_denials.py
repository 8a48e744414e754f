"""Denial explanations: decoding the kernel's SECCOMP records and naming the rule that decided."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from syswarden.policy.model import ALLOW, KILL_PROCESS, Action, ActionKind, ArgCondition, Op, Policy, SyscallRule
from syswarden.sandbox.denials import SeccompWatcher, decide, explain_kill, parse_record
from syswarden.syscalls import tables
from syswarden.syscalls.arch import Arch

NETLINK_TEXT = ('audit(1795459639.399:3): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=13279 comm="nc" '
                'exe="/usr/bin/nc.openbsd" sig=31 arch=c000003e syscall=49 compat=0 ip=0x7f72d28f34f7 code=0x80000000')
NO_NETWORK = Policy(default_action=ALLOW, rules=(SyscallRule(("socket", "bind"), KILL_PROCESS, comment="network"),),
                    name="no-network", source="profile:no-network")


def test_parse_record_decodes_fields() -> None:
    """pid, comm, syscall number, arch and action code come out of the record text."""
    record = parse_record(NETLINK_TEXT)
    assert record is not None
    assert (record.pid, record.comm, record.nr, record.arch, record.syscall) == (13279, "nc", 49, Arch.X86_64, "bind")
    assert record.action_kind is ActionKind.KILL_PROCESS


def test_parse_record_decodes_hex_comm_and_x32() -> None:
    """Hex-encoded comm (names with spaces) is decoded; the x32 bit selects the x32 table."""
    text = NETLINK_TEXT.replace('comm="nc"', "comm=612062").replace("syscall=49", f"syscall={0x40000000 | 49}")
    record = parse_record(text)
    assert record is not None and record.comm == "a b" and record.arch is Arch.X32
    assert record.syscall == "bind"


def test_explanation_names_profile_and_rule() -> None:
    """The explanation line names syscall, number, arch, profile and rule."""
    line = explain_kill(parse_record(NETLINK_TEXT), [NO_NETWORK], "nc", 13279)
    assert line.startswith("nc (pid 13279) was killed: syscall bind (49, x86_64) is denied by profile 'no-network'")
    assert "rule 1 'network'" in line


def test_decide_prefers_unconditional_rule_and_flags_conditional_one() -> None:
    """A denying rule with argument conditions is reported as conditional; an earlier allow-all rule wins."""
    cond = SyscallRule(("socket",), Action(ActionKind.ERRNO, 1), args=(ArgCondition(0, Op.EQ, 40),))
    policy = Policy(default_action=ALLOW, rules=(cond, SyscallRule(("socket",), KILL_PROCESS)))
    verdict = decide(policy, "socket", Arch.X86_64)
    assert verdict.conditional and verdict.rule_index == 0
    assert decide(policy, "read", Arch.X86_64).rule_index is None


def test_missing_record_is_said_plainly() -> None:
    """Without a record the explanation says the syscall is unknown rather than guessing."""
    assert "syscall is unknown" in explain_kill(None, [NO_NETWORK], "nc", 1)


def _auditd_registered() -> bool:
    status = subprocess.run(["auditctl", "-s"], capture_output=True, text=True)
    return any(line.split() == ["pid", line.split()[-1]] and line.split()[-1] != "0"
               for line in status.stdout.splitlines() if line.startswith("pid "))


@pytest.mark.kernel
@pytest.mark.parametrize("channel", ["audit-netlink", "kmsg"])
def test_watcher_sees_the_kernel_record_of_a_killed_child(channel: str) -> None:
    """A child killed by a libseccomp KILL_PROCESS rule on getppid is found with the right syscall, through the
    audit multicast group and through /dev/kmsg."""
    watcher = SeccompWatcher((channel,))
    try:
        if watcher.channel != channel:
            pytest.skip(f"{channel} is not readable here")
        if channel == "kmsg" and _auditd_registered():
            pytest.skip("auditd is registered, so the kernel sends audit records to it instead of the kernel log")
        code = textwrap.dedent(f"""
            import os
            from syswarden.kernel import libseccomp
            with libseccomp.LibseccompFilter(0x7FFF0000) as f:
                f.add_rule(0x80000000, {tables.number(Arch.X86_64, 'getppid')})
                f.load()
            os.getppid()
        """)
        # /dev/kmsg gets audit records through printk's rate limit (10 per 5 s, shared with every kernel
        # message): after a burst from earlier tests (or other jobs on the machine), more tries once the window
        # has passed
        for attempt in range(4 if channel == "kmsg" else 1):
            if attempt:
                time.sleep(5.5)
            proc = subprocess.Popen([sys.executable, "-c", code])
            assert proc.wait(timeout=30) == -31
            record = watcher.find(proc.pid, timeout=2.0)
            if record is not None:
                break
    finally:
        watcher.close()
    assert record is not None
    assert record.syscall == "getppid" and record.sig == 31
