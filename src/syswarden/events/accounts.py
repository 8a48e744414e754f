"""The account model: one user or group of the traced machine, whoever learnt it.

A scap capture's user list (``sources/scap``), ``useradded``/``groupadded`` events, the state engine's account
table (``state/users.py``) and the fields ``user.*``/``group.*`` (``rules/fields``) all speak ``UserInfo`` and
``GroupInfo``. ``host_user``/``host_group`` read this machine's databases (pwd/grp), uncached: callers that ask
per event keep their own cache.
"""
from __future__ import annotations

import grp
import pwd
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class UserInfo:
    """One user account (scap's user-list entry, libsinsp's ``scap_userinfo``)."""

    uid: int
    name: str
    homedir: str = ""
    shell: str = ""
    gid: int = -1                      # primary group; -1 when whoever reported the account did not say


@dataclass(frozen=True, slots=True)
class GroupInfo:
    """One group."""

    gid: int
    name: str


def host_user(uid: int) -> UserInfo | None:
    """This machine's account with ``uid`` (None when unknown, or for -1 meaning unset)."""
    if uid < 0:
        return None
    try:
        pw = pwd.getpwuid(uid)
    except (KeyError, OverflowError):
        return None
    return UserInfo(uid, pw.pw_name, pw.pw_dir, pw.pw_shell, pw.pw_gid)


def host_group(gid: int) -> GroupInfo | None:
    """This machine's group with ``gid`` (None when unknown, or for -1)."""
    if gid < 0:
        return None
    try:
        return GroupInfo(gid, grp.getgrgid(gid).gr_name)
    except (KeyError, OverflowError):
        return None


__all__ = ["UserInfo", "GroupInfo", "host_user", "host_group"]
