"""Landlock denial explanations: the kernel's LANDLOCK_ACCESS/LANDLOCK_DOMAIN records (ABI 7), matched to CMD's
domain and printed one line per denial by ``syswarden run``."""
from __future__ import annotations

import time

import pytest

from syswarden.kernel import audit_netlink, landlock_abi
from syswarden.sandbox.denials import SeccompWatcher
from syswarden.sandbox.landlock_denials import audit_on_for_run, collect, explain

from .conftest import run_child, syswarden

# Records as the audit multicast group delivered them on this kernel (6.18) for `cat /etc/hostname` under
# --fs-read /usr,/lib,/lib64, plus one denial of an unrelated domain (another sandbox on the machine).
RECORDS = [
    (1423, ('audit(1795467411.655:39): domain=15563950d blockers=fs.read_file path="/etc/locale.alias" dev="vda" '
            'ino=688')),
    (1424, ('audit(1795467411.655:39): domain=15563950d status=allocated mode=enforcing pid=9431 uid=0 '
            'exe="/usr/bin/python3.11" comm="python"')),
    (1300, ('audit(1795467411.655:39): arch=c000003e syscall=257 success=no exit=-13 a0=ffffff9c ppid=9430 '
            'pid=9431 auid=4294967295 uid=0 comm="cat" exe="/usr/bin/cat" key=(null)')),
    (1423, 'audit(1795467411.657:40): domain=99 blockers=fs.read_file path="/etc/shadow" dev="vda" ino=7'),
    (1424, 'audit(1795467411.657:40): domain=99 status=allocated mode=enforcing pid=77 uid=0 exe="/x" comm="x"'),
    (1423, ('audit(1795467411.659:41): domain=15563950d blockers=fs.read_file path="/etc/hostname" dev="vda" '
            'ino=612')),
    (1300, ('audit(1795467411.659:41): arch=c000003e syscall=257 success=no exit=-13 pid=9431 comm="cat" '
            'exe="/usr/bin/cat"')),
]
# --landlock-audit: this machine boots with audit off, and Landlock logs nothing then
READ_FLAGS = ("--landlock-audit", "--fs-read", "/usr", "--fs-read", "/lib", "--fs-read", "/lib64")


def test_collect_keeps_only_the_domain_cmd_created() -> None:
    """Denials are CMD's when their domain's allocation record carries CMD's pid; another domain's are not."""
    denials = collect(RECORDS, 9431)
    assert [(d.pid, d.comm, d.blockers, d.field("path")) for d in denials] == [
        (9431, "cat", ("fs.read_file",), "/etc/locale.alias"), (9431, "cat", ("fs.read_file",), "/etc/hostname")]
    assert collect(RECORDS, 1234) == []


def test_explain_names_file_right_and_the_flag_that_allows_it() -> None:
    lines = explain(collect(RECORDS, 9431))
    assert lines[1] == ("cat (pid 9431) was denied fs.read_file on /etc/hostname by Landlock "
                        "(not under any --fs-read path; add --fs-read /etc)")


def test_explain_decodes_hex_names_and_caps_the_lines() -> None:
    """Names with control characters come hex-encoded; 25 distinct denials print as 20 lines and a count."""
    records = [(1424, "audit(1.0:1): domain=a status=allocated mode=enforcing pid=5 uid=0 exe=\"/x\" comm=\"x\"")]
    for n in range(25):
        name = f"/tmp/f{n}\n".encode().hex().upper()
        records += [(1423, f"audit(1.0:{n + 2}): domain=a blockers=fs.write_file path={name} dev=\"vda\" ino=1"),
                    (1300, f"audit(1.0:{n + 2}): arch=c000003e syscall=257 pid=5 comm=\"sh\"")]
    lines = explain(collect(records, 5))
    assert len(lines) == 21 and lines[-1] == "... and 5 more Landlock denials"
    assert lines[0] == ("sh (pid 5) was denied fs.write_file on /tmp/f0\n by Landlock "
                        "(not under any --fs-write path; add --fs-write /tmp)")


