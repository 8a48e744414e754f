"""Container rules live on both sources (eBPF, ptrace): the same actions run twice, first on the host (the twin)
and then inside a throwaway cgroup named like a Docker container's (the ``container_cgroup`` fixture), and each
rule alerts for the second run only (issue 19's coverage table: docs/rule-coverage.md). Tools are symlinks to the
Python interpreter named as the rules know them; every file is the test's own."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.scenarios.conftest import fired, monitor, named

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

SPAWN = "import subprocess, sys; subprocess.run(sys.argv[1:])"
# stdout redirected to a connected TCP socket (and back): dup2(socket, 1)
REDIRECT = ("import os, socket; l = socket.socket(); l.bind((\\\"127.0.0.1\\\", 0)); l.listen(1); "
            "c = socket.create_connection(l.getsockname()); s = l.accept()[0]; keep = os.dup(1); "
            "os.dup2(c.fileno(), 1); os.dup2(keep, 1)")
FINIT_MODULE = "import ctypes; ctypes.CDLL(None).syscall(313, -1, b\\\"\\\", 0)"   # EBADF: loads nothing
OFF_BY_DEFAULT = ("Container Drift Detected (chmod)", "Container Drift Detected (open+create)",
                  "Container Run as Root User", "Modify Container Entrypoint")


def _actions(t: dict[str, Path], tmp: Path, device: Path) -> str:
    """A shell function running every action once; its argument tells the runs' files apart."""
    create_exec = "import os, sys; os.close(os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o755))"
    entrypoint = ("import os, sys; fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644); "
                  "os.close(os.open(\\\"/proc/self/fd/%d\\\" % fd, os.O_WRONLY))")
    return "\n".join([
        "actions() {",
        f"  {t['nc']} -c pass -e x",
        f"  {t['nmap']} -c pass",
        f"  {t['apt']} -c pass",
        f"  {t['rsync']} -c pass",
        f"  {t['curl']} -c pass -o x",
        f"  {t['kubectl']} -c pass",
        f"  {t['yarn']} -c '{SPAWN}' {t['nc']} -c pass",
        f"  base64 -d {tmp / 'payload'} >/dev/null",
        "  cat /proc/self/environ >/dev/null",
        # (GNU tar reads nothing when the archive is /dev/null)
        f"  {t['runc']} -c '{SPAWN}' tar -cf {tmp}/$1.tar {tmp / 'artifact'}",
        f"  {t['mytool']} -c \"{REDIRECT}\"",
        # a new process: the shell itself keeps the container id it started with (as in Falco: the cgroups
        # are read at clone and execve)
        f"  echo x | tee {tmp}/$1-release_agent >/dev/null",
        f"  touch {tmp}/$1-drift; chmod +x {tmp}/$1-drift",
        f"  {t['mytool']} -c '{create_exec}' {tmp}/$1-created",
        f"  {t['mytool']} -c \"{entrypoint}\" {tmp}/$1-entrypoint",
        f"  cat {device} >/dev/null",
        f"  {t['mytool']} -c \"{FINIT_MODULE}\"",
        "  setpriv --reuid=65534 --regid=65534 --clear-groups unshare -U /bin/true",
        "  unshare -pf /bin/true",
        "}",
    ])


@pytest.mark.covers("Netcat Remote Code Execution in Container", "Launch Suspicious Network Tool in Container",
                    "Launch Package Management Process in Container", "Launch Remote File Copy Tools in Container",
                    "Launch Ingress Remote File Copy Tools in Container",
                    "Kubernetes Client Tool Launched in Container", "Network Tool Executed During NPM Package Install",
                    "Decoding Payload in Container", "Read environment variable from /proc files",
                    "Exfiltrating Artifacts via Kubernetes Control Plane",
                    "Redirect STDOUT/STDIN to Network Connection in Container",
                    "Detect release_agent File Container Escapes", "Container Drift Detected (chmod)",
                    "Container Drift Detected (open+create)", "Modify Container Entrypoint",
                    "Privileged Container Device Access", "Linux Kernel Module Injection Detected",
                    "Change namespace privileges via unshare", "Container Run as Root User",
                    "Launch Excessively Capable Container")
