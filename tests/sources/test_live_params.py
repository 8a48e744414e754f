"""The argument kinds of syscall_decode, read live by both sources (eBPF in the kernel, ptrace from the
tracee): uid changes, mounts, namespaces, ptrace requests, UDP sendto addresses, pipes."""
from __future__ import annotations

import os
import socket
import sys
import textwrap
from pathlib import Path

import pytest

from syswarden.events.event import Event
from syswarden.sources.base import SourceConfig, open_source

pytestmark = [pytest.mark.kernel]


@pytest.fixture(params=["ebpf", "ptrace"])
def live(request: pytest.FixtureRequest) -> str:
    """Each live source in turn (eBPF is skipped without root/BTF/toolchain, with the reason)."""
    if request.param == "ebpf":
        from tests.sources.ebpf.conftest import ebpf_unavailable
        if reason := ebpf_unavailable():
            pytest.skip(reason)
    if os.geteuid() != 0:
        pytest.skip("the scenario mounts and changes uid: needs root")
    return str(request.param)


def capture(source: str, code: str, types: set[str]) -> list[Event]:
    src = open_source(source, SourceConfig(command=[sys.executable, "-c", code], event_types=frozenset(types)))
    try:
        return [e for e in src.events() if e.type in types]
    finally:
        src.close()


def test_privileged_operations_are_decoded(live: str, tmp_path: Path) -> None:
    """mount/umount2 paths, unshare flags, a ptrace request and setuid's uid arrive with Falco's names."""
    code = textwrap.dedent(f"""
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mount(b"swtmp", b"{tmp_path}", b"tmpfs", 0, None)
        libc.umount2(b"{tmp_path}", 0)
        libc.ptrace(16, 1, 0, 0)
        if os.fork() == 0:
            libc.unshare(0x20000)          # CLONE_NEWNS
            os.setuid(65534)
            os._exit(0)
        os.wait()
    """)
    events = capture(live, code, {"mount", "umount2", "unshare", "ptrace", "setuid"})
    by = {e.type: e for e in events}
    assert (by["mount"].params["dev"], by["mount"].params["dir"], by["mount"].params["type"], by["mount"].res) == (
        "swtmp", str(tmp_path), "tmpfs", 0)
    assert by["umount2"].params["name"] == str(tmp_path) and by["umount2"].res == 0
    assert by["unshare"].params["flags"] == 0x20000 and by["unshare"].res == 0
    assert by["ptrace"].params["request"] == 16 and by["ptrace"].params["pid"] == 1
    assert by["setuid"].params["uid"] == 65534 and by["setuid"].res == 0


def test_udp_sendto_and_pipe_fds(live: str) -> None:
    """sendto's destination comes from its sockaddr argument; pipe2 reports both new fds."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        port = sink.getsockname()[1]
        code = (f"import os, socket; r, w = os.pipe(); print(r, w, flush=True); "
                f"socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('127.0.0.1', {port}))")
        events = capture(live, code, {"sendto", "pipe2", "pipe"})
        assert sink.recv(10) == b"x"
    send = [e for e in events if e.type == "sendto"]
    assert len(send) == 1 and send[0].res == 1
    t = send[0].params["tuple"]
    assert (t.family, t.dip, t.dport, t.l4proto) == ("AF_INET", "127.0.0.1", port, "udp")
    pipes = [e for e in events if e.type in ("pipe", "pipe2") and e.res == 0]
    assert pipes and all(e.params["fd1"] >= 0 and e.params["fd2"] == e.params["fd1"] + 1 for e in pipes)


def test_threads_carry_their_process_id(live: str) -> None:
    """A thread's events name the process (pid = tgid); its creation is a clone/clone3 with CLONE_THREAD."""
    code = ("import threading, os; t = threading.Thread(target=lambda: os.close(os.open('/dev/null', 0))); "
            "t.start(); t.join(); print(threading.get_native_id())")
    events = capture(live, code, {"clone", "clone3", "openat"})
    child_side = [e for e in events if e.type in ("clone", "clone3") and e.res == 0]
    assert len(child_side) == 1
    thread = child_side[0]
    assert thread.params["flags"] & 0x10000 and thread.pid != thread.tid
    opens = [e for e in events if e.type == "openat" and e.params["name"] == "/dev/null"]
    assert len(opens) == 1 and opens[0].tid == thread.tid and opens[0].pid == thread.pid
