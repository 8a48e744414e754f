"""``syswarden record --from CAPTURE``: learn a policy from a recording (``capture -w``: scap or JSON Lines) for
one process tree, so profiles can be learned on one host and used on another.

Captures hold Falco events, not raw syscalls: the event name is the syscall (dedicated events and the generic
``syscall`` event alike), the ``abi`` parameter says i386 or x32, and i386 calls are reported under their
64-bit event names, so an i386 ``setuid`` event allows both i386 ``setuid32`` and the 16-bit ``setuid``
(looser by one call). The profile is only as complete as the capture: a capture written with a filter or an
event-type subset misses what it did not record (the CLI warns when memory-management calls, which every
program makes, are absent). ``--args`` is not learned from captures (their argument encodings are Falco's).
"""
from __future__ import annotations

import os
from pathlib import Path

from syswarden.errors import InputError
from syswarden.events.event import Event
from syswarden.recorder.recording import Access, Recording
from syswarden.sources.base import SourceConfig, open_source
from syswarden.sources.compat import COMPAT_EVENT_NAMES
from syswarden.state.state import State
from syswarden.syscalls import tables
from syswarden.syscalls.arch import Arch

_I386_NAMES: dict[str, tuple[str, ...]] = {}
for _i386, _event in COMPAT_EVENT_NAMES.items():
    _I386_NAMES[_event] = (*_I386_NAMES.get(_event, ()), _i386)
_ABI = {"i386": Arch.I386, "x32": Arch.X32}
_FORKS = ("clone", "clone3", "fork", "vfork")
_O_ACCMODE, _O_WRONLY, _O_RDWR, _O_CREAT, _O_TRUNC = 0o3, 0o1, 0o2, 0o100, 0o1000
_PARENT_PATHS = {"mkdir": ("path", Access.MAKE_DIR), "mkdirat": ("path", Access.MAKE_DIR),
                 "rmdir": ("path", Access.REMOVE_DIR), "unlink": ("path", Access.CREATE),
                 "unlinkat": ("name", Access.CREATE), "rename": ("newpath", Access.CREATE),
                 "renameat": ("newpath", Access.CREATE), "renameat2": ("newpath", Access.CREATE),
                 "symlink": ("linkpath", Access.CREATE), "symlinkat": ("linkpath", Access.CREATE)}


def syscall_names(event: Event) -> tuple[Arch, tuple[str, ...]]:
    """The ABI and the syscall names (as that ABI's table spells them) an event stands for; none for
    events that are not syscalls (procexit, container events...)."""
    arch = _ABI.get(str(event.params.get("abi", "")), Arch.X86_64)
    names = (event.type, *_I386_NAMES.get(event.type, ())) if arch is Arch.I386 else (event.type,)
    return arch, tuple(n for n in names if tables.number(arch, n) is not None)


def learn(path: Path, pid: int | None, comm: str | None, with_args: bool = False) -> tuple[Recording, list[str]]:
    """The recording of one process tree of the capture at ``path`` (``pid`` or the first process named
    ``comm``)."""
    if (pid is None) == (comm is None):
        raise InputError("--from needs the process tree to learn from: --pid PID or --comm NAME (one of them)")
    kind = "scap" if str(path).endswith(".scap") else "replay"
    source = open_source(kind, SourceConfig(path=str(path)))
    state = State()
    rec = Recording()
    rec.commands.append((comm or f"pid-{pid}", f"(from {path})"))
    tree: set[int] = {pid} if pid is not None else set()
    try:
        state.seed(source.initial_threads())
        for event in source.events():
            state.apply(event)
            thread = event.thread
            if thread is None:
                continue
            if thread.pid not in tree:
                if comm is not None and not tree and thread.comm == comm:
                    tree.add(thread.pid)
                elif thread.ptid in tree:
                    tree.add(thread.pid)
                else:
                    continue
            _add(rec, event)
    finally:
        source.close()
    warnings = []
    if not tree:
        raise InputError(f"no process {'named ' + repr(comm) if comm else str(pid)} in {path}")
    if not any(name in ("mmap", "mmap2", "brk", "mprotect") for _, name in rec.calls):
        warnings.append("the capture has no mmap/brk/mprotect events for this tree: it was probably written with "
                        "a filter or an event-type subset, and the policy misses what it did not record")
    if with_args:
        warnings.append("--args is not learned from captures: the argument conditions are left out")
    return rec, warnings


def _add(rec: Recording, event: Event) -> None:
    if not event.is_exit:
        return
    arch, names = syscall_names(event)
    if not names or (event.type in _FORKS and event.res == 0):
        return     # not a syscall, or the child's side of a fork
    failed = event.res is not None and -4095 <= event.res < 0
    for name in names:
        rec.count(arch, name, 1, int(failed))
    if not failed:
        _learn_files(rec, event)


def _learn_files(rec: Recording, event: Event) -> None:
    params, kind = event.params, event.type
    if kind in ("open", "openat", "openat2", "creat"):
        name = event.fd.name if event.fd is not None and event.fd.name else params.get("name")
        if isinstance(name, str) and name.startswith("/"):
            flags = _O_CREAT | _O_WRONLY | _O_TRUNC if kind == "creat" else int(params.get("flags") or 0)
            mode = flags & _O_ACCMODE
            access = (Access.READ if mode != _O_WRONLY else Access(0)) | \
                (Access.WRITE if mode in (_O_WRONLY, _O_RDWR) else Access(0)) | \
                (Access.TRUNCATE if flags & _O_TRUNC else Access(0))
            rec.touch(name, access)
            if flags & _O_CREAT and mode != 0:
                rec.touch(os.path.dirname(name) or "/", Access.CREATE)
    elif kind in ("execve", "execveat"):
        exe = params.get("trusted_exepath") or params.get("filename") or params.get("exe")
        if isinstance(exe, str) and exe.startswith("/"):
            rec.touch(exe, Access.EXECUTE)
    elif kind in _PARENT_PATHS:
        key, access = _PARENT_PATHS[kind]
        value = params.get(key)
        if isinstance(value, str) and value.startswith("/"):
            rec.touch(os.path.dirname(value) or "/", access)
