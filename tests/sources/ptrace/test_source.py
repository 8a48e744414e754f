"""PtraceSource on the real kernel, with strace as the oracle for what a command's tree did."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from syswarden.errors import SourceError
from syswarden.events.event import Event
from syswarden.sources.base import SourceConfig
from syswarden.sources.ptrace.source import PtraceSource

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("ptrace_ok")]
PY = sys.executable


def run(cmd: list[str], types: set[str] | None = None) -> tuple[list[Event], PtraceSource]:
    with PtraceSource(SourceConfig(command=cmd, event_types=frozenset(types) if types else None)) as src:
        return list(src.events()), src


def strace_paths(cmd: list[str], syscall: str, tmp_path: Path) -> list[tuple[str, int]]:
    """(path, result) of every ``syscall`` of ``cmd``'s tree, as strace reports them."""
    # -ff: one log per process, so concurrent calls are never split into unfinished/resumed halves.
    subprocess.run(["strace", "-ff", "-qq", "-e", f"trace={syscall}", "-o", str(tmp_path / "st"), *cmd],
                   check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    found = []
    for log in tmp_path.glob("st.*"):
        for line in log.read_text().splitlines():
            m = re.search(rf'{syscall}\((?:AT_FDCWD, )?"([^"]*)".*\) = (-?\d+)', line)
            if m:
                found.append((m.group(1), int(m.group(2))))
    return found


def test_openat_sequence_matches_strace(tmp_path: Path) -> None:
    """Every openat of a two-process pipeline, with its result sign, matches strace's view (the two
    processes run concurrently, so the interleaving is compared as a multiset)."""
    cmd = ["/bin/sh", "-c", "cat /etc/hostname /etc/os-release /nonexistent 2>/dev/null | wc -c >/dev/null"]
    events, _ = run(cmd, {"openat"})
    ours = [(e.params["name"], e.res) for e in events if e.type == "openat"]
    theirs = strace_paths(cmd, "openat", tmp_path)
    assert sorted((p, r >= 0) for p, r in ours) == sorted((p, r >= 0) for p, r in theirs) and len(ours) > 5


def test_execve_of_child_carries_argv_parent_and_exit() -> None:
    """A forked child's exec reports its argv and parent; every task's exit is reported with its status."""
    events, src = run(["/bin/sh", "-c", "/bin/echo one two >/dev/null; exit 3"])
    echo = [e for e in events if e.type == "execve" and e.params["comm"] == "echo"]
    assert len(echo) == 1 and echo[0].params["args"] == ["one", "two"]
    sh_pid = next(e.pid for e in events if e.type == "execve" and e.params["comm"] == "sh")
    assert echo[0].params["ptid"] == sh_pid
    clones = [e for e in events if e.type in ("clone", "fork", "vfork") and e.res == 0]
    assert echo[0].pid in {e.pid for e in clones}
    exits = {e.pid: e.params["ret"] for e in events if e.type == "procexit"}
    assert exits[sh_pid] == 3 and exits[echo[0].pid] == 0 and src.exit_code == 3


def test_connect_and_accept_tuples_match_the_sockets(tmp_path: Path) -> None:
    """connect and accept4 tuples carry both endpoints, matching what the processes' sockets report."""
    out = tmp_path / "ports"
    code = (
        "import socket\n"
        "srv = socket.create_server(('127.0.0.1', 0)); port = srv.getsockname()[1]\n"
        "c = socket.create_connection(('127.0.0.1', port)); a, _ = srv.accept()\n"
        f"open({str(out)!r}, 'w').write(f'{{port}} {{c.getsockname()[1]}}')\n"
    )
    events, _ = run([PY, "-c", code], {"connect", "accept4", "accept"})
    port, sport = map(int, out.read_text().split())
    conn = next(e for e in events if e.type == "connect" and e.params["addr"].port == port)
    acc = next(e for e in events if e.type in ("accept", "accept4") and e.res >= 0)
    want = ("AF_INET", "tcp", "127.0.0.1", sport, "127.0.0.1", port)
    for ev in (conn, acc):
        t = ev.params["tuple"]
        assert (t.family, t.l4proto, t.sip, t.sport, t.dip, t.dport) == want


def test_rename_and_unlink_paths_match_strace(tmp_path: Path) -> None:
    """renameat2/unlink paths decoded from tracee memory equal strace's decoding."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("x")
    cmd = ["/bin/sh", "-c", f"mv {a} {b} && rm {b}"]
    events, _ = run(cmd, {"renameat2", "rename", "unlinkat", "unlink"})
    moved = [(e.params["oldpath"], e.params["newpath"]) for e in events if e.type.startswith("rename")]
    removed = [e.params["name"] for e in events if e.type == "unlinkat"]
    assert moved == [(str(a), str(b))] and removed == [str(b)] and not b.exists()


def test_a_command_is_required() -> None:
    """Without a command the ptrace source refuses with a SourceError saying what it needs."""
    with pytest.raises(SourceError, match="needs a command"):
        PtraceSource(SourceConfig())


def test_close_kills_the_traced_tree() -> None:
    """Closing mid-stream kills and reaps the tracees (no process left behind)."""
    src = PtraceSource(SourceConfig(command=["/bin/sh", "-c", "sleep 30"], event_types=frozenset({"execve"})))
    pids = set()
    for ev in src.events():
        pids.add(ev.pid)
        if ev.type == "execve" and ev.params["comm"] == "sleep":
            break
    src.close()
    deadline = time.monotonic() + 5
    while any(Path(f"/proc/{p}").exists() for p in pids) and time.monotonic() < deadline:
        time.sleep(0.02)   # an orphaned grandchild is reaped by init, shortly after our SIGKILL
    assert len(pids) == 2 and not any(Path(f"/proc/{p}").exists() for p in pids)


def test_signals_are_delivered_to_tracees() -> None:
    """A signal a tracee sends itself still reaches it (the tracer re-injects it)."""
    events, src = run(["/bin/sh", "-c", "kill -TERM $$; sleep 5"], {"execve"})
    assert src.exit_code == -15
    assert not any(e.type == "execve" and e.params["comm"] == "sleep" for e in events)


def test_every_event_follows_the_event_table(tmp_path: Path) -> None:
    """Across a varied command, every event's type and parameter names are in Falco's event table."""
    from syswarden.events.types import event_spec

    script = f"mkdir {tmp_path}/d; mv {tmp_path}/d {tmp_path}/e; rmdir {tmp_path}/e; " \
             "cat /etc/hostname | wc -c >/dev/null; /nonexistent 2>/dev/null; true"
    events, _ = run(["/bin/sh", "-c", script])
    assert {"renameat2", "rmdir", "pipe2", "execve", "procexit"} <= {e.type for e in events}
    for ev in events:
        spec = event_spec(ev.type, ev.dir)
        assert spec is not None, ev.type
        assert set(ev.params) <= {p.name for p in spec.params}, ev.type


def test_works_without_root() -> None:
    """As an unprivileged user (nobody), the ptrace source follows a command; the eBPF source refuses clearly."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root to switch to nobody, and setpriv")
    script = (
        "from syswarden.sources.base import SourceConfig, open_source\n"
        "from syswarden.errors import SourceError\n"
        "src = open_source('ptrace', SourceConfig(command=['cat', '/etc/hostname'],\n"
        "                                         event_types=frozenset({'openat'})))\n"
        "print(sorted({e.params['name'] for e in src.events() if e.type == 'openat'}))\n"
        "try:\n    open_source('ebpf', SourceConfig(command=['true']))\n"
        "except SourceError as exc:\n    print('ebpf refused:', exc)\n")
    out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable,
                          "-c", script], capture_output=True, text=True, timeout=60, cwd="/")
    assert out.returncode == 0, out.stderr
    assert "'/etc/hostname'" in out.stdout
    assert "ebpf refused: the eBPF source needs root" in out.stdout


def test_delivers_the_syscalls_it_is_given_and_adds_none() -> None:
    """Asked for openat only, the source decodes no other syscall: state's needs (close, dup ...) are the
    caller's to add (service.selection), not the source's."""
    events, _ = run(["/bin/sh", "-c", "cat /etc/hostname >/dev/null"], {"openat"})
    syscalls = {e.type for e in events} - {"clone", "fork", "vfork", "procexit"}   # ptrace stops, not syscalls
    assert syscalls == {"openat"}
