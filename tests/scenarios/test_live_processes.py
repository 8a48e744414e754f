"""Rules on spawned processes, live on both sources (eBPF, ptrace): tools named as the rules know them (a
symlink to the Python interpreter is a process of that name), each against a twin of another name, without the
telling argument or environment (issue 19's coverage table: docs/rule-coverage.md)."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.scenarios.conftest import fired, monitor, named

pytestmark = [pytest.mark.kernel, pytest.mark.slow]


def _names(alerts: list[dict], rule: str) -> list[str]:
    return sorted(h["proc.name"] for h in fired(alerts, rule))


@pytest.mark.covers("Launch Suspicious Network Tool on Host", "User mgmt binaries",
                    "Known Cryptominer Process Executed", "Netcat/Socat Remote Code Execution on Host",
                    "Schedule Cron Jobs", "Detect crypto miners using the Stratum protocol",
                    "Program run with disallowed http proxy env",
                    "Potential Local Privilege Escalation via Environment Variables Misuse",
                    "Remove Bulk Data from Disk", "Find AWS Credentials", "Sudo Potential Privilege Escalation",
                    "Polkit Local Privilege Escalation Vulnerability (CVE-2021-4034)")
def test_host_tools(source: str, tmp_path: Path) -> None:
    """Each tool runs once as the rule's name and once as a twin (another name, or no telling argument)."""
    t = named(tmp_path, "nmap", "nmapx", "useradd", "useraddx", "xmrig", "xmrigx", "nc", "crontab", "crontabx",
              "curl", "sudo", "pkexec")
    (tmp_path / "junk1").write_text("x")
    (tmp_path / "junk2").write_text("x")
    script = "; ".join([
        f"{t['nmap']} -c pass", f"{t['nmapx']} -c pass",
        f"{t['useradd']} -c pass", f"{t['useraddx']} -c pass",
        f"{t['xmrig']} -c pass", f"{t['xmrigx']} -c pass",
        f"{t['nc']} -c pass", f"{t['nc']} -V >/dev/null",
        f"{t['crontab']} -c pass", f"{t['crontabx']} -c pass",
        f"{t['nmapx']} -c pass stratum+tcp://pool.example:3333", f"{t['nmapx']} -c pass tcp://pool.example:3333",
        f"env -u http_proxy HTTP_PROXY=http://127.0.0.1:9 {t['curl']} -c pass",
        f"env -u http_proxy -u HTTP_PROXY {t['curl']} -c pass",
        "GLIBC_TUNABLES=glibc.malloc.check=0 /bin/true", "/bin/true",
        f"shred -u {tmp_path / 'junk1'}", f"rm {tmp_path / 'junk2'}",
        f"find {tmp_path} -path '*/.aws/credentials'", f"find {tmp_path} -name notes.txt",
        f"{t['sudo']} -s -c pass 'x\\'", f"{t['sudo']} -s -c pass x",
        f"{t['pkexec']} </dev/null", f"{t['pkexec']} -c pass",
    ])
    alerts = monitor(source, script)
    assert _names(alerts, "Launch Suspicious Network Tool on Host") == ["nc", "nc", "nmap"]
    assert _names(alerts, "User mgmt binaries") == ["useradd"]
    assert _names(alerts, "Known Cryptominer Process Executed") == ["xmrig"]
    rce = fired(alerts, "Netcat/Socat Remote Code Execution on Host")
    assert [h["proc.cmdline"] for h in rce] == ["nc -c pass"]
    assert _names(alerts, "Schedule Cron Jobs") == ["crontab"]
    stratum = fired(alerts, "Detect crypto miners using the Stratum protocol")
    assert [h["proc.cmdline"] for h in stratum] == ["nmapx -c pass stratum+tcp://pool.example:3333"]
    assert _names(alerts, "Program run with disallowed http proxy env") == ["curl"]
    tunables = fired(alerts, "Potential Local Privilege Escalation via Environment Variables Misuse")
    assert [h["proc.name"] for h in tunables] == ["true"]
    assert [h["proc.cmdline"] for h in fired(alerts, "Remove Bulk Data from Disk")] == [
        f"shred -u {tmp_path / 'junk1'}"]
    assert [h["proc.cmdline"] for h in fired(alerts, "Find AWS Credentials")] == [
        f"find {tmp_path} -path */.aws/credentials"]
    assert [h["proc.cmdline"] for h in fired(alerts, "Sudo Potential Privilege Escalation")] == [
        "sudo -s -c pass x\\"]
    assert [h["proc.cmdline"] for h in fired(alerts, "Polkit Local Privilege Escalation Vulnerability (CVE-2021-4034)")
            ] == ["pkexec"]


