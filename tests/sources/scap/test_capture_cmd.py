"""`syswarden capture --read` against `sysdig -r -p` on real captures, and its input errors."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from .scap_oracle import capture_path

from syswarden.cli.main import cli
from syswarden.errors import SyswardenError


def run(*args: str) -> tuple[int, str, str]:
    """Invoke the command; a syswarden error maps to its exit code as cli.main.main does."""
    result = CliRunner(mix_stderr=False).invoke(cli, ["capture", *args])
    if isinstance(result.exception, SyswardenError):
        return result.exception.exit_code, result.stdout, str(result.exception)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("name,filt", [
    ("falco_cat_write.scap", "evt.type=open"),
    ("falco_syscall.scap", "evt.type=madvise and evt.dir=<"),
    ("libs_curl_google.scap", "evt.type in (connect, socket)"),
])
def test_read_numbers_and_types_like_sysdig(name: str, filt: str, sysdig) -> None:
    """--read with a filter prints the same evt.num/type/dir lines as sysdig -r -p '*...' FILTER."""
    fmt = "*%evt.num %evt.type %evt.dir %evt.cpu %thread.tid"
    code, out, err = run("-r", str(capture_path(name)), "-p", fmt, filt)
    assert code == 0, err
    assert out.splitlines() == sysdig.lines(capture_path(name), fmt, filt)
    assert out


# captures without documented differences on these fields (docs/sysdig-differences.md) and with matching events
@pytest.mark.parametrize("name", ["falco_cat_write.scap", "sysdig-inspect_502Error.scap"])
def test_filtered_read_keeps_process_and_fd_context(name: str, sysdig) -> None:
    """A filter narrows the event types decoded; state still gets what it needs, so process and fd fields of
    the matching events equal sysdig's."""
    # not pname: a documented difference
    fmt = "*%evt.num %evt.type %proc.name %proc.cmdline %user.name %fd.name %fd.typechar"
    filt = "evt.type in (read, write, sendto, recvfrom) and evt.dir=<"
    code, out, err = run("-r", str(capture_path(name)), "-p", fmt, filt)
    assert code == 0, err
    assert out and out.splitlines() == sysdig.lines(capture_path(name), fmt, filt)


def test_star_prefix_keeps_events_with_missing_fields(sysdig) -> None:
    """Without '*', events lacking a field of the format are skipped (fd.name on open enter), as in sysdig."""
    path = str(capture_path("falco_cat_write.scap"))
    _, with_star, _ = run("-r", path, "-p", "*%evt.num %fd.name", "evt.type=open")
    _, without, _ = run("-r", path, "-p", "%evt.num %fd.name", "evt.type=open")
    assert len(with_star.splitlines()) == 8
    assert [line.split()[0] for line in without.splitlines()] == ["141", "151", "187", "197"]


def test_count_limit_and_default_format() -> None:
    """-n stops after N printed events; the default line starts with evt.num and the time, like sysdig's."""
    code, out, _ = run("-r", str(capture_path("falco_cat_write.scap")), "-n", "3")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3
    assert lines[0].split()[0] == "131" and lines[0].split()[1].count(":") == 2


def test_bad_filter_and_missing_file_exit_2(tmp_path: Path) -> None:
    """A filter that does not parse and a capture that does not exist are input errors (exit 2)."""
    path = str(capture_path("falco_cat_write.scap"))
    code, _, _ = run("-r", path, "evt.type=open and and")
    assert code == 2
    code, _, _ = run("-r", str(tmp_path / "missing.scap"))
    assert code == 2


def test_nothing_to_do_is_an_input_error() -> None:
    """capture without --read or -w explains what it expected."""
    code, _, _ = run()
    assert code == 2


def test_truncated_capture_prints_what_it_read_then_fails(tmp_path: Path) -> None:
    """A truncated capture prints every event before the damage, then exits 2 naming the byte offset."""
    from syswarden.sources.scap.stream import load_bytes

    raw = load_bytes(str(capture_path("falco_cat_write.scap")))
    cut = tmp_path / "cut.scap"
    cut.write_bytes(raw[: len(raw) - 700])
    code, out, err = run("-r", str(cut), "-p", "*%evt.num")
    assert code == 2 and "truncated block at byte offset" in err
    nums = [int(x) for x in out.split()]
    assert nums[0] == 131 and nums == sorted(nums) and len(nums) >= 60


