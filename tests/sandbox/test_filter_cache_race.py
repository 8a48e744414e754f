"""The filter cache under a racing attacker (issue 13 §5): XDG_CACHE_HOME names a directory another user owns,
and a separate process keeps swapping the cache directory for a symbolic link to a root-owned directory of its
choosing. Root's writes must never land there, and an entry planted there must never be loaded."""
from __future__ import annotations

import os
import struct
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from syswarden.sandbox import filter_cache

NOBODY = 65534
ALLOW_ALL = struct.pack("<HBBI", 0x06, 0, 0, 0x7FFF0000)
ROUNDS = 2000

# The attacker swaps the cache directory and a symbolic link to the victim atomically, over and over
# (renameat2(RENAME_EXCHANGE)), so each state lasts as short as the kernel allows.
SWAPPER = textwrap.dedent("""
    import ctypes, os, sys
    base, victim = sys.argv[1], sys.argv[2]
    libc = ctypes.CDLL(None, use_errno=True)
    cache, link = os.path.join(base, "syswarden").encode(), os.path.join(base, "link").encode()
    os.symlink(victim, link)
    stop = os.path.join(base, "stop")
    AT_FDCWD, RENAME_EXCHANGE = -100, 2
    while not os.path.exists(stop):
        for _ in range(200):
            libc.renameat2(AT_FDCWD, cache, AT_FDCWD, link, RENAME_EXCHANGE)
""")


@pytest.fixture()
def attacked(tmp_path: Path):
    if os.geteuid() != 0:
        pytest.skip("needs root: the attacker's directory belongs to another user")
    base, victim = tmp_path / "xdg", tmp_path / "victim"
    base.mkdir()
    victim.mkdir(mode=0o700)
    (base / "syswarden").mkdir(mode=0o700)
    os.chown(base, NOBODY, NOBODY)                 # the attacker may rename and replace entries in it
    swapper = subprocess.Popen([sys.executable, "-c", SWAPPER, str(base), str(victim)])

    def stop() -> None:
        """End the race: checks made after it must see the directories at rest, not mid-swap."""
        (base / "stop").touch()
        swapper.wait(timeout=30)

    try:
        yield base, victim, stop
    finally:
        stop()


def test_racing_symlink_never_redirects_writes(attacked: tuple[Path, Path, Callable[[], None]]) -> None:
    base, victim, stop = attacked
    entry = filter_cache.Entry((filter_cache.CachedFilter(ALLOW_ALL, 0, 0),))
    stored = sum(filter_cache.store(f"{n:064x}", entry, str(base / "syswarden")) for n in range(ROUNDS))
    assert stored > 0, "the race left no window to store at all"
    stop()
    assert list(victim.iterdir()) == []
    for directory in (base / "syswarden", base / "real"):
        if directory.is_dir() and not directory.is_symlink():
            for path in directory.iterdir():
                assert path.stat().st_uid == 0 and path.stat().st_mode & 0o777 == 0o600


def test_racing_symlink_never_loads_a_planted_entry(attacked: tuple[Path, Path, Callable[[], None]]) -> None:
    base, victim, _stop = attacked
    key = "ab" * 32
    planted = victim / key                          # root's own, 0600, right key: trusted if ever reached
    planted.write_bytes(filter_cache.dump(filter_cache.Entry((filter_cache.CachedFilter(ALLOW_ALL, 0, 0),)), key))
    os.chmod(planted, 0o600)
    assert filter_cache.load(key, str(victim)) is not None       # control: the planted entry itself is valid
    assert all(filter_cache.load(key, str(base / "syswarden")) is None for _ in range(ROUNDS))


def test_symlinks_in_safe_directories_are_followed(tmp_path: Path) -> None:
    """A symbolic link in a directory only root (or we) can write is followed (a home under /home -> /srv)."""
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(real)
    entry = filter_cache.Entry((filter_cache.CachedFilter(ALLOW_ALL, 0, 0),))
    assert filter_cache.store("cd" * 32, entry, str(tmp_path / "link" / "syswarden"))
    assert filter_cache.load("cd" * 32, str(real / "syswarden")) == entry
    os.chmod(tmp_path, 0o777)                       # anyone could now swap the link: not followed any more
    try:
        assert filter_cache.load("cd" * 32, str(tmp_path / "link" / "syswarden")) is None
    finally:
        os.chmod(tmp_path, 0o755)
