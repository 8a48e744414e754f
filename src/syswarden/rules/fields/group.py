"""The ``group.*`` field class: the effective group of the calling process.

Names come from the lookups the event carries (``lookups.py``: the state's account table), else this host's
``grp`` database.
"""
from __future__ import annotations

from syswarden.events.event import ThreadInfo
from syswarden.rules.fields.lookups import Lookups, account_field
from syswarden.rules.fields.model import FieldSpec, FieldType
from syswarden.rules.fields.model import thread_field as _thread

UNKNOWN_GID = 4294967295


def _gid(t: ThreadInfo) -> int:
    return t.egid if t.egid >= 0 else t.gid


def _name(t: ThreadInfo, lookups: Lookups) -> str | None:
    # _gid written out: group.name is in many rule outputs, and a call less is measurable
    gid = t.egid if t.egid >= 0 else t.gid
    info = lookups.group(gid) if gid >= 0 else None
    return info.name if info is not None else None


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("group.gid", FieldType.UINT32, "Effective group id (4294967295 when unknown).",
              _thread(lambda t: _gid(t) if _gid(t) >= 0 else UNKNOWN_GID)),
    FieldSpec("group.name", FieldType.CHARBUF, "Effective group name.", account_field(_name)),
)
