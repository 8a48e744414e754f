"""Differential test of process lifecycle tracking (fork, thread, chdir, execve, exit) against a real process
tree traced by strace -f, with the processes' own view ($$, $PPID, $PWD) as the oracle (syswarden.state)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from syswarden.events.event import Event, ThreadInfo
from syswarden.events.types import flag_table
from syswarden.state import State

CHILD = r"""
import os, sys, threading
os.chdir(sys.argv[1])
os.mkdir("sub")
pid = os.fork()
if pid == 0:
    os.chdir("sub")
    os.execv("/bin/sh", ["sh", "-c", 'echo "$$ $PPID $PWD" > ../child.txt; exec /bin/true'])
os.waitpid(pid, 0)
def work():
    open("from_thread.txt", "w").close()
t = threading.Thread(target=work)
t.start()
t.join()
"""
_CALL = re.compile(r"^(\d+)\s+(\w+)\((.*)\)\s+= (-?\d+)")     # strace pads short pids with spaces
_EXIT = re.compile(r"^(\d+)\s+\+\+\+ exited with \d+ \+\+\+")


_FORKS = ("clone(", "clone3(", "fork(", "vfork(")


def _lines(text: str) -> list[str]:
    """strace -f lines with <unfinished ...>/<... resumed> halves joined back together.

    A fork-like call is put where it started: strace may print the child's first calls before the parent's
    ``<... clone resumed> = PID``, while a kernel source reports the child's own clone exit first (libs emits
    it from the child), so state must see the clone before anything of the child.
    """
    pending: dict[str, tuple[str, int | None]] = {}
    out: list[str | None] = []
    for line in text.splitlines():
        pid, _, rest = line.partition(" ")
        rest = rest.lstrip()
        if rest.endswith("<unfinished ...>"):
            head = rest[: -len("<unfinished ...>")]
            slot = None
            if head.startswith(_FORKS):
                slot = len(out)
                out.append(None)
            pending[pid] = (head, slot)
        elif rest.startswith("<... "):
            head, slot = pending.pop(pid, ("", None))
            joined = f"{pid} {head}{rest.split('resumed>', 1)[1]}"
            if slot is None:
                out.append(joined)
            else:
                out[slot] = joined
        else:
            out.append(line)
    return [line for line in out if line is not None]


def _strings(text: str) -> list[str]:
    return [bytes(s, "utf-8").decode("unicode_escape") for s in re.findall(r'"((?:[^"\\]|\\.)*)"', text)]


def _clone_flags(text: str) -> int:
    m = re.search(r"flags=([A-Z_|0-9]+)", text)
    table = flag_table("clone_flags")
    return sum(table.value_of(n) for n in (m.group(1).split("|") if m else ()) if n.startswith("CLONE_"))


def _event(num: int, line: str) -> Event | None:
    if m := _EXIT.match(line):
        return Event(num=num, ts=num, type="procexit", tid=int(m.group(1)), dir=">")
    m = _CALL.match(line)
    if not m:
        return None
    tid, name, args, res = int(m.group(1)), m.group(2), m.group(3), int(m.group(4))
    if name in ("clone", "clone3"):
        return Event(num=num, ts=num, type=name, tid=tid, res=res, params={"flags": _clone_flags(args)})
    if name == "execve":
        strs = _strings(args.split("],", 1)[0] + "]")
        return Event(num=num, ts=num, type="execve", tid=tid, res=res,
                     params={"filename": strs[0], "exe": strs[1], "args": strs[2:]})
    if name == "chdir":
        return Event(num=num, ts=num, type="chdir", tid=tid, res=res, params={"path": _strings(args)[0]})
    if name == "openat" and args.startswith("AT_FDCWD"):
        return Event(num=num, ts=num, type="openat", tid=tid, res=res,
                     params={"fd": res, "dirfd": -100, "name": _strings(args)[0], "flags": 0})
    return None


@pytest.mark.kernel
def test_lifecycle_agrees_with_the_processes_themselves(tmp_path: Path) -> None:
    """Fork + chdir + execve + thread + exit traced live: state's pid/ppid/cwd/comm/args match what the
    processes report about themselves, and the thread shares its process's cwd."""
    if shutil.which("strace") is None:
        pytest.skip("strace is not installed")
    work, out, script = tmp_path / "w", tmp_path / "trace.txt", tmp_path / "child.py"
    work.mkdir()
    script.write_text(CHILD)
    cmd = ["strace", "-f", "-q", "-s", "512", "-e", "trace=clone,clone3,fork,vfork,execve,chdir,openat",
           "-o", str(out), sys.executable, str(script), str(work)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    if proc.returncode != 0 and "ptrace" in proc.stderr:
        pytest.skip(f"strace cannot trace here: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    child_pid, child_ppid, child_pwd = (work / "child.txt").read_text().split()
    lines = _lines(out.read_text())
    root = int(lines[0].split()[0])
    state = State()
    state.seed([ThreadInfo(tid=root, pid=root, ptid=os.getpid(), comm="strace-child", cwd=os.getcwd())])
    seen: dict[str, ThreadInfo] = {}
    thread_open = None
    for i, line in enumerate(lines, 1):
        event = _event(i, line)
        if event is None:
            continue
        state.apply(event)
        t = event.thread
        assert t is not None
        if event.type == "execve" and event.params["exe"] == "sh":
            seen["sh"] = ThreadInfo(**{k: getattr(t, k) for k in ("tid", "pid", "ptid", "comm", "exepath", "cwd")},
                                    args=list(t.args))
            assert t.parent is not None and t.parent.tid == root
        if event.type == "openat" and event.params["name"].endswith("from_thread.txt"):
            thread_open = event
    sh = seen["sh"]
    assert (str(sh.pid), str(sh.ptid), sh.cwd) == (child_pid, child_ppid, child_pwd)
    assert (sh.comm, sh.exepath, sh.args[0]) == ("sh", "/bin/sh", "-c")
    assert thread_open is not None and thread_open.thread is not None and thread_open.fd is not None
    assert thread_open.thread.tid != root and thread_open.thread.pid == root
    assert thread_open.fd.name == str(work / "from_thread.txt")
    assert state.thread(int(child_pid)) is None or state.thread(int(child_pid)).exited  # type: ignore[union-attr]
    assert state.stats.placeholders == 0


def test_lines_put_a_fork_before_its_childs_calls() -> None:
    """strace can print the child's execve before the parent's resumed clone; the joined clone goes first."""
    text = ("100 clone(child_stack=NULL, flags=CLONE_CHILD_SETTID|SIGCHLD <unfinished ...>\n"
            "101 execve(\"/bin/sh\", [\"sh\"], 0x0 /* 0 vars */) = 0\n"
            "100 <... clone resumed>, child_tidptr=0x7f) = 101\n"
            "100 openat(AT_FDCWD, \"x\", O_RDONLY <unfinished ...>\n"
            "101 chdir(\"/\") = 0\n"
            "100 <... openat resumed>) = 3\n")
    assert [line.split("(")[0] for line in _lines(text)] == ["100 clone", "101 execve", "101 chdir", "100 openat"]
    assert _lines(text)[0].endswith("child_tidptr=0x7f) = 101")
