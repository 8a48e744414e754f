"""What the fields need from whoever keeps the tables: accounts and threads by id, reached through the event.

The state engine attaches its lookups to every event it applies (``Event.lookups``), so ``user.name``,
``group.name``, uid/gid parameters (``uid=65534(nobody)``) and pid parameters (clone's child named by comm)
resolve against the tables of the pipeline that produced the event -- two pipelines in one process never see
each other's users. An event no state applied (hand-built events, the engine bench) falls back to ``HOST``:
this machine's databases, and no thread table.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Protocol

from syswarden.events.accounts import GroupInfo, UserInfo, host_group, host_user
from syswarden.events.event import Event, ThreadInfo


class Lookups(Protocol):
    """Accounts and threads by id; each returns None when it does not know the id."""

    def user(self, uid: int) -> UserInfo | None: ...

    def group(self, gid: int) -> GroupInfo | None: ...

    def thread(self, tid: int) -> ThreadInfo | None: ...


class HostLookups:
    """This machine's pwd/grp databases, cached (hits and misses: NSS is slow and every event asks again)."""

    __slots__ = ("user", "group")

    def __init__(self, maxsize: int = 4096) -> None:
        self.user: Callable[[int], UserInfo | None] = functools.lru_cache(maxsize)(host_user)
        self.group: Callable[[int], GroupInfo | None] = functools.lru_cache(maxsize)(host_group)

    @staticmethod
    def thread(_tid: int) -> ThreadInfo | None:
        return None


HOST: Lookups = HostLookups()
"""The lookups of an event that carries none."""


def of(event: Event) -> Lookups:
    """The lookups ``event`` was resolved against, else ``HOST``."""
    found = event.lookups
    return HOST if found is None else found


def account_field(fn: Callable[[ThreadInfo, Lookups], Any]) -> Callable[[str | None], Callable[[Event], Any]]:
    """A field of the calling thread that also names ids (``<NA>`` without a thread); the argument is ignored."""
    def make(_arg: str | None) -> Callable[[Event], Any]:
        def extract(event: Event) -> Any:
            thread = event.thread
            if thread is None:
                return None
            found = event.lookups
            return fn(thread, HOST if found is None else found)
        return extract
    return make


__all__ = ["Lookups", "HostLookups", "HOST", "of", "account_field"]