@pytest.mark.covers("Web Server Spawned Shell", "Web Server Spawned Suspicious Child Process",
                    "Reverse Shell from Web Server", "DB program spawned process")
def test_server_children(source: str, tmp_path: Path) -> None:
    """A web server (nginx) running a shell, `id` and a /dev/tcp one-liner, and a database server (mysqld) running
    a program, alert; the same children of an unknown program (mytool) do not."""
    t = named(tmp_path, "nginx", "mysqld", "mytool")
    # absolute paths: a PATH search is a series of failed execs, which spawned_process counts (as in Falco)
    children = ("import subprocess; subprocess.run(['/bin/sh', '-c', 'true']); subprocess.run(['/usr/bin/id'], "
                "stdout=subprocess.DEVNULL); "
                "subprocess.run(['/bin/sh', '-c', 'echo /dev/tcp/198.51.100.7/4444 >/dev/null'])")
    one = "import subprocess; subprocess.run(['/bin/true'])"
    alerts = monitor(source, f'{t["nginx"]} -c "{children}"; {t["mytool"]} -c "{children}"; '
                             f'{t["mysqld"]} -c "{one}"; {t["mytool"]} -c "{one}"')
    shells = fired(alerts, "Web Server Spawned Shell")
    assert sorted(h["proc.cmdline"] for h in shells) == ["sh -c echo /dev/tcp/198.51.100.7/4444 >/dev/null",
                                                         "sh -c true"]
    assert {h["proc.pname"] for h in shells} == {"nginx"}
    assert [(h["proc.name"], h["proc.pname"]) for h in fired(alerts, "Web Server Spawned Suspicious Child Process")
            ] == [("id", "nginx")]
    reverse = fired(alerts, "Reverse Shell from Web Server")
    assert [h["proc.cmdline"] for h in reverse] == ["sh -c echo /dev/tcp/198.51.100.7/4444 >/dev/null"]
    assert [(h["proc.name"], h["proc.pname"]) for h in fired(alerts, "DB program spawned process")] == [
        ("true", "mysqld")]


@pytest.mark.covers("System user interactive")
def test_system_user_interactive(source: str, tmp_path: Path) -> None:
    """A program run as `nobody` under an sshd (a login session) alerts; the same as root does not."""
    t = named(tmp_path, "sshd")
    drop = "setpriv --reuid=65534 --regid=65534 --clear-groups"
    code = f"import subprocess; subprocess.run(['/bin/sh', '-c', '{drop} /bin/true; /bin/true'])"
    alerts = monitor(source, f'{t["sshd"]} -c "{code}"')
    hits = fired(alerts, "System user interactive")
    assert [(h["proc.name"], h["user.name"]) for h in hits] == [("true", "nobody")]


@pytest.mark.covers("Basic Interactive Reconnaissance")
def test_reconnaissance_in_a_terminal(source: str) -> None:
    """`id` run as a terminal's process group leader alerts; run without a terminal it does not."""
    # script runs its command with $SHELL -c: bash execs a lone command, dash forks it (then `id` is not the
    # group leader and rightly does not alert), so the shell is pinned and told to exec
    alerts = monitor(source, "SHELL=/bin/sh script -qec 'exec id' /dev/null >/dev/null; id >/dev/null")
    hits = fired(alerts, "Basic Interactive Reconnaissance")
    assert [h["proc.name"] for h in hits] == ["id"] and hits[0]["proc.tty"] != 0


@pytest.mark.covers("Basic Interactive Reconnaissance")
def test_reconnaissance_in_a_job_control_shell(source: str) -> None:
    """In an interactive shell each command is its own process group: bash with job control forks, the child
    calls setpgid and then execs `id`. The group comes from the kernel at the exec (as in Falco), since the
    setpgid is the child's own call before it is anything a rule names. The second command of a pipeline
    joins the first one's group and does not alert."""
    alerts = monitor(source, "SHELL=/bin/sh script -qec \"bash -m -c 'id; true | id; true'\" /dev/null >/dev/null")
    hits = fired(alerts, "Basic Interactive Reconnaissance")
    assert [h["proc.name"] for h in hits] == ["id"]
    assert hits[0]["proc.tty"] != 0