def test_ports_are_not_mistaken_for_hex() -> None:
    """A bind denial's port (src=8089) is a number, although it reads as hex like an untrusted string would."""
    records = [(1424, 'audit(1.0:1): domain=b status=allocated mode=enforcing pid=6 uid=0 exe="/x" comm="x"'),
               (1423, "audit(1.0:1): domain=b blockers=net.bind_tcp saddr=127.0.0.1 src=8089"),
               (1300, 'audit(1.0:1): arch=c000003e syscall=49 pid=6 comm="srv"')]
    assert explain(collect(records, 6)) == [
        ("srv (pid 6) was denied net.bind_tcp on TCP port 8089 by Landlock (not a --net-bind port; "
         "add --net-bind 8089)")]


def _can_explain() -> None:
    if landlock_abi.abi_version() < landlock_abi.AUDIT_MIN_ABI:
        pytest.skip("Landlock denials are logged from ABI 7 (Linux 6.15)")
    try:
        audit_netlink.audit_enabled()
    except OSError:
        pytest.skip("no CAP_AUDIT_CONTROL: audit cannot be read or switched on for the run")


def _denial_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "by Landlock" in line]


@pytest.mark.kernel
def test_run_explains_a_file_denial_and_passes_the_exit_status(tmp_path) -> None:
    """`cat FILE` outside every --fs-read path: the line names cat, its pid, the right and the file; cat's exit
    status 1 passes through; audit is left as it was."""
    _can_explain()
    secret = tmp_path / "secret.txt"
    secret.write_text("x")
    before = audit_netlink.audit_enabled()
    result = syswarden("run", *READ_FLAGS, "--", "/usr/bin/cat", str(secret))
    assert result.returncode == 1, result.stderr
    assert "Permission denied" in result.stderr
    wanted = (f"was denied fs.read_file on {secret} by Landlock (not under any --fs-read path; "
              f"add --fs-read {tmp_path})")
    assert any(line.startswith("syswarden: cat (pid ") and line.endswith(wanted)
               for line in _denial_lines(result.stderr)), result.stderr
    assert audit_netlink.audit_enabled() == before


@pytest.mark.kernel
def test_audit_is_not_switched_on_unless_asked(tmp_path) -> None:
    """Without --landlock-audit and with audit off, nothing is logged or named, audit stays off, and a failing
    CMD gets one line saying how to have its denials named."""
    _can_explain()
    if audit_netlink.audit_enabled() != 0:
        pytest.skip("kernel audit is on here: denials are logged without switching it")
    secret = tmp_path / "secret.txt"
    secret.write_text("x")
    result = syswarden("run", *READ_FLAGS[1:], "--", "/usr/bin/cat", str(secret))
    assert result.returncode == 1 and "Permission denied" in result.stderr
    assert _denial_lines(result.stderr) == [], result.stderr
    assert [line for line in result.stderr.splitlines() if "--landlock-audit" in line] == [
        ("syswarden: note: Landlock denials are not logged while kernel audit is off; to have them named, rerun "
         "with --landlock-audit (switches audit on for the run) or turn audit on (auditctl -e 1)")]
    assert audit_netlink.audit_enabled() == 0
    ok = syswarden("run", *READ_FLAGS[1:], "--", "/usr/bin/cat", "/usr/lib/os-release")
    assert ok.returncode == 0 and "--landlock-audit" not in ok.stderr, ok.stderr


@pytest.mark.kernel
@pytest.mark.parametrize("mode", ["-q", "--exec"])
def test_quiet_and_exec_runs_explain_nothing(tmp_path, mode: str) -> None:
    """The same denial that a plain run explains is not explained with -q, nor with --exec (CMD replaces
    syswarden there: no supervising process is added to explain it)."""
    _can_explain()
    secret = tmp_path / "secret.txt"
    secret.write_text("x")
    plain = syswarden("run", *READ_FLAGS, "--", "/usr/bin/cat", str(secret))
    assert any(f"on {secret} by Landlock" in line for line in _denial_lines(plain.stderr)), plain.stderr
    result = syswarden("run", mode, *READ_FLAGS, "--", "/usr/bin/cat", str(secret))
    assert result.returncode == 1 and "Permission denied" in result.stderr
    assert _denial_lines(result.stderr) == [] and "syswarden:" not in result.stderr, result.stderr


