"""The ``audit`` CLI's front doors: bad input is an error with file:line:col and exit 2, never a traceback;
hostile bytes in records come out escaped; a fuzzed rules text either parses or fails with a positioned error."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from syswarden.audit.rule_model import AuditRuleError
from syswarden.audit.rules_file import parse_rules
from syswarden.syscalls.arch import Arch

SYSWARDEN = [sys.executable, "-m", "syswarden"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SYSWARDEN, "audit", *args], capture_output=True, text=True, timeout=60)


def test_bad_rules_file_is_a_positioned_error(tmp_path: Path) -> None:
    rules = tmp_path / "bad.rules"
    rules.write_text("-a always,exit -F arch=b64 -S open -k ok\n-a always,exit -F arch=b64 -S nosuchcall -k x\n")
    for command in ("check", "load", "translate"):
        done = _run(command, str(rules))
        assert done.returncode == 2, (command, done.stderr)
        assert f"{rules}:2:31: unknown syscall 'nosuchcall'" in done.stderr
        assert "Traceback" not in done.stderr


def test_missing_and_binary_files(tmp_path: Path) -> None:
    done = _run("check", str(tmp_path / "none.rules"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    junk = tmp_path / "junk.rules"
    junk.write_bytes(b"\x00\xff\xfe-a\x01\n")
    done = _run("check", str(junk))
    assert done.returncode == 2 and "junk.rules:1:" in done.stderr and "Traceback" not in done.stderr
    log = tmp_path / "junk.log"
    log.write_bytes(b"\x00\xff garbage\n" * 10)
    done = _run("search", str(log))
    assert done.returncode == 1 and "10 malformed lines" in done.stderr and "Traceback" not in done.stderr


def test_hostile_names_come_out_escaped(tmp_path: Path) -> None:
    """A file name with an escape sequence and a newline (hex-encoded by the kernel) cannot reach the terminal
    raw or forge a line."""
    name = "/tmp/\x1b[31mred\nFAKE".encode().hex().upper()
    log = tmp_path / "audit.log"
    log.write_text("type=SYSCALL msg=audit(1700000000.000:7): arch=c000003e syscall=2 success=yes exit=3 a0=0 a1=0 "
                   'a2=0 a3=0 items=1 ppid=1 pid=9 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 '
                   'tty=(none) ses=1 comm="cat" exe="/usr/bin/cat" key="k"\n'
                   f"type=PATH msg=audit(1700000000.000:7): item=0 name={name} nametype=NORMAL\n")
    for fmt in ([], ["--json"], ["--ecs"]):
        done = _run("search", str(log), *fmt)
        assert done.returncode == 0
        assert "\x1b" not in done.stdout
        if fmt:
            (doc,) = [json.loads(line) for line in done.stdout.splitlines()]
            assert "red\nFAKE" in json.dumps(doc) or "red\\nFAKE" in json.dumps(doc)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(list("-aAdSFCkwWpDbefr ,=!<>&/:01xyzbe64\"'\\\t#")) ,
                        max_size=60), max_size=6))
def test_fuzzed_rules_parse_or_fail_with_a_position(lines: list[str]) -> None:
    text = "\n".join(lines)
    try:
        parsed = parse_rules(text, "fuzz.rules", native=Arch.X86_64, is_dir=lambda p: False, strict_names=False)
    except AuditRuleError as exc:
        assert exc.span is not None and exc.span.file == "fuzz.rules" and 1 <= exc.span.line <= len(lines)
        return
    for rule in parsed.rules:
        assert len(rule.mask) == 64
