"""User and group names: uid/gid -> ``UserInfo``/``GroupInfo`` (``events/accounts.py``), recorded or from pwd/grp.

Falco's ``user.name``, ``user.homedir``, ``user.shell``, ``user.loginname`` and ``group.name`` come from here.
Lookups are cached (hits and misses) in a bounded LRU, because every event of a process asks again and NSS
lookups are slow. Names are looked up on the host unless a recording supplies its own users (a capture's user
list, ``useradded``/``groupadded`` events): those, keyed by container id, take precedence. A container's own
/etc/passwd is not read.
"""
from __future__ import annotations

from collections import OrderedDict

from syswarden.events.accounts import GroupInfo, UserInfo, host_group, host_user


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


MAX_RECORDED = 65536


class UserTable:
    """Cached uid/gid lookups; ``maxsize`` bounds each cache. ``host=False`` never consults this machine's
    databases (a recording from another machine that carries its own users)."""

    def __init__(self, maxsize: int = 4096, *, host: bool = True) -> None:
        self.host = host
        self._users = _Lru(maxsize)
        self._groups = _Lru(maxsize)
        self._recorded_users: dict[tuple[str, int], UserInfo] = {}
        self._recorded_groups: dict[tuple[str, int], GroupInfo] = {}

    def add_user(self, info: UserInfo, container_id: str = "") -> None:
        """Record a user of the traced machine (or of a container), overriding the host's databases."""
        if len(self._recorded_users) < MAX_RECORDED or (container_id, info.uid) in self._recorded_users:
            self._recorded_users[(container_id, info.uid)] = info

    def remove_user(self, uid: int, container_id: str = "") -> None:
        """Forget a recorded user."""
        self._recorded_users.pop((container_id, uid), None)

    def add_group(self, info: GroupInfo, container_id: str = "") -> None:
        """Record a group of the traced machine (or of a container)."""
        if len(self._recorded_groups) < MAX_RECORDED or (container_id, info.gid) in self._recorded_groups:
            self._recorded_groups[(container_id, info.gid)] = info

    def remove_group(self, gid: int, container_id: str = "") -> None:
        """Forget a recorded group."""
        self._recorded_groups.pop((container_id, gid), None)

    def user(self, uid: int, container_id: str = "") -> UserInfo | None:
        """The account with ``uid`` (recorded first, then the host), or None (unknown, or -1 meaning unset)."""
        recorded = self._recorded_users.get((container_id, uid))
        if recorded is not None or not self.host:
            return recorded
        hit, value = self._users.get(uid)
        if not hit:
            value = host_user(uid)
            self._users.put(uid, value)
        return value if isinstance(value, UserInfo) else None

    def group(self, gid: int, container_id: str = "") -> GroupInfo | None:
        """The group with ``gid`` (recorded first, then the host), or None."""
        recorded = self._recorded_groups.get((container_id, gid))
        if recorded is not None or not self.host:
            return recorded
        hit, value = self._groups.get(gid)
        if not hit:
            value = host_group(gid)
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


USERS = UserTable()
"""A process-wide table for callers that do not keep their own."""

__all__ = ["UserTable", "USERS"]
