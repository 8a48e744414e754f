"""Network rules live on both sources (eBPF, ptrace), inside a private network namespace the test creates (its
loopback also holds a documentation address, 198.51.100.1, and the cloud metadata address, 169.254.169.254, so
no packet leaves it): each rule alerts for its connection and not for a twin on 127.0.0.1, on a port the rule
expects, or outside the Docker-named cgroup (issue 19's coverage table: docs/rule-coverage.md)."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.scenarios.conftest import fired, monitor, named

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

PUBLIC, METADATA = "198.51.100.1", "169.254.169.254"
# `serve ADDR:PORT,... CLIENTS.sh`: listen on each, run the clients, then accept what they connected;
# `connect HOST PORT tcp|udp`: one connection.
DRIVER = """
import socket, subprocess, sys
if sys.argv[1] == "connect":
    kind = socket.SOCK_DGRAM if sys.argv[4] == "udp" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as s:
        s.connect((sys.argv[2], int(sys.argv[3])))
else:
    listeners = []
    for where in sys.argv[2].split(","):
        host, port = where.rsplit(":", 1)
        listener = socket.socket()
        listener.bind((host, int(port)))
        listener.listen(16)
        listeners.append(listener)
    subprocess.run(["/bin/sh", sys.argv[3]], check=True)
    for listener in listeners:
        listener.setblocking(False)
        try:
            while True:
                listener.accept()[0].close()
        except BlockingIOError:
            pass
"""


@pytest.mark.covers("Interpreted procs outbound network activity", "System procs network activity",
                    "Unexpected UDP Traffic", "Disallowed SSH Connection Non Standard Port",
                    "Unexpected inbound connection source", "Contact EC2 Instance Metadata Service From Container",
                    "Contact cloud metadata service from container", "Unexpected K8s NodePort Connection")
def test_network_rules(source: str, container_cgroup: Path, tmp_path: Path) -> None:
    t = named(tmp_path, "listener", "python3", "tail", "udpclient", "ssh", "metaclient", "nodeclient")
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)

    def connect(name: str, host: str, port: int, proto: str = "tcp", *, in_container: bool = False) -> str:
        command = f"{t[name]} {driver} connect {host} {port} {proto}"
        return f"sh -c 'echo $$ > {container_cgroup}/cgroup.procs; exec {command}'" if in_container else command

    clients = tmp_path / "clients.sh"
    clients.write_text("\n".join([
        connect("python3", PUBLIC, 4000), connect("python3", "127.0.0.1", 4000),
        connect("tail", PUBLIC, 4000), connect("tail", "127.0.0.1", 4000),
        connect("udpclient", PUBLIC, 9999, "udp"), connect("udpclient", PUBLIC, 53, "udp"),
        connect("ssh", PUBLIC, 443), connect("ssh", PUBLIC, 22),
        connect("metaclient", METADATA, 80), connect("metaclient", METADATA, 80, in_container=True),
        connect("nodeclient", PUBLIC, 30080, in_container=True), connect("nodeclient", PUBLIC, 8080, in_container=True),
    ]) + "\n")
    ports = ",".join([*(f"{PUBLIC}:{p}" for p in (4000, 443, 22, 30080, 8080)), f"{METADATA}:80", "127.0.0.1:4000"])
    netns = tmp_path / "netns.sh"
    netns.write_text("\n".join([
        "set -e", "ip link set lo up", f"ip addr add {PUBLIC}/32 dev lo", f"ip addr add {METADATA}/32 dev lo",
        f"{t['listener']} {driver} serve {ports} {clients}"]) + "\n")
    alerts = monitor(source, f"unshare -n /bin/sh {netns}",
                     enable=("Interpreted procs outbound network activity", "Unexpected inbound connection source",
                             "Unexpected K8s NodePort Connection"), timeout=120)

    def hits(rule: str) -> list[tuple[str, str]]:
        return sorted((h["proc.name"], h["fd.name"]) for h in fired(alerts, rule))

    def to(addr: str, port: int) -> str:
        return f"->{addr}:{port}"

    outbound = hits("Interpreted procs outbound network activity")
    assert [(n, c.endswith(to(PUBLIC, 4000))) for n, c in outbound] == [("python3", True)]
    system = hits("System procs network activity")
    assert [(n, c.endswith(to(PUBLIC, 4000))) for n, c in system] == [("tail", True)]
    udp = hits("Unexpected UDP Traffic")
    assert [(n, c.endswith(to(PUBLIC, 9999))) for n, c in udp] == [("udpclient", True)]
    ssh = hits("Disallowed SSH Connection Non Standard Port")
    assert [(n, c.endswith(to(PUBLIC, 443))) for n, c in ssh] == [("ssh", True)]
    for rule in ("Contact EC2 Instance Metadata Service From Container",
                 "Contact cloud metadata service from container"):
        assert [(n, c.endswith(to(METADATA, 80))) for n, c in hits(rule)] == [("metaclient", True)], rule
    nodeport = hits("Unexpected K8s NodePort Connection")
    assert [(n, c.endswith(to(PUBLIC, 30080))) for n, c in nodeport] == [("nodeclient", True)]
    # the listener's listen() and accept()s on the namespace's public addresses, none on 127.0.0.1
    inbound = hits("Unexpected inbound connection source")
    assert {n for n, _ in inbound} == {"listener"} and not any("127.0.0.1" in c for _, c in inbound)
    assert any(PUBLIC in c for _, c in inbound) and any(METADATA in c for _, c in inbound)