@pytest.mark.kernel
@pytest.mark.parametrize("suffix", [".jsonl", ".scap"])
def test_write_with_filter_keeps_only_matches_visible(tmp_path: Path, suffix: str) -> None:
    """capture -w --filter records the matching events; the rest that state needs is kept state-only."""
    out = tmp_path / f"rec{suffix}"
    rec = subprocess.run([sys.executable, "-m", "syswarden", "capture", "-w", str(out), "--source", "ptrace",
                          "--filter", "evt.type=openat and fd.name=/etc/hostname", "--",
                          "sh", "-c", "cat /etc/hostname >/dev/null; cat /etc/passwd >/dev/null"],
                         capture_output=True, text=True, timeout=60)
    assert rec.returncode == 0, rec.stderr
    assert "wrote 1 events" in rec.stderr, rec.stderr
    shown = subprocess.run([sys.executable, "-m", "syswarden", "capture", "-r", str(out),
                            "-p", "*%evt.type %proc.name %fd.name %proc.pname"],
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines() == ["openat cat /etc/hostname sh"]


@pytest.mark.parametrize("split", [
    ["evt.type=open", "and", "evt.dir=<"],                      # sysdig's habit: unquoted words
    ["--filter", "evt.type=open", "and", "evt.dir=<"],          # --filter's value, then the rest of the words
    ["--filter", "evt.type=open and", "evt.dir=<"],
])
def test_filter_words_are_joined_as_sysdig_does(split: list[str], sysdig) -> None:
    """Filter words after the options are joined with spaces (after --filter's value), none dropped: the
    lines equal sysdig -r with the same words."""
    path = capture_path("falco_cat_write.scap")
    fmt = "*%evt.num %evt.type %proc.name"
    code, out, err = run("-r", str(path), "-p", fmt, *split)
    assert code == 0, err
    assert out and out.splitlines() == sysdig.lines(path, fmt, "evt.type=open and evt.dir=<")
    _, only_first, _ = run("-r", str(path), "-p", fmt, "evt.type=open")
    assert len(only_first.splitlines()) > len(out.splitlines())     # the second condition narrowed it


@pytest.mark.parametrize("args", [
    ["-r", "x.scap", "-w", "y.scap"],
    ["-r", "x.scap", "--source", "ptrace"],
    ["-w", "y.scap", "-p", "%evt.num", "--", "true"],
    ["-w", "y.scap", "-n", "3", "--", "true"],
    ["-w", "y.scap"],
])
def test_options_of_the_other_mode_are_usage_errors(args: list[str], tmp_path: Path) -> None:
    """An option that the chosen mode would ignore is a usage error (exit 2) naming it; nothing is written."""
    code, out, err = run(*[str(tmp_path / a) if a.endswith(".scap") else a for a in args])
    assert code == 2 and out == "" and "Error:" in err
    assert not (tmp_path / "y.scap").exists()


@pytest.mark.kernel
@pytest.mark.parametrize("script,status", [("exit 5", 5), ("true", 0)])
def test_write_passes_the_command_status_through(tmp_path: Path, script: str, status: int) -> None:
    """capture -w F -- CMD exits with CMD's status, as `run` does, and still writes the recording."""
    out = tmp_path / "rec.jsonl"
    rec = subprocess.run([sys.executable, "-m", "syswarden", "capture", "-w", str(out), "--source", "ptrace", "--",
                          "sh", "-c", script], capture_output=True, text=True, timeout=60)
    assert rec.returncode == status, rec.stderr
    assert "wrote" in rec.stderr and out.stat().st_size > 0


def test_directory_fd_arguments_render_as_sysdig_does(tmp_path: Path, sysdig) -> None:
    """%evt.args shows a dirfd of -100 as AT_FDCWD (not -ENETDOWN) and another dirfd plain, for every *at
    syscall: the directory-fd tokens equal sysdig's on a capture written with those events."""
    from syswarden.events.event import Event, ThreadInfo
    from syswarden.sources.scap.writer import ScapWriter

    path = tmp_path / "at.scap"
    writer = ScapWriter(str(path))
    writer.write_threads([ThreadInfo(tid=7, pid=7, ptid=1, comm="cat", cwd="/")])
    calls = [("openat", {"fd": 3, "dirfd": -100, "name": "/etc/hostname", "flags": 0, "mode": 0}),
             ("openat", {"fd": -2, "dirfd": 5, "name": "x", "flags": 0, "mode": 0}),
             ("mkdirat", {"res": 0, "dirfd": -100, "path": "d", "mode": 0o755}),
             ("unlinkat", {"res": 0, "dirfd": -100, "name": "d", "flags": 0}),
             ("fchmodat", {"res": 0, "dirfd": -100, "filename": "f", "mode": 0o644}),
             ("renameat", {"res": 0, "olddirfd": -100, "oldpath": "a", "newdirfd": 4, "newpath": "b"}),
             ("linkat", {"res": 0, "olddir": -100, "oldpath": "a", "newdir": -100, "newpath": "b", "flags": 0})]
    for num, (name, params) in enumerate(calls, 1):
        res = params.get("res", params.get("fd"))
        writer.write_event(Event(num=num, ts=1_700_000_000_000_000_000 + num, type=name, tid=7, res=res,
                                 params=params))
    writer.close()
    fmt = "*%evt.num %evt.type %evt.args"

    def dirfds(lines: list[str]) -> list[list[str]]:
        return [[w for w in line.split() if w.split("=")[0] in ("dirfd", "olddirfd", "newdirfd", "olddir",
                                                                 "newdir")] for line in lines]
    code, out, err = run("-r", str(path), "-p", fmt, "evt.dir=<")
    theirs = sysdig.lines(path, fmt, "evt.dir=<")
    assert code == 0, err
    assert dirfds(out.splitlines()) == dirfds(theirs) and len(theirs) == len(calls)
    assert "dirfd=-100(AT_FDCWD)" in out and "ENETDOWN" not in out
