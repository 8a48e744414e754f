"""Fixtures for the state tests: an event builder and a small seeded process tree."""
from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from syswarden.events.event import Event, ThreadInfo
from syswarden.state import State

EventMaker = Callable[..., Event]


@pytest.fixture
def ev() -> EventMaker:
    """Build exit events with increasing num/ts: ``ev("openat", 100, 3, fd=3, name="/x")``."""
    counter = itertools.count(1)

    def make(etype: str, tid: int, res: int | None = None, /, *, evdir: str = "<", **params: Any) -> Event:
        n = next(counter)
        return Event(num=n, ts=1_000_000_000 + n, type=etype, tid=tid, res=res, dir=evdir, params=params)

    return make


@pytest.fixture
def state() -> State:
    """init (1) -> sshd (50) -> bash (100), bash in /root as uid 1000."""
    st = State()
    st.seed([
        ThreadInfo(tid=100, pid=100, ptid=50, comm="bash", exe="-bash", exepath="/usr/bin/bash", cwd="/root",
                   uid=1000, gid=1000, euid=1000, egid=1000, loginuid=1000),
        ThreadInfo(tid=1, pid=1, comm="systemd", exepath="/usr/lib/systemd/systemd", cwd="/"),
        ThreadInfo(tid=50, pid=50, ptid=1, comm="sshd", exepath="/usr/sbin/sshd", cwd="/"),
    ])
    return st
