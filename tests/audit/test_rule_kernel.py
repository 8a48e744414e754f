"""Against the real kernel, with auditctl (package auditd) as the oracle: every sample rules file that loads here
lists back from ``syswarden audit list`` exactly as ``auditctl -l`` lists it after auditctl loaded the same file;
loading is all or nothing; status agrees with ``auditctl -s``.

Each test deletes exactly the rules it added (never ``-D``), also on failure. ``10-no-audit.rules``
(``-a task,never``) is left out of the kernel round trip: while loaded it stops the auditing of every new task on
the machine, which other tests reading audit records at the same moment would feel.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from syswarden.audit import control
from syswarden.audit.rule_encode import decode, encode
from syswarden.audit.rule_model import AuditRuleError
from syswarden.audit.rule_syntax import split_words
from syswarden.audit.rules_file import parse_rules
from syswarden.kernel import audit_netlink
from tests.audit.conftest import KernelRules, anchors, auditctl, run_auditctl

pytestmark = pytest.mark.kernel
SYSWARDEN = [sys.executable, "-m", "syswarden"]
_UNSAFE = ("10-no-audit.rules",)


def _sample_files() -> list[Path]:
    root = anchors()
    files = [*sorted((root / "audit-userspace" / "rules").glob("*.rules")),
             *sorted((root / "audit-userspace" / "ids-rules").glob("*.rules")), root / "neo23x0" / "audit.rules"]
    return [p for p in files if p.name not in _UNSAFE]


def _rule_lines(path: Path) -> list[str]:
    """The rule lines of a file (no -D, -b, -e ...: those change the machine for everyone)."""
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip().startswith(("-a ", "-A ", "-w "))]


def _loadable(lines: list[str], guard: KernelRules) -> list[str]:
    """The lines auditctl itself can load on this kernel, each tried alone (and removed again)."""
    ok = []
    for line in lines:
        args = [w.text for w in split_words(line, "x", 1)]
        if run_auditctl(*args).returncode == 0:
            ok.append(line)
        guard.cleanup()
    return ok


def _new_listing(guard: KernelRules, lines: list[str]) -> list[str]:
    raws = audit_netlink.list_rules()
    assert len(raws) == len(lines), "the kernel's rules changed while we listed them"
    return [line for raw, line in zip(raws, lines) if raw not in guard.before]


@pytest.mark.parametrize("path", _sample_files(), ids=lambda p: p.name)
def test_sample_file_lists_back_as_auditctl_lists_it(path: Path, kernel_rules: KernelRules,
                                                     tmp_path: Path) -> None:
    auditctl()
    lines = _loadable(_rule_lines(path), kernel_rules)
    if not lines:
        pytest.skip(f"no rule of {path.name} loads on this kernel")
    rules_file = tmp_path / path.name
    rules_file.write_text("-i\n" + "\n".join(lines) + "\n")     # -i: both tools skip a duplicate the same way
    os.chmod(rules_file, 0o600)
    loaded = run_auditctl("-R", str(rules_file))
    assert loaded.returncode == 0, loaded.stderr
    theirs = _new_listing(kernel_rules, run_auditctl("-l").stdout.splitlines())
    kernel_rules.cleanup()
    ours_cli = subprocess.run([*SYSWARDEN, "audit", "load", "-q", str(rules_file)], capture_output=True, text=True)
    assert ours_cli.returncode == 0, ours_cli.stderr
    listed = subprocess.run([*SYSWARDEN, "audit", "list"], capture_output=True, text=True, check=True)
    ours = _new_listing(kernel_rules, listed.stdout.splitlines())
    assert ours == theirs
    assert len(ours) == len(theirs) >= 1


def test_loading_is_all_or_nothing(kernel_rules: KernelRules, tmp_path: Path) -> None:
    """The kernel refuses line 4 (the rule of line 2 again: EEXIST); the rules of lines 2-3 are removed, the rule
    line 3 deleted is back, and the error names line 4."""
    kept = parse_rules("-a always,exit -F arch=b64 -S fchownat -k syswarden-test-kept", "k").rules[0]
    audit_netlink.add_rule(encode(kept))
    before = audit_netlink.list_rules()
    text = ("-b 1234\n-a always,exit -F arch=b64 -S fchmodat -k syswarden-test-a\n"
            "-d always,exit -F arch=b64 -S fchownat -k syswarden-test-kept\n"
            "-a always,exit -F arch=b64 -S fchmodat -k syswarden-test-a\n")
    status = audit_netlink.get_status()
    with pytest.raises(AuditRuleError) as info:
        control.load(parse_rules(text, "f.rules"))
    assert info.value.span is not None and info.value.span.line == 4
    assert "exists already" in info.value.message
    assert audit_netlink.list_rules() == before
    assert audit_netlink.get_status()["backlog_limit"] == status["backlog_limit"]


def test_kernel_refusal_names_the_line_through_the_cli(kernel_rules: KernelRules, tmp_path: Path) -> None:
    rules_file = tmp_path / "dup.rules"
    rules_file.write_text("# twice\n-a always,exit -F arch=b64 -S fchmodat -k syswarden-dup\n"
                          "-a always,exit -F arch=b64 -S fchmodat -k syswarden-dup\n")
    done = subprocess.run([*SYSWARDEN, "audit", "load", str(rules_file)], capture_output=True, text=True)
    assert done.returncode == 2
    assert f"{rules_file}:3:1: kernel: cannot add this rule: the rule exists already" in done.stderr
    assert "Traceback" not in done.stderr
    assert not kernel_rules.ours()


def test_delete_all_by_key_removes_only_matching_rules(kernel_rules: KernelRules) -> None:
    for line in ("-a always,exit -F arch=b64 -S fchmodat -k syswarden-del-1",
                 "-a always,exit -F arch=b64 -S fchownat -k syswarden-keep-1"):
        audit_netlink.add_rule(encode(parse_rules(line, "x").rules[0]))
    assert control.delete_all("syswarden-del") == 1
    assert [decode(r).keys for r in kernel_rules.ours()] == [("syswarden-keep-1",)]


def test_status_agrees_with_auditctl() -> None:
    auditctl()
    theirs = dict(line.split(None, 1) for line in run_auditctl("-s").stdout.splitlines() if " " in line)
    ours = subprocess.run([*SYSWARDEN, "audit", "status"], capture_output=True, text=True, check=True).stdout
    mine = dict(line.split(None, 1) for line in ours.splitlines())
    for key in ("enabled", "failure", "rate_limit", "backlog_limit", "backlog_wait_time"):
        assert mine[key].strip() == theirs[key].strip(), key


def _with_numbers(line: str) -> list[str]:
    """The line's words with every -S list spelled as numbers (auditctl 3.0.9 knows no syscall newer than
    Linux 6.2), looked up in the table of the rule's arch."""
    from syswarden.audit.rule_fields import resolve_arch
    from syswarden.audit.syscall_names import number
    from syswarden.syscalls.arch import Arch

    words = [w.text for w in split_words(line, "x", 1)]
    arch = Arch.native()
    for i, word in enumerate(words):
        if word.startswith("arch=") and i and words[i - 1] == "-F":
            arch = resolve_arch(word[5:], Arch.native())
        if i and words[i - 1] == "-S":
            words[i] = ",".join(str(number(arch, n)) for n in word.split(","))
    return words


@pytest.mark.parametrize("name", ["30-ospp-v42-5-perm-change-failed.rules", "30-ospp-v42-6-owner-change-success.rules"])
def test_syscalls_newer_than_auditctl_encode_as_auditctl_encodes_their_numbers(name: str,
                                                                              kernel_rules: KernelRules) -> None:
    path = anchors() / "audit-userspace" / "rules" / name
    for line in _rule_lines(path):
        ours = parse_rules(line, name).rules[0]
        done = run_auditctl(*_with_numbers(line))
        assert done.returncode == 0, done.stderr
        (raw,) = kernel_rules.ours()
        assert decode(raw) == ours
        assert raw.startswith(encode(ours))
        kernel_rules.cleanup()
