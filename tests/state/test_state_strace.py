"""Differential test of fd tracking against strace -yy on a real process (syswarden.state.State)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from syswarden.events.event import Event, ThreadInfo
from syswarden.state import State

CHILD = r"""
import os, fcntl, sys
os.chdir(sys.argv[1])
a = os.open("a.txt", os.O_WRONLY | os.O_CREAT, 0o644)
os.mkdir("sub")
d = os.open("sub", os.O_DIRECTORY | os.O_RDONLY)
b = os.open("b.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=d)
os.chdir("sub")
c = os.open("../c.txt", os.O_WRONLY | os.O_CREAT, 0o644)
e = os.dup(a)
os.dup2(b, 20)
f = fcntl.fcntl(c, fcntl.F_DUPFD_CLOEXEC, 30)
os.close(a)
os.fchdir(d)
g = os.open(".././sub//g.txt", os.O_WRONLY | os.O_CREAT, 0o644)
os.chdir("/")
h = os.open("../h.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=d)
for fd in (e, 20, f, b, c, g, h):
    os.write(fd, b"x")
"""
_LINE = re.compile(r"^(\w+)\((.*)\)\s+= (-?\d+|0x[0-9a-f]+)(?:<([^>]*)>)?(?: (E[A-Z]+))?")
_ANNOT = re.compile(r"<[^>]*>")


def _split_args(text: str) -> list[str]:
    args, depth, quoted, cur = [], 0, False, ""
    for i, ch in enumerate(text):
        if ch == '"' and (i == 0 or text[i - 1] != "\\"):
            quoted = not quoted
        elif not quoted and ch in "{[":
            depth += 1
        elif not quoted and ch in "}]":
            depth -= 1
        if ch == "," and not quoted and depth == 0:
            args.append(cur.strip())
            cur = ""
        else:
            cur += ch
    return [*args, cur.strip()] if cur.strip() else args


def _num(arg: str) -> int:
    arg = _ANNOT.sub("", arg)
    if arg == "AT_FDCWD":
        return -100
    if arg.startswith("F_"):
        return {"F_DUPFD": 0, "F_DUPFD_CLOEXEC": 1030}.get(arg, -1)
    return int(arg, 0) if re.fullmatch(r"-?(0x)?[0-9a-f]+", arg) else sum(getattr(os, f, 0) for f in arg.split("|"))


def _event(num: int, tid: int, line: str) -> tuple[Event, str | None] | None:
    m = _LINE.match(line)
    if not m:
        return None
    name, raw, ret, _, err = m.groups()
    args = _split_args(raw)
    res = -getattr(__import__("errno"), err) if err else int(ret, 0)
    params: dict[str, object]
    if name == "openat":
        params = {"fd": res, "dirfd": _num(args[0]), "name": args[1].strip('"'), "flags": _num(args[2])}
    elif name in ("close", "fchdir", "write"):
        params = {"fd": _num(args[0])}
    elif name in ("dup", "dup2", "dup3"):
        params = {"oldfd": _num(args[0])}
    elif name == "fcntl":
        params = {"fd": _num(args[0]), "cmd": _num(args[1])}
    elif name == "chdir":
        params = {"path": args[0].strip('"')}
    else:
        return None
    annot = re.match(r"\d+<([^>]*)>", args[0]) if name == "write" else None
    return Event(num=num, ts=num, type=name, tid=tid, res=res, params=params), (annot.group(1) if annot else None)


@pytest.mark.kernel
def test_fd_names_agree_with_strace(tmp_path: Path) -> None:
    """For every write to an fd the process opened, state's fd.name equals the path strace -yy reads from /proc."""
    if shutil.which("strace") is None:
        pytest.skip("strace is not installed")
    work, out = tmp_path / "work", tmp_path / "trace.txt"
    work.mkdir()
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    cmd = ["strace", "-qq", "-yy", "-e", "trace=openat,close,dup,dup2,dup3,fcntl,chdir,fchdir,write", "-o", str(out),
           sys.executable, str(script), str(work)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    if proc.returncode != 0 and "ptrace" in proc.stderr:
        pytest.skip(f"strace cannot trace here: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    state = State()
    state.seed([ThreadInfo(tid=1, pid=1, comm="python3", cwd=os.getcwd())])
    checked = 0
    for i, line in enumerate(out.read_text().splitlines(), 1):
        parsed = _event(i, 1, line)
        if parsed is None:
            continue
        event, truth = parsed
        state.apply(event)
        if truth is not None and event.fd is not None and truth.startswith(str(work)):
            assert event.fd.name == truth, line
            checked += 1
    assert checked == 7
    assert state.thread(1).cwd == "/"                              # type: ignore[union-attr]
