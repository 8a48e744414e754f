"""What the state engine needs the kernel to deliver, whatever the rules say: the prefilter's state half.

The kernel prefilter (``events/prefilter.py``) may drop an event no rule can fire on, but state builds the thread
and fd tables later events are judged with, so each event type state handles (``REQUIRED_EVENT_TYPES``) says here
which of its events must still reach it, as prefilter boxes naming the need:

* ``ALWAYS``: every event (its failure changes state too, or it has no return value);
* ``ON_SUCCESS``: the successful ones; a failed call of these types leaves every table as it was (each handler
  in ``lifecycle.py``/``fd_events.py`` returns early on a negative result);
* the open family: a successful open that returns a **directory** (the probe checks the inode), because a
  directory fd names later relative paths (``openat(dirfd, ...)``, ``fchdir``); and, when some rule reads the
  state of an existing fd that may be a file (``keep_file_fds``), every successful open, since that fd gets
  its name only from the open that created it.

A handler type missing from these tables is delivered always (``needs`` falls back to ``ALWAYS``), so adding a
handler never makes state lose events; tests/state/test_prefilter_needs.py keeps the tables complete.
"""
from __future__ import annotations

from collections.abc import Iterable

from syswarden.events.prefilter import Box, RetSign
from syswarden.state.state import HANDLERS

_LIFECYCLE = "state: process tree (proc.*, user.* of later events)"
ALWAYS: dict[str, str] = {
    "procexit": _LIFECYCLE,
    **dict.fromkeys(("connect", "bind"), "state: socket endpoints, also named on failure (fd.* of later events)"),
    **dict.fromkeys(("sendto", "sendmsg", "recvfrom", "recvmsg"),
                    "state: datagram socket endpoints (fd.* of later events)"),
    **dict.fromkeys(("useradded", "userdeleted", "groupadded", "groupdeleted"), "state: a recording's accounts"),
}
ON_SUCCESS: dict[str, str] = {
    **dict.fromkeys(("clone", "clone3", "fork", "vfork", "execve", "execveat", "setsid"), _LIFECYCLE),
    **dict.fromkeys(("setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "capset"),
                    "state: credentials (user.*, thread.cap_* of later events)"),
    **dict.fromkeys(("chdir", "fchdir"), "state: working directory (relative paths of later events)"),
    **dict.fromkeys(("close", "close_range"), "state: fd table (a closed fd)"),
    **dict.fromkeys(("dup", "dup2", "dup3", "fcntl"), "state: fd table (a duplicated fd)"),
    **dict.fromkeys(("socket", "socketpair", "accept", "accept4", "listen"), "state: fd table (a socket)"),
    **dict.fromkeys(("pipe", "pipe2", "eventfd", "eventfd2", "signalfd", "signalfd4", "timerfd_create",
                     "inotify_init", "inotify_init1", "epoll_create", "epoll_create1", "userfaultfd",
                     "memfd_create", "io_uring_setup", "pidfd_open", "pidfd_getfd", "bpf"),
                    "state: fd table (a new fd)"),
}
OPENS = frozenset({"open", "openat", "openat2", "creat", "open_by_handle_at"})
DIRECTORY_FDS = "state: a directory fd names later relative paths (openat dirfd, fchdir)"


def needs(event_types: Iterable[str] | None = None, *, keep_file_fds: tuple[str, ...] = (),
          keep_dir_fds: tuple[str, ...] = ()) -> dict[str, tuple[Box, ...]]:
    """Per state event type (of ``event_types``, default all), the boxes of the events state must see; a box
    with no constraint means every event. ``keep_file_fds`` names the rules that read file fds' state,
    ``keep_dir_fds`` those reading the state of directory fds paths are relative to: they join the directory
    box's origins, so a source that names relative paths itself (the eBPF probe's ``<param>_dirpath``) may drop
    that box only when ``DIRECTORY_FDS`` is its only origin."""
    wanted = set(HANDLERS) if event_types is None else set(event_types) & set(HANDLERS)
    out: dict[str, tuple[Box, ...]] = {}
    for t in sorted(wanted):
        if t in OPENS:
            boxes = [Box(ret=RetSign.OK, returns_dir=True, origins=(DIRECTORY_FDS, *keep_dir_fds))]
            if keep_file_fds:
                boxes.append(Box(ret=RetSign.OK, origins=keep_file_fds))
            out[t] = tuple(boxes)
        elif t in ON_SUCCESS:
            out[t] = (Box(ret=RetSign.OK, origins=(ON_SUCCESS[t],)),)
        else:
            out[t] = (Box(origins=(ALWAYS.get(t, "state: " + t),)),)
    return out


__all__ = ["ALWAYS", "ON_SUCCESS", "OPENS", "DIRECTORY_FDS", "needs"]
