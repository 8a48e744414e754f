"""Alerts for the sink tests: numbered ones, and ones carrying attacker-chosen bytes."""
from __future__ import annotations

from syswarden.rules.alert import Alert, Priority

BASE_NS = 1_700_000_000_000_000_000
# A file name with a newline (forges a line), ESC (drives a terminal) and an undecodable byte (0xff, kept by the
# sources as a surrogate escape), and a command line with a right-to-left override.
HOSTILE_NAME = "/tmp/x\nFAKE: Critical forged\x1b[31m\udcff"
HOSTILE_CMD = "cat \u202egnp.exe"


def numbered(i: int, *, host: str = "h", priority: Priority = Priority.WARNING) -> Alert:
    return Alert(rule="Numbered", priority=priority, output=f"n={i}", time_ns=BASE_NS + i, hostname=host,
                 tags=("t",), output_fields={"n": i, "proc.name": "p"})


def hostile(i: int = 0) -> Alert:
    return Alert(rule="Hostile", priority=Priority.CRITICAL, output=f"file={HOSTILE_NAME} cmd={HOSTILE_CMD} n={i}",
                 time_ns=BASE_NS + i, hostname="h", tags=("t",),
                 output_fields={"fd.name": HOSTILE_NAME, "proc.cmdline": HOSTILE_CMD, "n": i})


def assert_escaped_line(line: str) -> None:
    """One line, no control character, no raw undecodable byte, the forged text inert."""
    assert "\n" not in line and "\x1b" not in line and "\u202e" not in line
    assert not any("\ud800" <= c <= "\udfff" for c in line)
    assert not any(ord(c) < 0x20 for c in line)
