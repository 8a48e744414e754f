"""The ``group.*`` field class: the effective group of the calling process.

Names come from ``ThreadInfo.group_name`` when state set it, else the resolver installed with
``set_group_resolver``, else this host's ``grp`` database.
"""
from __future__ import annotations

import functools
import grp
from collections.abc import Callable

from syswarden.events.event import ThreadInfo
from syswarden.rules.fields.model import FieldSpec, FieldType
from syswarden.rules.fields.model import thread_field as _thread

UNKNOWN_GID = 4294967295
GroupResolver = Callable[[int], "str | None"]


@functools.lru_cache(maxsize=4096)
def _from_grp(gid: int) -> str | None:
    try:
        return grp.getgrgid(gid).gr_name
    except (KeyError, OverflowError):
        return None


_resolver: list[GroupResolver] = [_from_grp]


def set_group_resolver(resolver: GroupResolver | None) -> None:
    """Install the gid -> name lookup (None restores the host ``grp`` lookup)."""
    _resolver[0] = resolver or _from_grp


def lookup_group(gid: int) -> str | None:
    """The installed resolver's name for ``gid`` (None for unknown or -1)."""
    return _resolver[0](gid) if gid >= 0 else None


def _gid(t: ThreadInfo) -> int:
    return t.egid if t.egid >= 0 else t.gid


def _name(t: ThreadInfo) -> str | None:
    gid = _gid(t)
    return getattr(t, "group_name", None) or (_resolver[0](gid) if gid >= 0 else None)




FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("group.gid", FieldType.UINT32, "Effective group id (4294967295 when unknown).",
              _thread(lambda t: _gid(t) if _gid(t) >= 0 else UNKNOWN_GID)),
    FieldSpec("group.name", FieldType.CHARBUF, "Effective group name.", _thread(_name)),
)
