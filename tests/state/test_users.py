"""Tests for the uid/gid name cache (syswarden.state.users)."""
from __future__ import annotations

import grp
import os
import pwd

from syswarden.state.users import UserTable


def test_names_agree_with_system_databases() -> None:
    """Every passwd/group entry of this system resolves to the same name, home and shell."""
    table = UserTable()
    for pw in pwd.getpwall():
        info = table.user(pw.pw_uid)
        assert info is not None and info.uid == pw.pw_uid
        assert table.user_name(pw.pw_uid) == pwd.getpwuid(pw.pw_uid).pw_name
    for gr in grp.getgrall():
        assert table.group_name(gr.gr_gid) == grp.getgrgid(gr.gr_gid).gr_name
    assert table.user(os.getuid()) is not None


def test_unknown_and_unset_ids() -> None:
    """Unknown uids/gids and -1 give None / empty names."""
    table = UserTable()
    assert table.user(-1) is None and table.user_name(3_999_999_999) == ""
    assert table.group(-1) is None and table.group_name(3_999_999_999) == ""


def test_cache_is_bounded() -> None:
    """The cache never holds more than maxsize entries, however many ids are asked."""
    table = UserTable(maxsize=8)
    for uid in range(100):
        table.user(uid)
        table.group(uid)
    assert table.cached() == (8, 8)


def test_recorded_users_override_host() -> None:
    """A recording's users win over the host's; host=False never falls back."""
    from syswarden.events.accounts import GroupInfo, UserInfo

    table = UserTable()
    table.add_user(UserInfo(0, "toor", "/toor", "/bin/zsh"))
    table.add_group(GroupInfo(0, "wheel"))
    assert table.user(0) == UserInfo(0, "toor", "/toor", "/bin/zsh") and table.group_name(0) == "wheel"
    table.remove_user(0)
    assert table.user_name(0) == pwd.getpwuid(0).pw_name
    offline = UserTable(host=False)
    offline.add_user(UserInfo(1000, "mstemm"), container_id="abc")
    assert offline.user(0) is None and offline.user(1000) is None
    assert offline.user(1000, "abc") is not None and offline.user_name(1000) == ""
