"""The state engine: applies each event to the thread and fd tables and attaches context to the event.

``State.apply(event)`` runs between a source and the rules engine (``sources -> state -> rules``). It:
1. finds the calling thread (or creates one: from /proc in live mode, else a minimal placeholder);
2. makes relative path params absolute against the cwd or the dirfd's path (Falco's resolved ``evt.arg``);
3. updates the tables through the handler for the event type (``lifecycle.HANDLERS``, ``fd_events.HANDLERS``);
4. sets ``event.thread`` and ``event.fd``, and ``event.lookups`` (this state's users, groups and threads, which
   the fields read names through: per event, so two states in one process never mix their tables).
Legacy captures with enter events: an enter event's params are remembered and merged under its exit's params
for the handlers (old exit events lack some params), as libsinsp does.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from syswarden.events.accounts import GroupInfo, UserInfo
from syswarden.events.event import Event, ThreadInfo
from syswarden.events.types import ENTER_ONLY, EVENTS, ParamType
from syswarden.state import fd_events, lifecycle, procfs
from syswarden.events.types import dirpath_param
from syswarden.state.context import StateStats
from syswarden.state.fds import RAW_NAME_PARAM, join_path, normalize_path, resolve_at
from syswarden.state.processes import DEFAULT_MAX_EXITED, DEFAULT_MAX_THREADS, ThreadTable
from syswarden.state.users import UserTable


MAX_PROC_ANCESTORS = 16

_PATH_TYPES = (ParamType.FSPATH, ParamType.FSRELPATH)
_PATH_PARAMS: dict[tuple[str, str], tuple[tuple[str, str | None], ...]] = {
    key: tuple((p.name, p.dirfd) for p in spec.params if p.type in _PATH_TYPES)
    for key, spec in EVENTS.items()
}
_USES_FD_PARAM: dict[tuple[str, str], str] = {}
for _key, _spec in EVENTS.items():
    if "uses_fd" in _spec.flags:
        _fd_params = [p.name for p in _spec.params if p.type is ParamType.FD and p.name != "res"]
        if _fd_params:
            _USES_FD_PARAM[_key] = "fd" if "fd" in _fd_params else _fd_params[0]


class StateLookups:
    """A state's tables as the fields layer reads them (``rules.fields.lookups.Lookups``): attached to every event
    the state applies. The bound methods are stored rather than wrapped, so a lookup costs what calling the
    table itself costs; ``State.users`` and ``State.threads`` therefore stay the same objects for a state's life.
    """

    __slots__ = ("user", "group", "thread")

    def __init__(self, users: UserTable, threads: ThreadTable) -> None:
        self.user = users.user
        self.group = users.group
        self.thread = threads.get


class State:
    """Thread, fd, user and container tables, updated event by event.

    Args:
        procfs: look up unknown threads (and their ancestors) in /proc — for live sources only.
        max_threads: cap of the live thread table (oldest evicted beyond it).
        max_exited: how many exited threads stay findable for late events.
        proc: the procfs mount point.
    """

    def __init__(self, *, procfs: bool = False, max_threads: int = DEFAULT_MAX_THREADS,
                 max_exited: int = DEFAULT_MAX_EXITED, proc: str = procfs.PROC) -> None:
        self.procfs = procfs
        self.proc = proc
        self.threads = ThreadTable(max_threads, max_exited)
        # The recording's own users (useradded events, users.add_user) come before the host's.
        self.users = UserTable()
        self.stats = StateStats()
        self._enter: OrderedDict[int, Event] = OrderedDict()
        self.lookups = StateLookups(self.users, self.threads)

    def seed(self, threads: Iterable[ThreadInfo]) -> int:
        """Load the initial threads (from a source's ``initial_threads()``); parents are linked afterwards."""
        count = 0
        for thread in threads:
            self.threads.add(thread)
            count += 1
        self.threads.relink_all()
        return count

    def thread(self, tid: int) -> ThreadInfo | None:
        """The thread ``tid`` (live or recently exited)."""
        return self.threads.get(tid)

    def apply(self, event: Event) -> Event:
        """Update the tables from ``event`` and attach ``event.thread`` and ``event.fd``; returns the event."""
        self.stats.events += 1
        tid = event.tid
        thread = self.threads.active(tid)
        if event.thread is not None:
            # A source that reports the process with every event (Linux audit) attaches what it knows.
            thread = self._adopt(event.thread, thread)
        elif thread is None and tid > 0 and not _is_clone_child(event):
            thread = self._unknown_thread(event)
        key = (event.type, event.dir)
        plan = _APPLY_PLANS.get(key) or _apply_plan(key)
        before = None
        if thread is not None:
            if plan.paths:
                _resolve_paths(event, thread, plan.paths, plan.keeps_raw_name)
            if plan.fd_param is not None:
                num = event.params.get(plan.fd_param)
                before = thread.fds.get(num) if isinstance(num, int) else None
        old_name = before.name if before is not None else ""
        if plan.remember_enter:
            self._remember_enter(event)
        elif plan.handler is not None:
            # Modern drivers send no enter events: then there is nothing to merge (and no call to find that out).
            params = self._merged_params(event) if self._enter else event.params
            thread = plan.handler(self, event, thread, params) or thread
        fd = event.fd
        if fd is None:
            fd = event.fd = before
        if fd is not None:
            # fd.name_changed is per event, as libsinsp computes it after parsing (connect, UDP sendto ...).
            fd.name_changed = fd.name != (old_name if fd is before else "")
        event.thread = thread
        event.lookups = self.lookups
        return event

    def forget_enter(self, tid: int) -> None:
        """Drop a remembered enter event (the thread exited)."""
        self._enter.pop(tid, None)

    def _remember_enter(self, event: Event) -> None:
        self._enter[event.tid] = event
        self._enter.move_to_end(event.tid)
        if len(self._enter) > self.threads.max_threads:
            self._enter.popitem(last=False)

    def _merged_params(self, event: Event) -> dict[str, Any]:
        enter = self._enter.pop(event.tid, None)
        if enter is None or enter.type != event.type:
            return event.params
        return {**enter.params, **event.params}

    def _adopt(self, seen: ThreadInfo, thread: ThreadInfo | None) -> ThreadInfo:
        """Merge a source's view of the calling process into the table: what it reports (ids, names, cwd,
        parent) wins; what it leaves unknown (-1, empty) keeps the table's value."""
        if thread is None:
            found = self._from_proc(seen.tid) if self.procfs else None
            thread = found or ThreadInfo(tid=seen.tid, pid=seen.pid, ptid=-1)
            if found is None:
                self.threads.add(thread)
        for name in _ADOPTED_TEXT:
            value = getattr(seen, name)
            if value:
                setattr(thread, name, value)
        for name in _ADOPTED_IDS:
            value = getattr(seen, name)
            if value != -1:
                setattr(thread, name, value)
        if seen.args or seen.exe:
            thread.args = list(seen.args)
        if seen.ptid > 0 and seen.ptid != thread.ptid:
            thread.ptid = seen.ptid
            thread.parent = None
            self.threads.link_parent(thread)
        return thread

    def _unknown_thread(self, event: Event) -> ThreadInfo:
        if self.procfs:
            found = self._from_proc(event.tid)
            if found is not None:
                return found
        # Like libsinsp's "invalid" threads: no name, parent unknown (-1) until an execve/clone tells more.
        thread = ThreadInfo(tid=event.tid, pid=event.pid or event.tid, ptid=-1)
        self.threads.add(thread)
        self.stats.placeholders += 1
        return thread

    def _from_proc(self, tid: int) -> ThreadInfo | None:
        """Read thread ``tid`` and its missing ancestors from /proc (bounded), add them, return the thread."""
        thread = procfs.read_thread(tid, tid, proc=self.proc)
        if thread is None:
            return None
        self.stats.procfs_reads += 1
        main = self.threads.live(thread.pid)
        thread.fds = main.fds if main is not None and main is not thread else procfs.read_fds(thread.pid, None,
                                                                                               self.proc)
        self._add_proc_ancestors(thread.ptid)
        self.threads.add(thread)
        return thread

    def _add_proc_ancestors(self, ptid: int) -> None:
        chain: list[ThreadInfo] = []
        while ptid > 0 and ptid not in self.threads and len(chain) < MAX_PROC_ANCESTORS:
            parent = procfs.read_process(ptid, proc=self.proc)
            if parent is None:
                break
            self.stats.procfs_reads += 1
            chain.append(parent)
            ptid = parent.ptid
        for parent in reversed(chain):
            self.threads.add(parent)


def _on_user_record(st: State, event: Event, thread: ThreadInfo | None, params: dict[str, Any]) -> ThreadInfo | None:
    """useradded/userdeleted/groupadded/groupdeleted (capture metadata): the traced machine's accounts."""
    cid = params.get("container_id") or ""
    name = params.get("name") or ""
    if event.type.startswith("user") and isinstance(params.get("uid"), int):
        if event.type == "useradded":
            gid = params.get("gid")
            st.users.add_user(UserInfo(params["uid"], name, params.get("home") or "", params.get("shell") or "",
                                       gid if isinstance(gid, int) else -1), cid)
        else:
            st.users.remove_user(params["uid"], cid)
    elif isinstance(params.get("gid"), int):
        if event.type == "groupadded":
            st.users.add_group(GroupInfo(params["gid"], name), cid)
        else:
            st.users.remove_group(params["gid"], cid)
    return thread


_ADOPTED_TEXT = ("comm", "exe", "exepath", "cwd")
_ADOPTED_IDS = ("uid", "gid", "euid", "egid", "loginuid")

HANDLERS = {**lifecycle.HANDLERS, **fd_events.HANDLERS,
            **dict.fromkeys(("useradded", "userdeleted", "groupadded", "groupdeleted"), _on_user_record)}

REQUIRED_EVENT_TYPES: frozenset[str] = frozenset(HANDLERS)
"""The event types state tracking needs from a source, whatever the rules ask for: process and fd lifecycle,
and a recording's account records (a replay must name users as the traced machine did)."""


@dataclass(frozen=True, slots=True)
class _ApplyPlan:
    """What ``State.apply`` does for one (event type, direction), worked out once: most events (procinfo,
    futex, mmap ...) touch no table, and finding that out per event cost several lookups."""

    paths: tuple[tuple[str, str | None], ...]   # path parameters made absolute, with their dirfd parameter
    fd_param: str | None                        # the parameter naming the fd the event uses
    remember_enter: bool                        # an enter event whose exit comes later: kept for merging
    handler: Any                                # the table update (lifecycle, fd events, accounts) or None
    keeps_raw_name: bool = False                # an open: its ``name`` as given is kept for fd.nameraw


_APPLY_PLANS: dict[tuple[str, str], _ApplyPlan] = {}


def _apply_plan(key: tuple[str, str]) -> _ApplyPlan:
    name, direction = key
    remember = direction == ">" and name not in ENTER_ONLY
    handler = None if remember else HANDLERS.get(name)
    plan = _ApplyPlan(paths=_PATH_PARAMS.get(key) or (), fd_param=_USES_FD_PARAM.get(key),
                      remember_enter=remember, handler=handler, keeps_raw_name=handler is fd_events.on_open)
    _APPLY_PLANS[key] = plan
    return plan


def _is_clone_child(event: Event) -> bool:
    return event.type in lifecycle.CREATES_THREAD and event.res == 0


def _resolve_paths(event: Event, thread: ThreadInfo, names: tuple[tuple[str, str | None], ...],
                   keep_raw: bool = False) -> None:
    params = event.params
    for name, dirfd_param in names:
        value = params.get(name)
        if keep_raw and name == "name" and isinstance(value, str) and value:
            # An open's fd.name is absolute and normal, as libsinsp makes it (concatenate_paths), whatever the
            # caller wrote; fd.nameraw keeps what it wrote (the directory-traversal rule reads the `../`).
            params[RAW_NAME_PARAM] = value
            if value[0] == "/" and ("/." in value or "//" in value):
                params[name] = normalize_path(value)
        if isinstance(value, str) and value and not value.startswith("/"):
            # The eBPF probe sends the directory the kernel resolved the name against: it wins over the
            # tables (the dirfd's open may have been filtered in the kernel), and the probe decided on it.
            kdir = params.get(dirpath_param(name))
            if isinstance(kdir, str) and kdir.startswith("/"):
                params[name] = join_path(kdir, value)
                continue
            dirfd = params.get(dirfd_param) if dirfd_param else None
            params[name] = resolve_at(thread.fds, thread.cwd, dirfd if isinstance(dirfd, int) else None, value)


__all__ = ["State", "StateStats", "StateLookups", "REQUIRED_EVENT_TYPES"]