def test_container_rules(source: str, container_cgroup: Path, scratch_name: str, system_paths: list[Path],
                         tmp_path: Path) -> None:
    t = named(tmp_path, "nc", "nmap", "apt", "rsync", "curl", "kubectl", "yarn", "runc", "mytool")
    (tmp_path / "payload").write_text("aGVsbG8K\n")
    (tmp_path / "artifact").write_text("secret\n")
    device = Path("/dev") / f"sd{scratch_name}"          # a regular file named like a disk (Falco checks the name)
    system_paths.append(device)
    device.write_text("x")
    script = "\n".join([_actions(t, tmp_path, device), "actions host",
                        f"echo $$ > {container_cgroup}/cgroup.procs", "actions ctr"])
    alerts = monitor(source, script, enable=OFF_BY_DEFAULT, timeout=120)

    def cmdlines(rule: str) -> list[str]:
        return sorted(h["proc.cmdline"] for h in fired(alerts, rule))

    def names(rule: str) -> list[str]:
        return sorted(h["proc.name"] for h in fired(alerts, rule))

    # netcat's -c runs a command too (the yarn child below is "nc -c pass")
    assert cmdlines("Netcat Remote Code Execution in Container") == ["nc -c pass", "nc -c pass -e x"]
    assert names("Launch Suspicious Network Tool in Container") == ["nc", "nc", "nmap"]
    assert names("Launch Package Management Process in Container") == ["apt"]
    assert names("Launch Remote File Copy Tools in Container") == ["rsync"]
    assert cmdlines("Launch Ingress Remote File Copy Tools in Container") == ["curl -c pass -o x"]
    assert names("Kubernetes Client Tool Launched in Container") == ["kubectl"]
    npm = fired(alerts, "Network Tool Executed During NPM Package Install")
    assert [(h["proc.name"], h["proc.pname"]) for h in npm] == [("nc", "yarn")]
    assert cmdlines("Decoding Payload in Container") == [f"base64 -d {tmp_path / 'payload'}"]
    environ = fired(alerts, "Read environment variable from /proc files")
    assert [(h["proc.name"], h["fd.name"]) for h in environ] == [("cat", "/proc/self/environ")]
    tar = [h for h in fired(alerts, "Exfiltrating Artifacts via Kubernetes Control Plane")
           if h["fd.name"] == str(tmp_path / "artifact")]
    assert [(h["proc.name"], h["proc.pname"]) for h in tar] == [("tar", "runc")]
    assert names("Redirect STDOUT/STDIN to Network Connection in Container") == ["mytool"]
    release = fired(alerts, "Detect release_agent File Container Escapes")
    assert [h["fd.name"] for h in release] == [f"{tmp_path}/ctr-release_agent"]
    assert cmdlines("Container Drift Detected (chmod)") == [f"chmod +x {tmp_path}/ctr-drift"]
    created = fired(alerts, "Container Drift Detected (open+create)")
    assert [h["evt.arg.name"] for h in created] == [f"{tmp_path}/ctr-created"]
    entry = fired(alerts, "Modify Container Entrypoint")
    assert [(h["fd.name"], h["proc.cmdline"].endswith("ctr-entrypoint")) for h in entry] == [("/proc/self/fd/3", True)]
    assert [h["fd.name"] for h in fired(alerts, "Privileged Container Device Access")] == [str(device)]
    assert names("Linux Kernel Module Injection Detected") == ["mytool"]
    assert names("Change namespace privileges via unshare") == ["unshare"]
    assert names("Container Run as Root User") == ["true"]
    assert names("Launch Excessively Capable Container") == ["true"]
