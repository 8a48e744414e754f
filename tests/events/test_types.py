"""Tests for the event table and flag rendering (syswarden.events.types)."""
from __future__ import annotations

import errno
import os
import re
import socket
import subprocess
from pathlib import Path

import pytest

from syswarden.events import types as T

_FLAG_ARG = re.compile(r"\b(\w+)=(\d+)\(([A-Za-z_0-9|]*)\)")


def _sysdig_lines(path: Path, evtypes: str) -> list[str]:
    fmt = "%evt.type %evt.is_open_read %evt.is_open_write %evt.args"
    out = subprocess.run(["sysdig", "-r", str(path), "-p", fmt, f"evt.dir=< and evt.type in ({evtypes})"],
                         capture_output=True, text=True, timeout=120, check=False)
    return out.stdout.splitlines()


def test_flag_rendering_matches_sysdig_on_captures(sysdig_captures: list[Path]) -> None:
    """Every flag/enum parameter sysdig prints in the captures (open flags, clone flags, mmap prot/flags, access
    modes, futex ops, fcntl commands, families, ...) renders to the same text from its Linux value, and converts
    back to Falco's number."""
    checked: dict[str, int] = {}
    for path in sysdig_captures:
        out = subprocess.run(["sysdig", "-r", str(path), "-p", "*%evt.type %evt.dir %evt.args"],
                             capture_output=True, text=True, timeout=120, check=False).stdout
        for line in out.splitlines():
            evtype, direction, args = (line.split(" ", 2) + ["", ""])[:3]
            spec = T.event_spec(evtype, direction)
            for pname, raw, text in _FLAG_ARG.findall(args) if spec else ():
                param = spec.param(pname)                                   # type: ignore[union-attr]
                if param is None or param.table is None:
                    continue
                if param.table == "socket_families" and raw == "1":
                    # sysdig 0.29 stops at AF_LOCAL; modern libs prints every alias: AF_LOCAL|AF_UNIX.
                    continue
                table = T.flag_table(param.table)
                linux = table.from_falco(int(raw))
                assert table.render(linux) == text, (path.name, line)
                assert table.to_falco(linux) == int(raw), (path.name, line)
                checked[param.table] = checked.get(param.table, 0) + 1
    assert {"file_flags", "clone_flags", "mmap_flags", "prot_flags", "access_flags", "fcntl_commands"} <= set(checked)
    assert sum(checked.values()) > 1000


def test_is_open_read_write_match_sysdig(sysdig_captures: list[Path]) -> None:
    """evt.is_open_read/is_open_write computed from Linux flags agree with sysdig on every open exit."""
    checked = 0
    for path in sysdig_captures:
        for line in _sysdig_lines(path, "open,openat"):
            _, rd, wr, args = (line.split(" ", 3) + [""])[:4]
            m = re.search(r"\bflags=(\d+)\(", args)
            if not m:
                continue
            linux = T.flag_table("file_flags").from_falco(int(m.group(1)))
            assert (T.is_open_read(linux), T.is_open_write(linux)) == (rd == "true", wr == "true"), line
            checked += 1
    assert checked > 100


@pytest.mark.parametrize(("flags", "text"), [
    (os.O_RDONLY, "O_RDONLY"),
    (os.O_RDONLY | os.O_CLOEXEC, "O_RDONLY|O_CLOEXEC"),
    (os.O_WRONLY | os.O_CREAT | os.O_TRUNC, "O_TRUNC|O_CREAT|O_WRONLY"),
    (os.O_RDWR | os.O_APPEND, "O_APPEND|O_RDWR"),
    (os.O_RDONLY | os.O_DIRECTORY | os.O_NONBLOCK | os.O_CLOEXEC, "O_DIRECTORY|O_NONBLOCK|O_RDONLY|O_CLOEXEC"),
])
def test_file_flags_render_linux_values_in_falco_order(flags: int, text: str) -> None:
    """Linux open flags from the os module render in Falco's order and names."""
    assert T.format_flags("file_flags", flags) == text


def test_enum_tables_take_linux_values() -> None:
    """Enum tables (families, ptrace requests, prctl options) map Linux numbers to Falco names."""
    assert T.format_flags("socket_families", socket.AF_INET6) == "AF_INET6"
    assert T.format_flags("socket_families", socket.AF_UNIX) == "AF_LOCAL|AF_UNIX"
    assert T.format_flags("ptrace_requests", 16) == "PTRACE_ATTACH"      # Linux PTRACE_ATTACH
    assert T.format_flags("ptrace_requests", 0x4206) == "PTRACE_SEIZE"
    assert T.format_flags("prctl_options", 38) == "PR_SET_NO_NEW_PRIVS"
    assert T.flag_table("ptrace_requests").from_falco(11) == 16


