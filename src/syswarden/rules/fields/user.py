"""The ``user.*`` field class: the effective user of the calling process and its login user.

Names come from ``ThreadInfo`` when the state layer put them there (``user_name``/``loginname`` attributes),
else from the resolver installed with ``set_user_resolver`` (the state layer installs one that knows container
users), else from this host's ``pwd`` database. A uid of -1 is unknown: it prints as Falco's uint32
``4294967295`` and has no name.
"""
from __future__ import annotations

import functools
import pwd
from collections.abc import Callable

from syswarden.events.event import ThreadInfo
from syswarden.rules.fields.model import FieldSpec, FieldType
from syswarden.rules.fields.model import thread_field as _thread

UNKNOWN_UID = 4294967295

#: uid -> (name, homedir, shell) or None.
UserResolver = Callable[[int], "tuple[str, str, str] | None"]


@functools.lru_cache(maxsize=4096)
def _from_pwd(uid: int) -> tuple[str, str, str] | None:
    try:
        entry = pwd.getpwuid(uid)
    except (KeyError, OverflowError):
        return None
    return entry.pw_name, entry.pw_dir, entry.pw_shell


_resolver: list[UserResolver] = [_from_pwd]


def set_user_resolver(resolver: UserResolver | None) -> None:
    """Install the uid -> (name, home, shell) lookup (None restores the host ``pwd`` lookup)."""
    _resolver[0] = resolver or _from_pwd


def lookup_user(uid: int) -> tuple[str, str, str] | None:
    """The installed resolver's answer for ``uid`` (None for unknown or -1)."""
    return _resolver[0](uid) if uid >= 0 else None


def _uid(t: ThreadInfo) -> int:
    return t.euid if t.euid >= 0 else t.uid


def _part(uid: int, index: int) -> str | None:
    entry = lookup_user(uid)
    return entry[index] if entry is not None else None




def _name(t: ThreadInfo) -> str | None:
    return getattr(t, "user_name", None) or _part(_uid(t), 0)


def _loginname(t: ThreadInfo) -> str | None:
    return getattr(t, "loginname", None) or _part(t.loginuid, 0)


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("user.uid", FieldType.UINT32, "Effective user id (4294967295 when unknown).",
              _thread(lambda t: _uid(t) if _uid(t) >= 0 else UNKNOWN_UID)),
    FieldSpec("user.name", FieldType.CHARBUF, "Effective user name.", _thread(_name)),
    FieldSpec("user.homedir", FieldType.CHARBUF, "Home directory of the user.",
              _thread(lambda t: _part(_uid(t), 1))),
    FieldSpec("user.shell", FieldType.CHARBUF, "Login shell of the user.", _thread(lambda t: _part(_uid(t), 2))),
    FieldSpec("user.loginuid", FieldType.INT64, "Audit login uid (-1 when the process never logged in).",
              _thread(lambda t: t.loginuid)),
    FieldSpec("user.loginname", FieldType.CHARBUF, "Name of the login user.", _thread(_loginname)),
)
