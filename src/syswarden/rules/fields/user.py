"""The ``user.*`` field class: the effective user of the calling process and its login user.

Names, home directories and shells come from the lookups the event carries (``lookups.py``: the state's account
table, where a capture's own users come before this host's), else from this host's ``pwd`` database. A uid of
-1 is unknown: it prints as Falco's uint32 ``4294967295`` and has no name.
"""
from __future__ import annotations

from syswarden.events.accounts import UserInfo
from syswarden.events.event import ThreadInfo
from syswarden.rules.fields.lookups import Lookups, account_field
from syswarden.rules.fields.model import FieldSpec, FieldType
from syswarden.rules.fields.model import thread_field as _thread

UNKNOWN_UID = 4294967295


def lookup_user(lookups: Lookups, uid: int) -> UserInfo | None:
    """The account with ``uid`` (None for unknown or -1)."""
    return lookups.user(uid) if uid >= 0 else None


def _uid(t: ThreadInfo) -> int:
    return t.euid if t.euid >= 0 else t.uid


def _name(t: ThreadInfo, lookups: Lookups) -> str | None:
    # lookup_user written out: user.name is in most rule outputs, and a call less is measurable
    uid = t.euid if t.euid >= 0 else t.uid
    info = lookups.user(uid) if uid >= 0 else None
    return info.name if info is not None else None


def _homedir(t: ThreadInfo, lookups: Lookups) -> str | None:
    info = lookup_user(lookups, _uid(t))
    return info.homedir if info is not None else None


def _shell(t: ThreadInfo, lookups: Lookups) -> str | None:
    info = lookup_user(lookups, _uid(t))
    return info.shell if info is not None else None


def _loginname(t: ThreadInfo, lookups: Lookups) -> str | None:
    info = lookup_user(lookups, t.loginuid)
    return info.name if info is not None else None


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("user.uid", FieldType.UINT32, "Effective user id (4294967295 when unknown).",
              _thread(lambda t: _uid(t) if _uid(t) >= 0 else UNKNOWN_UID)),
    FieldSpec("user.name", FieldType.CHARBUF, "Effective user name.", account_field(_name)),
    FieldSpec("user.homedir", FieldType.CHARBUF, "Home directory of the user.", account_field(_homedir)),
    FieldSpec("user.shell", FieldType.CHARBUF, "Login shell of the user.", account_field(_shell)),
    FieldSpec("user.loginuid", FieldType.INT64, "Audit login uid (-1 when the process never logged in).",
              _thread(lambda t: t.loginuid)),
    FieldSpec("user.loginname", FieldType.CHARBUF, "Name of the login user.", account_field(_loginname)),
)
