"""libs event codes: the table matches sysdig's event list, and parameter values survive encode/decode."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syswarden.events.event import SockAddr, SockTuple
from syswarden.events.types import EVENTS
from syswarden.sources.scap import event_codes as EC
from syswarden.sources.scap.writer import code_for


def test_codes_pair_enter_and_exit_and_use_event_table_names() -> None:
    """454 codes; even = enter, odd = exit of the same name; every named code is an events.types event (but
    libs' BPF-iterator ``task*`` records, which no capture holds)."""
    table = EC.table()
    assert len(table) == 454 and table[3].name == "open" and table[3].dir == "<"
    # "tracer" (sysdig tracers, removed from libs) has no events.types entry: it decodes, but no rule can name it
    names = {c.name for c in table.values()
             if c.name not in ("NA", "syscall", "tracer") and not c.name.startswith("task")}
    missing = names - {n for n, _ in EVENTS}
    assert not missing, sorted(missing)


def test_compat_layouts_equal_sysdig_event_list() -> None:
    """For every event sysdig 0.29 lists (sysdig -L), the code the writer picks has exactly its parameters."""
    if shutil.which("sysdig") is None:
        pytest.skip("sysdig is not installed")
    listing = subprocess.run(["sysdig", "-L"], capture_output=True, text=True).stdout
    checked = 0
    for direction, name, args in re.findall(r"^([<>]) (\w+)\((.*)\)$", listing, re.M):
        code = code_for(name, direction, frozenset({"\0all"}))
        if code is None or name in ("syscall", "pluginevent"):
            continue
        theirs = [a.split()[-1] for a in args.split(", ") if a]
        ours = [p for p, _ in code.params[: code.compat_nparams]]
        if len(ours) == len(theirs):
            checked += 1
            renamed = {"vpgid": "pgid"}
            assert [renamed.get(p, p) for p in ours] == theirs, (name, direction)
    assert checked > 200


ints = st.integers(min_value=-(2**63), max_value=2**63 - 1)


@given(ints)
def test_signed_64_roundtrip(value: int) -> None:
    """fd/errno/pid values survive the wire."""
    for wire in ("fd", "errno", "pid", "int64"):
        assert EC.decode_value(wire, EC.encode_value(wire, value)) == value


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), max_size=200))
def test_path_roundtrip(text: str) -> None:
    """Paths are NUL-terminated UTF-8."""
    assert EC.decode_value("fspath", EC.encode_value("fspath", text)) == text


@given(st.ip_addresses(v=4), st.integers(0, 65535), st.ip_addresses(v=4), st.integers(0, 65535))
def test_socktuple_v4_roundtrip(sip, sport, dip, dport) -> None:  # type: ignore[no-untyped-def]
    """IPv4 tuples keep both endpoints."""
    t = SockTuple("AF_INET", str(sip), sport, str(dip), dport)
    assert EC.decode_value("socktuple", EC.encode_value("socktuple", t)) == t


@given(st.ip_addresses(v=6), st.integers(0, 65535))
def test_sockaddr_v6_roundtrip(addr, port) -> None:  # type: ignore[no-untyped-def]
    """IPv6 addresses keep address and port."""
    a = SockAddr("AF_INET6", str(addr), port)
    assert EC.decode_value("sockaddr", EC.encode_value("sockaddr", a)) == a


def test_string_lists_split_on_nul() -> None:
    """args/env/cgroups byte buffers are NUL-separated lists."""
    assert EC.decode_value("bytebuf", b"-v\0x y\0", "args") == ["-v", "x y"]
    assert EC.decode_value("bytebuf", b"\x01\x02", "data") == b"\x01\x02"
