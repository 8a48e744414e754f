"""Server sockets live (issue 19 item 3, acceptance): a python3 process listening on a non-loopback address, and
accepting a connection there, fires the sandbox rule 'Interpreted procs inbound network activity' (off by
default: the test enables it); the same program on 127.0.0.1, or on 0.0.0.0 (the rule excludes both, as in
Falco), does not. Everything runs in a private network namespace (``unshare -n``, gone with its last process)
whose lo carries the test's address: no host interface or route is touched."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.scenarios.conftest import fired, monitor, named

pytestmark = [pytest.mark.kernel, pytest.mark.slow]
RULE = "Interpreted procs inbound network activity"
ADDRESS = "10.71.0.9"   # on lo inside the test's own network namespace only
# A fixed port: the namespace is the test's own, so nothing else binds there. (libsinsp makes a socket a server
# socket only when bind names a port: bound to port 0 it stays a plain socket whose fd.ip is 0.0.0.0.)
PORT = 8080
SERVER = f"""
import socket, sys
PORT = {PORT}
if sys.argv[3] == "udp":                 # a datagram server: bound, receives one datagram (recvfrom)
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind((sys.argv[1], PORT))
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"ping", (sys.argv[2], PORT))
    assert srv.recvfrom(10)[0] == b"ping"
else:
    srv = socket.socket()
    srv.bind((sys.argv[1], PORT))
    srv.listen(1)
    cli = socket.create_connection((sys.argv[2], PORT))
    conn, _ = srv.accept()
    conn.close(); cli.close()
srv.close()
"""


def _listen(source: str, tmp_path: Path, rule: str, bind: str, connect: str, proto: str = "tcp"
            ) -> list[dict[str, object]]:
    tmp_path.mkdir(exist_ok=True)
    python3 = named(tmp_path, "python3")["python3"]
    (tmp_path / "server.py").write_text(SERVER)
    inner = (f"ip link set lo up && ip addr add {ADDRESS}/32 dev lo && "
             f"{python3} {tmp_path / 'server.py'} {bind} {connect} {proto}")
    return fired(monitor(source, f"unshare -n sh -c '{inner}'", enable=(rule,)), rule)


@pytest.mark.covers(RULE)
def test_interpreter_listening_on_a_public_address_fires(source: str, tmp_path: Path) -> None:
    hits = _listen(source, tmp_path, RULE, ADDRESS, ADDRESS)
    assert sorted(str(h["evt.type"]) for h in hits) == ["accept4", "listen"], hits
    listen = next(h for h in hits if h["evt.type"] == "listen")
    assert listen["fd.name"] == f"{ADDRESS}:{PORT}" and listen["proc.name"] == "python3"
    # a server socket has only its own address: libsinsp leaves the local/remote ports <NA>
    assert listen["fd.lport"] is None and listen["fd.type"] == "ipv4"
    accept = next(h for h in hits if h["evt.type"] == "accept4")
    assert accept["fd.lport"] == PORT and str(accept["fd.name"]).endswith(f"->{ADDRESS}:{PORT}")
    assert accept["fd.l4proto"] == "tcp"


@pytest.mark.parametrize("bind", ["127.0.0.1", "0.0.0.0"])
def test_loopback_or_any_address_does_not_fire(source: str, tmp_path: Path, bind: str) -> None:
    """Listening on 127.0.0.1 is excluded by ``fd.net != 127.0.0.0/8``, on 0.0.0.0 by ``fd.ip != "0.0.0.0"`` (the
    server socket's own address); the accepted connection comes from 127.0.0.1 to 127.0.0.1 in both. (A client
    reaching a 0.0.0.0 listener on the public address does fire, on its accept: that connection's ends are public,
    in Falco too.)"""
    assert _listen(source, tmp_path, RULE, bind, "127.0.0.1") == []


@pytest.mark.covers(RULE)
def test_interpreter_receiving_datagrams_on_a_public_address_fires(source: str, tmp_path: Path) -> None:
    """The macro's UDP branch: the first datagram a bound server socket receives (``fd.connected=false``,
    ``fd.name_changed=true``, as libsinsp) on the public address fires; on 127.0.0.1 it does not."""
    hits = _listen(source, tmp_path, RULE, ADDRESS, ADDRESS, "udp")
    assert [(h["evt.type"], h["fd.l4proto"]) for h in hits] == [("recvfrom", "udp")], hits
    assert str(hits[0]["fd.name"]).endswith(f"->{ADDRESS}:{PORT}")
    assert _listen(source, tmp_path / "twin", RULE, "127.0.0.1", "127.0.0.1", "udp") == []
