"""Stock Falco rules firing on real activity under `syswarden monitor`, once per live source (eBPF, ptrace):
each scenario checks the alert's fields and that its benign twin raises nothing."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.scenarios.conftest import PY3, fired, monitor

pytestmark = [pytest.mark.kernel, pytest.mark.slow]


@pytest.mark.covers("Write below monitored dir")
def test_write_below_monitored_dir(source: str, scratch_name: str, system_paths: list[Path],
                                   tmp_path: Path) -> None:
    """Creating a file in /usr/local/bin alerts with its path and the writer; the same in /tmp does not."""
    target = Path("/usr/local/bin") / scratch_name
    system_paths.append(target)
    alerts = monitor(source, f"touch {target} && rm -f {target}; touch {tmp_path / scratch_name}")
    hits = fired(alerts, "Write below monitored dir")
    assert len(hits) == 1 and not target.exists()
    assert hits[0]["fd.name"] == str(target) and hits[0]["proc.name"] == "touch"
    assert hits[0]["proc.pname"] == "sh" and hits[0]["user.name"] == "root"
    assert hits[0]["proc.cmdline"] == f"touch {target}"


@pytest.mark.covers("Read sensitive file untrusted")
def test_read_sensitive_file_untrusted(source: str) -> None:
    """cat reading /etc/shadow alerts with user, process, parent and command line; /etc/hostname does not."""
    alerts = monitor(source, "cat /etc/shadow >/dev/null; cat /etc/hostname >/dev/null")
    hits = fired(alerts, "Read sensitive file untrusted")
    assert len(hits) == 1
    h = hits[0]
    assert (h["fd.name"], h["proc.name"], h["proc.pname"], h["proc.cmdline"], h["user.name"], h["user.uid"]) == (
        "/etc/shadow", "cat", "sh", "cat /etc/shadow", "root", 0)
    assert h["proc.exepath"] == os.path.realpath(shutil.which("cat") or "")


@pytest.mark.covers("Modify binary dirs")
def test_rename_in_binary_dir(source: str, scratch_name: str, system_paths: list[Path], tmp_path: Path) -> None:
    """Renaming a (test-made) copy inside /usr/bin alerts with both paths; renaming in /tmp does not."""
    old, new = Path("/usr/bin") / scratch_name, Path("/usr/bin") / f"{scratch_name}-renamed"
    system_paths += [old, new]
    shutil.copy("/bin/true", old)
    (tmp_path / "a").write_text("x")
    alerts = monitor(source, f"mv {old} {new}; mv {tmp_path / 'a'} {tmp_path / 'b'}")
    hits = fired(alerts, "Modify binary dirs")
    assert len(hits) == 1 and new.exists()
    assert hits[0]["proc.name"] == "mv" and hits[0]["proc.cmdline"] == f"mv {old} {new}"
    assert f"oldpath={old}" in hits[0]["evt.args"] and f"newpath={new}" in hits[0]["evt.args"]


@pytest.mark.covers("Packet socket created in container")
def test_packet_socket_in_container(source: str, container_cgroup: Path) -> None:
    """An AF_PACKET socket opened inside a (Docker-named) cgroup alerts; the same on the host does not."""
    code = "import socket; socket.socket(socket.AF_PACKET, socket.SOCK_RAW).close()"
    script = (f"{PY3} -c '{code}'; "
              f"sh -c 'echo $$ > {container_cgroup}/cgroup.procs && exec {PY3} -c \"{code}\"'")
    alerts = monitor(source, script)
    hits = fired(alerts, "Packet socket created in container")
    assert len(hits) == 1
    assert hits[0]["proc.name"].startswith("python3") and hits[0]["proc.pname"] == "sh"
    assert "AF_PACKET" in hits[0]["evt.args"]


@pytest.mark.covers("Terminal shell in container")
def test_terminal_shell_in_container(source: str, container_cgroup: Path, tmp_path: Path) -> None:
    """A shell started by a non-shell parent ("runc") with a pty alerts with its tty; without a pty it does not."""
    runc = tmp_path / "runc"
    runc.symlink_to(PY3)
    child = "import subprocess; subprocess.run([\\\"/bin/sh\\\", \\\"-c\\\", \\\"true\\\"])"
    launch = f"{runc} -c \"{child}\""
    script = (f"echo $$ > {container_cgroup}/cgroup.procs; {launch}; "
              f"script -qec '{launch}' /dev/null >/dev/null")
    alerts = monitor(source, script)
    hits = fired(alerts, "Terminal shell in container")
    assert len(hits) == 1
    assert hits[0]["proc.name"] == "sh" and hits[0]["proc.pname"] == "runc" and hits[0]["proc.tty"] != 0


@pytest.mark.covers("Run shell untrusted")
def test_run_shell_untrusted(source: str, tmp_path: Path) -> None:
    """A shell spawned by a program named like a web server alerts; spawned by an unknown program it does not."""
    for name in ("nginx", "mytool"):
        (tmp_path / name).symlink_to(PY3)
    child = "import subprocess; subprocess.run([\\\"/bin/sh\\\", \\\"-c\\\", \\\"true\\\"])"
    alerts = monitor(source, f"{tmp_path / 'nginx'} -c \"{child}\"; {tmp_path / 'mytool'} -c \"{child}\"")
    hits = fired(alerts, "Run shell untrusted")
    assert len(hits) == 1
    assert hits[0]["proc.name"] == "sh" and hits[0]["proc.pname"] == "nginx"
    assert hits[0]["proc.cmdline"] == "sh -c true"


@pytest.mark.covers("Create Symlink Over Sensitive Files")
def test_symlink_over_sensitive_file(source: str, tmp_path: Path) -> None:
    """A symlink to /etc/shadow alerts with target and link path; one to /etc/hostname does not."""
    link, other = tmp_path / "shadow-link", tmp_path / "hostname-link"
    alerts = monitor(source, f"ln -s /etc/shadow {link}; ln -s /etc/hostname {other}")
    hits = fired(alerts, "Create Symlink Over Sensitive Files")
    assert len(hits) == 1 and link.is_symlink()
    assert hits[0]["evt.arg.target"] == "/etc/shadow" and hits[0]["evt.arg.linkpath"] == str(link)
    assert hits[0]["proc.name"] == "ln"


@pytest.mark.covers("Search Private Keys or Passwords")
def test_search_private_keys(source: str, tmp_path: Path) -> None:
    """find looking for id_rsa alerts with its command line; find looking for notes.txt does not."""
    alerts = monitor(source, f"find {tmp_path} -name id_rsa; find {tmp_path} -name notes.txt")
    hits = fired(alerts, "Search Private Keys or Passwords")
    assert len(hits) == 1
    assert hits[0]["proc.name"] == "find" and hits[0]["proc.cmdline"] == f"find {tmp_path} -name id_rsa"


@pytest.mark.covers("Clear Log Activities")
def test_clear_log_file(source: str, scratch_name: str, system_paths: list[Path]) -> None:
    """Truncating a file in /var/log alerts with its path; appending to it does not."""
    log = Path("/var/log") / f"{scratch_name}.log"
    system_paths.append(log)
    log.write_text("line\n")
    alerts = monitor(source, f"echo more >> {log}; : > {log}")
    hits = fired(alerts, "Clear Log Activities")
    assert len(hits) == 1 and log.read_text() == ""
    assert hits[0]["fd.name"] == str(log) and hits[0]["proc.name"] == "sh"


@pytest.mark.covers("PTRACE attached to process")
def test_ptrace_attach(source: str) -> None:
    """PTRACE_ATTACH to another process alerts; PTRACE_PEEKDATA does not."""
    code = ("import ctypes, os, time; libc = ctypes.CDLL(None, use_errno=True); pid = os.fork()\n"
            "if pid == 0: time.sleep(2); os._exit(0)\n"
            "libc.ptrace(2, pid, 0, 0); libc.ptrace(16, pid, 0, 0); os.kill(pid, 9); os.waitpid(pid, 0)")
    alerts = monitor(source, f"{PY3} -c '{code}'")
    hits = fired(alerts, "PTRACE attached to process")
    assert len(hits) == 1 and hits[0]["proc.name"].startswith("python3")


@pytest.mark.covers("Execution from /dev/shm")
def test_execution_from_dev_shm(source: str, scratch_name: str, system_paths: list[Path], tmp_path: Path) -> None:
    """Running a binary copied to /dev/shm alerts with its path; the same copy run from /tmp does not."""
    shm, local = Path("/dev/shm") / scratch_name, tmp_path / scratch_name
    system_paths.append(shm)
    shutil.copy("/bin/true", shm)
    shutil.copy("/bin/true", local)
    # The twin runs first: a shell whose own args start with "-c /dev/shm" is (rightly) flagged as well.
    alerts = monitor(source, f"{local}; {shm}")
    hits = fired(alerts, "Execution from /dev/shm")
    assert len(hits) == 1
    assert hits[0]["proc.exepath"] == str(shm) and hits[0]["proc.name"] == scratch_name[:15]


@pytest.mark.covers("Fileless execution via memfd_create")
def test_fileless_execution_via_memfd(source: str) -> None:
    """Executing a binary from a memfd alerts with the memfd image; executing the same binary from disk does not."""
    code = ("import os; data = open('/bin/true', 'rb').read(); os.system('/bin/true'); "
            "fd = os.memfd_create('payload', 0); os.write(fd, data); "
            "pid = os.fork()\n"
            "if pid == 0: os.execve(f'/proc/self/fd/{fd}', ['payload'], {})\n"
            "os.waitpid(pid, 0)")
    alerts = monitor(source, f"{PY3} -c \"{code}\"")
    hits = fired(alerts, "Fileless execution via memfd_create")
    assert len(hits) == 1
    # comm (proc.name) is the basename of the exec'd path, here the fd number under /proc/self/fd.
    assert hits[0]["proc.exepath"].startswith("/memfd:payload") and hits[0]["proc.name"].isdigit()


def test_relative_and_dirfd_paths_resolve_like_falco(source: str) -> None:
    """Opens by a cwd-relative path and by a path relative to a directory fd both alert on /etc/shadow."""
    code = "import os; d = os.open('/etc', os.O_RDONLY); os.close(os.open('shadow', os.O_RDONLY, dir_fd=d))"
    alerts = monitor(source, f"cd /etc && cat ./shadow >/dev/null; cd / && {PY3} -c \"{code}\"")
    hits = fired(alerts, "Read sensitive file untrusted")
    assert [(h["proc.name"], h["fd.name"]) for h in hits] == [("cat", "/etc/shadow"),
                                                              (Path(PY3).name, "/etc/shadow")]
    assert hits[0]["proc.cmdline"] == "cat ./shadow"
