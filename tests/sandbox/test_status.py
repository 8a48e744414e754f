"""Process status: the seccomp mode, filter count and no_new_privs of real child processes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from syswarden.sandbox.status import SeccompMode, parse_status, read_status, summarize_caps

from .conftest import syswarden

# A child that stacks two libseccomp filters (no_new_privs set by libseccomp) and then waits on stdin.
TWO_FILTERS = textwrap.dedent("""
    import sys
    from syswarden.kernel import libseccomp
    for _ in range(2):
        with libseccomp.LibseccompFilter(0x7FFF0000) as f:
            f.load()
    print("ready", flush=True)
    sys.stdin.read()
""")


@pytest.fixture
def filtered_child():
    """A live child process with two seccomp filters installed."""
    proc = subprocess.Popen([sys.executable, "-c", TWO_FILTERS], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield proc
    finally:
        proc.communicate(timeout=10)


def test_parse_status_reads_kernel_fields() -> None:
    """The Seccomp, Seccomp_filters, NoNewPrivs and CapEff fields are decoded."""
    text = "Name:\tnc\nNoNewPrivs:\t1\nSeccomp:\t2\nSeccomp_filters:\t3\nCapEff:\t0000000000003000\nCapBnd:\t0\n"
    status = parse_status(7, text)
    assert (status.comm, status.seccomp, status.filters, status.no_new_privs) == ("nc", SeccompMode.FILTER, 3, True)
    assert status.caps_summary == "net_admin,net_raw"


def test_summarize_caps_extremes() -> None:
    """No capabilities reads 'none'; the full set reads 'all'; nearly full names what is missing."""
    assert summarize_caps(0) == "none"
    assert summarize_caps((1 << 41) - 1) == "all"
    assert summarize_caps(((1 << 41) - 1) & ~(1 << 21)) == "all but sys_admin"


@pytest.mark.kernel
def test_self_is_unconfined() -> None:
    """The test process itself has no seccomp filter (we never install one here)."""
    status = read_status(os.getpid())
    assert status is not None and status.seccomp is SeccompMode.DISABLED and status.filters == 0


@pytest.mark.kernel
def test_filtered_child_shows_two_filters_and_no_new_privs(filtered_child) -> None:
    """A child with two stacked filters reads as filter mode, 2 filters, no_new_privs yes."""
    status = read_status(filtered_child.pid)
    assert status is not None
    assert (status.seccomp, status.filters, status.no_new_privs) == (SeccompMode.FILTER, 2, True)


@pytest.mark.kernel
def test_cli_table_and_json(filtered_child) -> None:
    """`syswarden status PID` prints an aligned row and --json the same facts."""
    table = syswarden("status", str(filtered_child.pid), str(os.getpid()))
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["PID", "COMM", "SECCOMP", "FILTERS", "NO_NEW_PRIVS", "CAPS"]
    child_row = next(r for r in rows if r.startswith(str(filtered_child.pid)))
    assert child_row.split()[2:5] == ["filter", "2", "yes"]
    assert child_row.index("filter") == header.index("SECCOMP")
    lines = syswarden("status", "--json", str(filtered_child.pid), str(os.getpid())).stdout.splitlines()
    data = [json.loads(line) for line in lines]     # one JSON object per process (JSON Lines), as --help says
    child = [d for d in data if d["pid"] == filtered_child.pid]
    assert len(data) == 2 and len(child) == 1 and child[0]["seccomp"] == "filter" and child[0]["filters"] == 2


def test_cli_unknown_pid_exits_1() -> None:
    """A PID that does not exist is reported on stderr with exit code 1."""
    result = syswarden("status", "999999999")
    assert result.returncode == 1 and "no such process: 999999999" in result.stderr
