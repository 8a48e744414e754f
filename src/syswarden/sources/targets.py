"""What a live source watches: process trees from /proc, and the /proc seeding of threads that existed before
the source started (delegated to ``state.procfs``). Which event types it delivers is decided by the caller
(``service.selection``), never here.

Shared by the eBPF and ptrace sources.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

from syswarden.events.event import ThreadInfo
from syswarden.state import procfs


def ppid_of(pid: int) -> int | None:
    """The parent pid of a live process (None when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # comm may contain spaces and parentheses: fields resume after the last ')'.
    return int(stat[stat.rindex(b")") + 2:].split()[1])


def descendants(pids: Iterable[int]) -> set[int]:
    """``pids`` and every process below them, as /proc shows the tree now."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            ppid = ppid_of(int(entry))
            if ppid is not None:
                children.setdefault(ppid, []).append(int(entry))
    found, todo = set(), list(pids)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, ()))
    return found


def seed_threads(pids: Iterable[int] | None = None) -> Iterator[ThreadInfo]:
    """Threads alive now, with full context, from ``state.procfs`` (all of them, or ``pids``' trees)."""
    wanted = descendants(pids) if pids else None
    return (t for t in procfs.scan() if wanted is None or t.pid in wanted)


class GatedCommand:
    """A command forked and held before its exec until ``release()``, so a tracer can be in place first.

    The forked child blocks in ``read()`` on a pipe before calling ``execvp``: nothing of the command runs,
    not even its dynamic loader, before the source is ready. (``subprocess`` cannot do this: ``Popen`` waits
    for the exec.) ``poll()``/``wait()`` reap it like ``Popen``.
    """

    def __init__(self, command: list[str]) -> None:
        gate_r, self._gate_w = os.pipe()
        self.returncode: int | None = None
        self.pid = os.fork()
        if self.pid == 0:  # child: only async-signal-safe work until exec
            try:
                os.close(self._gate_w)
                if os.read(gate_r, 1):
                    os.close(gate_r)
                    os.execvp(command[0], command)
            except OSError as exc:
                os.write(2, f"syswarden: cannot run {command[0]!r}: {exc.strerror}\n".encode(errors="replace"))
                os._exit(127)
            os._exit(126)
        os.close(gate_r)

    def release(self) -> None:
        """Let the command exec (idempotent)."""
        if self._gate_w >= 0:
            os.write(self._gate_w, b"g")
            os.close(self._gate_w)
            self._gate_w = -1

    def _reaped(self, status: int) -> int:
        self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def poll(self) -> int | None:
        """The exit code if the command has exited (reaping it), else None."""
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                return self.returncode
            if pid:
                self._reaped(status)
        return self.returncode

    def wait(self) -> int | None:
        if self.returncode is None:
            try:
                self._reaped(os.waitpid(self.pid, 0)[1])
            except ChildProcessError:
                pass
        return self.returncode

    def kill(self) -> None:
        try:
            os.kill(self.pid, 9)
        except ProcessLookupError:
            pass

    def abandon(self) -> None:
        """Kill a command that will never be released and reap it."""
        if self._gate_w >= 0:
            os.close(self._gate_w)
            self._gate_w = -1
        if self.poll() is None:
            self.kill()
            self.wait()


class CgroupPaths:
    """cgroup v2 id (what ``bpf_get_current_cgroup_id`` returns: the directory's inode) -> cgroup path.

    Misses rescan the cgroup2 mount, at most once a second, so a new container's cgroup is found quickly
    without walking the tree for every event.
    """

    def __init__(self) -> None:
        self.root = _cgroup2_mount()
        self._paths: dict[int, str] = {}
        self._last_scan = 0.0

    def path(self, cgroup_id: int) -> str:
        """The path below the cgroup2 root (``/system.slice/x.scope``), or "" if unknown."""
        import time

        found = self._paths.get(cgroup_id)
        if found is None and self.root and time.monotonic() - self._last_scan > 1.0:
            self._last_scan = time.monotonic()
            for dirpath, _, _ in os.walk(self.root):
                try:
                    self._paths[os.stat(dirpath).st_ino] = "/" + os.path.relpath(dirpath, self.root).lstrip(".")
                except OSError:
                    continue
            found = self._paths.get(cgroup_id)
        return found or ""

    def param(self, cgroup_id: int) -> list[str]:
        """Falco's ``cgroups`` parameter (``controller=path`` entries) for one cgroup id."""
        path = self.path(cgroup_id)
        return [f"cgroup2={path.replace('//', '/')}"] if path else []


def _cgroup2_mount() -> str:
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                left, _, right = line.partition(" - ")
                if right.split()[:1] == ["cgroup2"]:
                    return left.split()[4]
    except OSError:
        pass
    return ""


def proc_cgroups(pid: int) -> list[str]:
    """``/proc/PID/cgroup`` as Falco's ``cgroups`` parameter (``controller=path``)."""
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            rows = [line.rstrip("\n").split(":", 2) for line in f if line.count(":") >= 2]
    except OSError:
        return []
    return [f"{ctrl or 'cgroup2'}={path}" for _, ctrl, path in rows]
