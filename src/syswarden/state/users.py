"""User and group names: uid/gid -> name, home directory and shell, from the system databases (pwd/grp).

Falco's ``user.name``, ``user.homedir``, ``user.shell``, ``user.loginname`` and ``group.name`` come from here.
Lookups are cached (hits and misses) in a bounded LRU, because every event of a process asks again and NSS
lookups are slow. Names are looked up on the host; a container's own /etc/passwd is not consulted.
"""
from __future__ import annotations

import grp
import pwd
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class UserInfo:
    """One user account."""

    uid: int
    name: str
    homedir: str = ""
    shell: str = ""


@dataclass(frozen=True, slots=True)
class GroupInfo:
    """One group."""

    gid: int
    name: str


class _Lru:
    """A tiny bounded mapping that forgets the least recently used key."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._data: OrderedDict[int, object] = OrderedDict()

    def get(self, key: int) -> tuple[bool, object]:
        if key in self._data:
            self._data.move_to_end(key)
            return True, self._data[key]
        return False, None

    def put(self, key: int, value: object) -> None:
        self._data[key] = value
        if len(self._data) > self.maxsize:
            self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


class UserTable:
    """Cached uid/gid lookups; ``maxsize`` bounds each cache."""

    def __init__(self, maxsize: int = 4096) -> None:
        self._users = _Lru(maxsize)
        self._groups = _Lru(maxsize)

    def user(self, uid: int) -> UserInfo | None:
        """The account with ``uid``, or None (unknown uid, or -1 meaning unset)."""
        hit, value = self._users.get(uid)
        if not hit:
            value = _lookup_user(uid)
            self._users.put(uid, value)
        return value if isinstance(value, UserInfo) else None

    def group(self, gid: int) -> GroupInfo | None:
        """The group with ``gid``, or None."""
        hit, value = self._groups.get(gid)
        if not hit:
            value = _lookup_group(gid)
            self._groups.put(gid, value)
        return value if isinstance(value, GroupInfo) else None

    def user_name(self, uid: int) -> str:
        """The user's name, or ``""`` when unknown (the fields layer prints ``<NA>``)."""
        info = self.user(uid)
        return info.name if info else ""

    def group_name(self, gid: int) -> str:
        """The group's name, or ``""`` when unknown."""
        info = self.group(gid)
        return info.name if info else ""

    def cached(self) -> tuple[int, int]:
        """How many users and groups are cached (both bounded by ``maxsize``)."""
        return len(self._users), len(self._groups)


def _lookup_user(uid: int) -> UserInfo | None:
    if uid < 0:
        return None
    try:
        pw = pwd.getpwuid(uid)
    except (KeyError, OverflowError):
        return None
    return UserInfo(uid, pw.pw_name, pw.pw_dir, pw.pw_shell)


def _lookup_group(gid: int) -> GroupInfo | None:
    if gid < 0:
        return None
    try:
        return GroupInfo(gid, grp.getgrgid(gid).gr_name)
    except (KeyError, OverflowError):
        return None


USERS = UserTable()
"""A process-wide table for callers that do not keep their own."""

__all__ = ["UserInfo", "GroupInfo", "UserTable", "USERS"]