@pytest.mark.kernel
def test_hostile_file_name_is_printed_escaped(tmp_path) -> None:
    """A file name with a newline and a terminal escape cannot forge a line or colour the terminal."""
    _can_explain()
    hostile = tmp_path / "a\nsyswarden: FAKE\x1b[31m"
    hostile.write_text("x")
    result = syswarden("run", *READ_FLAGS, "--", "/usr/bin/cat", str(hostile))
    assert result.returncode == 1
    escaped = f"{tmp_path}/a\\nsyswarden: FAKE\\u001b[31m"
    assert any(f"fs.read_file on {escaped} by Landlock" in line for line in _denial_lines(result.stderr)), \
        result.stderr
    assert not any(line.startswith("syswarden: FAKE") for line in result.stderr.splitlines())
    assert "\x1b" not in "".join(line for line in result.stderr.splitlines() if line.startswith("syswarden:"))


@pytest.mark.kernel
def test_a_child_of_cmd_is_explained_with_its_own_pid(tmp_path) -> None:
    """The domain is inherited: a denial of CMD's child is CMD's too, named by the child's comm and pid."""
    _can_explain()
    secret = tmp_path / "secret.txt"
    secret.write_text("x")
    result = syswarden("run", *READ_FLAGS, "--", "/bin/sh", "-c", f"/usr/bin/cat {secret}; exit 3")
    assert result.returncode == 3
    lines = [line for line in _denial_lines(result.stderr) if f"on {secret} " in line]
    assert len(lines) == 1 and lines[0].startswith("syswarden: cat (pid "), result.stderr


CHILD = """
import os
from syswarden.policy import landlock as pl
from syswarden.sandbox import landlock as ll
spec = pl.spec_from_flags(fs_read=("/usr", "/lib", "/lib64", "/etc"))  # one denial only: kmsg is rate limited
ll.enforce(spec, ll.plan(spec, 7), log_after_exec=True)
print(os.getpid(), flush=True)
os.execv("/usr/bin/cat", ["cat", {secret!r}])
"""


def _denials_seen(watcher: SeccompWatcher, secret: str) -> list[tuple[str, tuple[str, ...], str | None]]:
    pid = int(run_child(CHILD.format(secret=secret)).stdout.split()[0])
    denials = []
    for _ in range(20):
        denials = collect(watcher.landlock_records, pid)
        # the access record comes before its event's SYSCALL record (pid, comm), each as its own message: wait
        # for the event to be whole rather than read it half-arrived (CI once saw comm "")
        if denials and all(d.pid is not None for d in denials):
            break
        watcher.drain(0.1)
    return [(d.comm, d.blockers, d.field("path")) for d in denials]


@pytest.mark.kernel
@pytest.mark.parametrize("channel", ["audit-netlink", "kmsg"])
def test_watcher_collects_landlock_records_on_both_channels(tmp_path, channel: str) -> None:
    """A child restricts itself with LOG_NEW_EXEC_ON and execs cat: its denial reaches the watcher through the
    audit multicast group and through /dev/kmsg, and is attributed to the child's pid."""
    _can_explain()
    secret = tmp_path / "secret.txt"
    secret.write_text("x")
    with audit_on_for_run() as audit_on:
        if not audit_on:
            pytest.skip("audit could not be switched on")
        watcher = SeccompWatcher((channel,), landlock=True)
        try:
            if watcher.channel != channel:
                pytest.skip(f"{channel} is not readable here")
            seen = _denials_seen(watcher, str(secret))
            if not seen and channel == "kmsg":
                time.sleep(5.5)  # earlier tests used up printk's burst (10 lines per 5 s): try once more after it
                seen = _denials_seen(watcher, str(secret))
        finally:
            watcher.close()
    if not seen and channel == "kmsg":
        pytest.skip("kmsg got nothing (auditd registered, or the printk rate limit)")
    assert seen == [("cat", ("fs.read_file",), str(secret))]