def test_namespace_and_mount_flags() -> None:
    """unshare/setns namespace flags use the clone table; mount flags render without the MS_ prefix, as Falco."""
    assert T.format_flags("clone_flags", 0x10000000 | 0x20000000) == "CLONE_NEWPID|CLONE_NEWUSER"
    assert T.format_flags("mount_flags", 4096 | 16384) == "BIND|REC"
    assert T.flag_table("clone_flags").value_of("CLONE_FILES") == 0x400


def test_errno_names() -> None:
    """errno_name accepts negative syscall results and agrees with the errno module."""
    assert T.errno_name(-errno.ENOENT) == "ENOENT"
    assert T.errno_name(errno.EACCES) == "EACCES"
    assert T.errno_name(99999) == ""
    assert T.errno_value("EPERM") == 1
    with pytest.raises(KeyError):
        T.errno_value("NOPE")


def test_is_open_exec_needs_create_and_exec_bit() -> None:
    """evt.is_open_exec is true only for creating opens whose mode has an execute bit."""
    assert T.is_open_exec(os.O_WRONLY | os.O_CREAT, 0o755)
    assert not T.is_open_exec(os.O_WRONLY | os.O_CREAT, 0o644)
    assert not T.is_open_exec(os.O_RDONLY, 0o755)


def test_event_table_covers_stock_rules_and_state() -> None:
    """Every event the stock rules and the state engine use is in the table with Falco's parameter names."""
    for name in ("open openat openat2 creat close dup dup2 dup3 socket bind connect accept accept4 listen sendto "
                 "sendmsg recvfrom recvmsg execve execveat clone clone3 fork vfork procexit rename renameat "
                 "renameat2 unlink unlinkat mkdir mkdirat rmdir link linkat symlink symlinkat chmod fchmod fchmodat "
                 "setuid setgid setresuid setresgid setreuid setregid ptrace mount umount umount2 unshare setns chdir "
                 "fchdir pipe pipe2 init_module finit_module bpf userfaultfd memfd_create prctl capset").split():
        assert T.event_spec(name) is not None, name
    openat = T.event_spec("openat")
    assert openat is not None and [p.name for p in openat.params][:4] == ["fd", "dirfd", "name", "flags"]
    name = openat.param("name")
    assert name is not None and name.type is T.ParamType.FSRELPATH and name.dirfd == "dirfd"
    execve = T.event_spec("execve")
    assert execve is not None
    for p in ("res", "exe", "args", "tid", "pid", "ptid", "cwd", "comm", "env", "tty", "loginuid", "uid", "gid"):
        assert execve.index(p) >= 0, p
    assert "creates_fd" in openat.flags and "modifies_state" in execve.flags
    assert T.event_spec("procexit", "<") is T.event_spec("procexit", ">")


def test_unknown_flag_table_names_known_ones() -> None:
    """Asking for an unknown table raises a KeyError that lists the known tables."""
    with pytest.raises(KeyError, match="file_flags"):
        T.flag_table("nope")


def test_generic_syscalls_are_event_names() -> None:
    """Syscalls without a dedicated event (madvise) are valid names with the generic event's parameters."""
    assert "madvise" in T.EVENT_NAMES and "madvise" in T.GENERIC_EVENT_NAMES
    spec = T.event_spec("madvise")
    assert spec is not None and spec.name == "madvise" and [p.name for p in spec.params] == ["ID", "nativeID"]
    assert "openat" not in T.GENERIC_EVENT_NAMES and "nosuchcall" not in T.EVENT_NAMES
    for meta in ("useradded", "groupadded", "container"):
        assert T.event_spec(meta, ">") is not None


def test_unknown_enum_values_render_as_falco_does() -> None:
    """A Linux enum value the table lacks renders as the table's UNKNOWN entry, or as nothing — never as the
    Falco name that happens to share its number."""
    assert T.format_flags("ptrace_requests", 0x4299) == "PTRACE_UNKNOWN"
    assert T.format_flags("socket_families", 99) == ""
    assert T.format_flags("sockopt_levels", 6) == "SOL_TCP"
    assert T.format_flags("ptrace_requests", 2) == "PTRACE_PEEKDATA"     # Linux 2 is PEEKDATA (Falco's 3)


def test_falco_only_enum_entries_round_trip() -> None:
    """Falco's PTRACE_UNKNOWN (0) read from a capture is not Linux's PTRACE_TRACEME (0)."""
    table = T.flag_table("ptrace_requests")
    assert table.render(table.from_falco(0)) == "PTRACE_UNKNOWN"
    assert table.render(table.from_falco(1)) == "PTRACE_TRACEME"
