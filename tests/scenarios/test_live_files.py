"""File, credential and syscall rules live on both sources (eBPF, ptrace), each against a harmless twin: the same
action on a file of another name, or the same program without the telling argument (issue 19's coverage table:
docs/rule-coverage.md). Every path is the test's own: its tmp dir, or scratch names in system directories that
the ``system_paths`` fixture removes."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.scenarios.conftest import fired, monitor, named

pytestmark = [pytest.mark.kernel, pytest.mark.slow]


def _mine(hits: list[dict], field: str, root: Path) -> list[str]:
    """The values of ``field`` among ``hits`` that name a path under ``root`` (what this test touched)."""
    return sorted(str(h[field]) for h in hits if str(root) in str(h[field]))


@pytest.mark.covers("Modify Shell Configuration File", "Read Shell Configuration File",
                    "Delete or rename shell history", "Set Setuid or Setgid bit", "Create Hidden Files or Directories",
                    "Backdoored library loaded into SSHD (CVE-2024-3094)", "Create Hardlink Over Sensitive Files")
def test_tmp_file_rules(source: str, tmp_path: Path) -> None:
    """Shell configuration written and read, shell history renamed, setuid bit set, hidden directory made, a
    backdoored liblzma read by sshd, a hard link to /etc/shadow: each alerts; the twin (same action on an ordinary
    name, or on /etc/hostname) does not."""
    r, w = tmp_path / "r", tmp_path / "w"
    r.mkdir()
    w.mkdir()
    for name in (".bashrc", "bashrc", ".bash_history", "history", "liblzma.so.5.6.1", "liblzma.so.5.4.1", "s", "x"):
        (r / name).write_text("x")
    t = named(tmp_path, "sshd")
    read = "import sys; [open(p, 'rb').read() for p in sys.argv[1:]]"
    alerts = monitor(source, "; ".join([
        f"touch {w / '.bashrc'} {w / 'bashrc'}", f"cat {r / '.bashrc'} {r / 'bashrc'} >/dev/null",
        f"mv {r / '.bash_history'} {w / 'old'}", f"mv {r / 'history'} {w / 'old2'}",
        f"chmod u+s {r / 's'}", f"chmod u+x {r / 'x'}",
        f"mkdir {w / '.hidden'}", f"mkdir {w / 'visible'}",
        f"{t['sshd']} -c \"{read}\" {r / 'liblzma.so.5.6.1'} {r / 'liblzma.so.5.4.1'}",
        f"ln /etc/shadow {w / 'hl-shadow'}; ln /etc/hostname {w / 'hl-hostname'}; true",
    ]), enable=("Read Shell Configuration File", "Create Hidden Files or Directories"))
    assert _mine(fired(alerts, "Modify Shell Configuration File"), "fd.name", w) == [str(w / ".bashrc")]
    assert _mine(fired(alerts, "Read Shell Configuration File"), "fd.name", r) == [str(r / ".bashrc")]
    history = fired(alerts, "Delete or rename shell history")
    assert [h["proc.cmdline"] for h in history] == [f"mv {r / '.bash_history'} {w / 'old'}"]
    setuid = fired(alerts, "Set Setuid or Setgid bit")
    assert [h["proc.cmdline"] for h in setuid] == [f"chmod u+s {r / 's'}"]
    hidden = [h["proc.cmdline"] for h in fired(alerts, "Create Hidden Files or Directories")]
    assert [c for c in hidden if c.startswith("mkdir")] == [f"mkdir {w / '.hidden'}"]
    lzma = fired(alerts, "Backdoored library loaded into SSHD (CVE-2024-3094)")
    assert [(h["proc.name"], h["fd.name"]) for h in lzma] == [("sshd", str(r / "liblzma.so.5.6.1"))]
    links = fired(alerts, "Create Hardlink Over Sensitive Files")
    assert [h["proc.cmdline"] for h in links] == [f"ln /etc/shadow {w / 'hl-shadow'}"]


@pytest.mark.covers("Directory traversal monitored file read", "PTRACE anti-debug attempt", "Non sudo setuid",
                    "Change thread namespace")
def test_syscall_rules(source: str, tmp_path: Path) -> None:
    """/etc/hostname opened through `../../`, PTRACE_TRACEME, setuid(0) by nobody and setns() alert; the twins
    (the plain path, another ptrace request, setuid(0) by root, no setns) do not."""
    t = named(tmp_path, "launcher", "reader", "tracee", "dropper", "nsjoin", "twin")
    up = "../" * len(tmp_path.parts)
    read = "import sys; open(sys.argv[1]).read()"
    launch = "import subprocess, sys; subprocess.run(sys.argv[1:])"
    ptrace = ("import ctypes, os, sys; libc = ctypes.CDLL(None, use_errno=True); pid = os.fork()\n"
              "if pid == 0: libc.ptrace(int(sys.argv[1]), 0, 0, 0); os._exit(0)\n"
              "os.waitpid(pid, 0)")
    setuid = "import os\ntry: os.setuid(0)\nexcept PermissionError: pass"
    # (os.setns is Python 3.12's) joining the namespace the process is already in: CLONE_NEWNET
    setns = "import ctypes, os; ctypes.CDLL(None).setns(os.open('/proc/self/ns/net', os.O_RDONLY), 0x40000000)"
    nobody = "setpriv --reuid=65534 --regid=65534 --clear-groups"
    alerts = monitor(source, "; ".join([
        f"{t['launcher']} -c '{launch}' {t['reader']} -c '{read}' {tmp_path}/{up}etc/hostname",
        f"{t['launcher']} -c '{launch}' {t['reader']} -c '{read}' /etc/hostname",
        f"{t['tracee']} -c '{ptrace}' 0", f"{t['twin']} -c '{ptrace}' 3",
        f"{nobody} {t['dropper']} -c '{setuid}'", f"{t['twin']} -c '{setuid}'",
        f"{t['nsjoin']} -c \"{setns}\"", f"{t['twin']} -c 'import os'",
    ]))
    traversal = fired(alerts, "Directory traversal monitored file read")
    assert [(h["proc.name"], h["fd.name"]) for h in traversal] == [("reader", "/etc/hostname")]
    assert [h["proc.name"] for h in fired(alerts, "PTRACE anti-debug attempt")] == ["tracee"]
    assert [(h["proc.name"], h["user.name"]) for h in fired(alerts, "Non sudo setuid")] == [("dropper", "nobody")]
    assert [h["proc.name"] for h in fired(alerts, "Change thread namespace")] == ["nsjoin"]


@pytest.mark.covers("Read sensitive file trusted after startup")
def test_server_reading_shadow_after_startup(source: str, tmp_path: Path) -> None:
    """A program named like a server reading /etc/shadow after 5 seconds alerts; the same read at startup does
    not (servers read credentials as they start)."""
    t = named(tmp_path, "nginx")
    late = "import time; time.sleep(5.5); open('/etc/shadow').read()"
    start = time.monotonic()
    alerts = monitor(source, f"{t['nginx']} -c \"{late}\"; {t['nginx']} -c \"open('/etc/shadow').read()\"")
    assert time.monotonic() - start > 5.5
    hits = fired(alerts, "Read sensitive file trusted after startup")
    assert [(h["proc.name"], h["fd.name"]) for h in hits] == [("nginx", "/etc/shadow")]
    assert hits[0]["proc.cmdline"].startswith("nginx -c import time")


@pytest.mark.covers("Write below binary dir", "Write below etc", "Write below root", "Write below rpm database",
                    "Mkdir binary dirs", "Create files below dev")
def test_writes_below_system_directories(source: str, scratch_name: str, system_paths: list[Path],
                                         tmp_path: Path) -> None:
    """A scratch file created in /usr/bin, /etc, /, /var/lib/rpm* and /dev, and a scratch directory made in
    /usr/bin, alert with their paths; the same in the tmp dir does not."""
    targets = {"bin": Path("/usr/bin") / scratch_name, "etc": Path("/etc") / scratch_name,
               "root": Path("/") / scratch_name, "rpm": Path("/var/lib") / f"rpm-{scratch_name}",
               "dev": Path("/dev") / scratch_name}
    made = Path("/usr/bin") / f"{scratch_name}.d"
    system_paths += [*targets.values(), made]
    alerts = monitor(source, "; ".join([
        *(f"touch {p}" for p in targets.values()), f"mkdir {made}",
        *(f"touch {tmp_path / name}" for name in targets), f"mkdir {tmp_path / 'd'}"]))
    for rule, key in (("Write below binary dir", "bin"), ("Write below etc", "etc"), ("Write below root", "root"),
                      ("Write below rpm database", "rpm"), ("Create files below dev", "dev")):
        assert [h["fd.name"] for h in fired(alerts, rule)] == [str(targets[key])], rule
    mkdirs = fired(alerts, "Mkdir binary dirs")
    assert [(h["evt.arg.path"], h["proc.name"]) for h in mkdirs] == [(str(made), "mkdir")]
    assert all(p.exists() for p in (*targets.values(), made))


# bpf(BPF_PROG_LOAD) of a socket filter `r0 = 0; exit` (GPL): loaded, attached nowhere, gone when the process exits
BPF_LOAD = """
import ctypes, struct
insns = struct.pack("<BBhi", 0xb7, 0, 0, 0) + struct.pack("<BBhi", 0x95, 0, 0, 0)
code, licence = ctypes.create_string_buffer(insns), ctypes.create_string_buffer(b"GPL")
attr = ctypes.create_string_buffer(struct.pack("<IIQQ", 1, 2, ctypes.addressof(code), ctypes.addressof(licence)), 128)
assert ctypes.CDLL(None, use_errno=True).syscall(321, 5, attr, 128) >= 0
"""
# userfaultfd(O_CLOEXEC | UFFD_USER_MODE_ONLY): allowed to unprivileged users even with vm.unprivileged_userfaultfd=0
USERFAULTFD = "import ctypes; assert ctypes.CDLL(None).syscall(323, 0o2000000 | 1) >= 0"


@pytest.mark.covers("BPF Program Not Profiled",
                    "Unprivileged Delegation of Page Faults Handling to a Userspace Process")
def test_bpf_load_and_userfaultfd(source: str, tmp_path: Path) -> None:
    """A BPF program loaded by an unlisted program, and a userfaultfd made by `nobody`, alert; the same load by
    bpftool and the same userfaultfd by root do not."""
    t = named(tmp_path, "loader", "bpftool", "pager")
    (tmp_path / "bpf.py").write_text(BPF_LOAD)
    nobody = "setpriv --reuid=65534 --regid=65534 --clear-groups"
    alerts = monitor(source, "; ".join([
        f"{t['loader']} {tmp_path / 'bpf.py'}", f"{t['bpftool']} {tmp_path / 'bpf.py'}",
        f"{nobody} {t['pager']} -c '{USERFAULTFD}'", f"{t['pager']} -c '{USERFAULTFD}'"]))
    bpf = fired(alerts, "BPF Program Not Profiled")
    assert [(h["proc.name"], h["evt.arg.cmd"]) for h in bpf] == [("loader", "BPF_PROG_LOAD")]
    uffd = fired(alerts, "Unprivileged Delegation of Page Faults Handling to a Userspace Process")
    assert [(h["proc.name"], h["user.name"]) for h in uffd] == [("pager", "nobody")]


@pytest.mark.covers("Read ssh information", "Adding ssh keys to authorized_keys",
                    "Container Access to Host Sensitive Paths")
def test_ssh_files_and_host_paths(source: str, scratch_name: str, system_paths: list[Path], tmp_path: Path,
                                  container_cgroup: Path) -> None:
    """In a scratch home (/home/NAME/.ssh): `cat` reading known_hosts and `touch` writing authorized_keys alert,
    ssh reading it and a write to authorized_keys.new do not; inside a Docker-named cgroup, reading a file under
    /host/ alerts, the same read on the host does not."""
    ssh_dir = Path("/home") / scratch_name / ".ssh"
    system_paths.append(ssh_dir.parent)
    ssh_dir.mkdir(parents=True)
    (ssh_dir / "known_hosts").write_text("x\n")
    host = Path("/host")
    host_file = host / scratch_name
    system_paths.append(host if not host.exists() else host_file)
    host.mkdir(exist_ok=True)
    host_file.write_text("x\n")
    t = named(tmp_path, "ssh")
    read = "import sys; open(sys.argv[1]).read()"
    alerts = monitor(source, "; ".join([
        f"cat {ssh_dir / 'known_hosts'} >/dev/null", f"{t['ssh']} -c '{read}' {ssh_dir / 'known_hosts'}",
        f"touch {ssh_dir / 'authorized_keys'}", f"touch {ssh_dir / 'authorized_keys.new'}",
        f"cat {host_file} >/dev/null",
        f"sh -c 'echo $$ > {container_cgroup}/cgroup.procs; exec cat {host_file}' >/dev/null"]))
    read_hits = fired(alerts, "Read ssh information")
    assert [(h["proc.name"], h["fd.name"]) for h in read_hits] == [("cat", str(ssh_dir / "known_hosts"))]
    keys = fired(alerts, "Adding ssh keys to authorized_keys")
    assert [(h["proc.name"], h["fd.name"]) for h in keys] == [("touch", str(ssh_dir / "authorized_keys"))]
    hostfs = fired(alerts, "Container Access to Host Sensitive Paths")
    assert [(h["proc.name"], h["fd.name"]) for h in hostfs] == [("cat", str(host_file))]


@pytest.mark.covers("Update Package Repository")
def test_package_repository_written_in_private_mount_namespace(source: str, tmp_path: Path) -> None:
    """Writing a sources list below /etc/apt alerts; the same write below the tmp dir does not. /etc/apt is an
    empty tmpfs of a private mount namespace the test creates, so apt's real configuration is never touched."""
    ours = tmp_path / "sources.list.d"
    ours.mkdir()
    inner = ("mount -t tmpfs syswarden-test /etc/apt && mkdir /etc/apt/sources.list.d && "
             f"touch /etc/apt/sources.list.d/test.list && touch {ours / 'test.list'}")
    alerts = monitor(source, f"unshare -m --propagation private sh -c '{inner}'")
    hits = fired(alerts, "Update Package Repository")
    assert [(h["proc.name"], h["fd.name"]) for h in hits] == [("touch", "/etc/apt/sources.list.d/test.list")]
    assert not Path("/etc/apt/sources.list.d/test.list").exists()
