"""The auditctl rule language: every real rules file parses; bad lines get file:line:col errors saying what was
expected; auditctl's semantics (arch before -S, keys gathered last, watch defaults, -i/-c) hold."""
from __future__ import annotations

import pytest

from syswarden.audit.constants import AUDIT_UNSET, F, Filter, Op
from syswarden.audit.rule_listing import listing
from syswarden.audit.rule_model import AddRule, AuditRuleError, Control, DeleteAll, DeleteRule, SetControl
from syswarden.audit.rules_file import parse_rules, read_rules_file
from syswarden.syscalls.arch import Arch
from tests.audit.conftest import anchors


def _parse(text: str, **kwargs: object) -> object:
    return parse_rules(text, "t.rules", native=Arch.X86_64, is_dir=lambda p: False, **kwargs)


def _sample_files() -> list[str]:
    root = anchors()
    files = [*sorted((root / "audit-userspace" / "rules").glob("*.rules")),
             *sorted((root / "audit-userspace" / "ids-rules").glob("*.rules")),
             root / "neo23x0" / "audit.rules", *sorted((root / "go-libaudit" / "rule-testdata").glob("*.rules"))]
    return [str(p) for p in files]


@pytest.mark.parametrize("path", _sample_files(), ids=lambda p: p.rsplit("/", 1)[-1])
def test_every_sample_rules_file_parses(path: str) -> None:
    rules = read_rules_file(path, strict_names=False)
    text = open(path).read()
    rule_lines = [ln for ln in text.splitlines() if ln.strip().startswith(("-a", "-A", "-w"))]
    skipped = [w for w in rules.warnings if "line skipped" in w.message]
    assert len(rules.rules) + len(skipped) == len(rule_lines)


def test_neo23x0_broken_lines_are_skipped_as_its_dash_i_asks() -> None:
    """Lines 487/488 end with ``-k -F T1078...`` (auditctl: "parameter passed without an option given"), and
    718/719 use a field auditctl does not know; the file says -i, so auditctl skips them, and so do we."""
    rules = read_rules_file(str(anchors() / "neo23x0" / "audit.rules"), strict_names=False)
    skipped = sorted(w.span.line for w in rules.warnings if "line skipped" in w.message and w.span)
    assert skipped == [487, 488, 718, 719]


@pytest.mark.parametrize("line, col, expected", [
    ("-a always,exit -F arch=b64 -S opne -k x", 31, "unknown syscall 'opne' on x86_64; did you mean open"),
    ("-a always,exit -S open -F arch=b64", 27, "arch must come before -S"),
    ("-a always,exit -F arch=b64 -S open -F auidd=0", 39, "unknown field 'auidd'; did you mean auid"),
    ("-a always,exit -F arch=b64 -S open -F auid", 39, "missing operator"),
    ("-a always,exit -F arch=b64 -S open -F auid=", 44, "missing value after the operator of auid"),
    ("-a alwys,exit -S open", 4, "expected LIST,ACTION"),
    ("-a always,exit,task -S open", 4, "expected LIST,ACTION"),
    ("-F uid=0", 1, "a list must come before -F"),
    ("-a always,exit -F arch=b64 -S open -k", 36, "option -k needs a value"),
    ("-a always,exit -F arch=b64 -S open stray", 36, "'stray' is not an option"),
    ("-a always,task -S open", 16, "syscall rules cannot go on the task list"),
    ("-w etc/passwd -p wa", 4, "a watched path must be absolute"),
    ("-w /etc/passwd -p wz", 20, "permission 'z' is not one of r, w, x, a"),
    ("-a always,exit -F arch=b64 -S open -F perm!=r", 39, "perm only takes the = operator"),
    ("-a always,user -F path=/x", 19, "can only be used with the exit list"),
    ("-a always,exit -F msgtype=SYSCALL", 19, "msgtype can only be used with the exclude or user list"),
    ("-a always,exit -F arch=b64 -S open -F exit=-ENOPE", 39, "unknown errno '-ENOPE'"),
    ("-a always,exit -F arch=b64 -S open -C uid=gid", 39, "-C cannot compare uid with gid"),
    ("-a always,exit -F arch=b64 -S open -F a0=12abc", 39, "a0 value should be a number"),
    ("-a always,exit -F arch=b64 -S open -F a0=4294967296", 39, "does not fit in 32 bits"),
    ("-a always,exit -F arch=b64 -F uid=0 -k nokey", 37, "-k needs a watch or a syscall"),
    ("-a always,exit -F arch=b64 -S 2040", 31, "syscall number 2040 is out of range"),
    ("-a always,exit -F arch=b64 -S open -F key=\"unterminated", 43, "unterminated \" quote"),
    ("-e 2", 4, "-e 2 locks the audit configuration until reboot"),
    ("-e 3", 4, "-e must be 0, 1 or 2"),
    ("-b lots", 4, "-b must be a number"),
    ("-D -F uid=0", 1, "-D takes no other option but -k KEY"),
    ("-s", 1, "-s (status) is not supported in a rules file"),
    ("-a always,exit -S open\x07", 23, "control character"),
])
def test_errors_name_line_column_and_what_was_expected(line: str, col: int, expected: str) -> None:
    with pytest.raises(AuditRuleError) as info:
        _parse(f"# a comment\n\n{line}\n")
    err = info.value
    assert err.span is not None and (err.span.file, err.span.line, err.span.col) == ("t.rules", 3, col), str(err)
    assert expected in err.message
    assert "^" in err.detail()         # the line is quoted with a caret


def test_keys_are_gathered_into_one_field_added_last() -> None:
    rule = _parse("-a always,exit -F arch=b64 -S open -k one -F uid=0 -F key=two -k three").rules[0]
    assert [f.field for f in rule.fields] == [F.ARCH, F.UID, F.FILTERKEY]
    assert rule.keys == ("one", "two", "three")
    assert rule.fields[-1].text == "one\x01two\x01three"


def test_watch_defaults_and_permission_update() -> None:
    rule = _parse("-w /etc/shadow -k k").rules[0]
    assert rule.filter is Filter.EXIT and rule.all_syscalls
    assert [(f.field, f.value) for f in rule.fields[:2]] == [(F.WATCH, 0), (F.PERM, 15)]
    assert listing(_parse("-w /etc/shadow -p wa -k k").rules[0]) == "-w /etc/shadow -p wa -k k"
    on_dir = parse_rules("-w /etc/ -p x", "t", native=Arch.X86_64, is_dir=lambda p: p == "/etc").rules[0]
    assert on_dir.fields[0].field is F.DIR and on_dir.fields[0].text == "/etc"


def test_names_and_numbers_resolve_as_auditctl_does() -> None:
    rule = _parse("-a always,exit -F arch=b32 -S open,0x5 -F auid!=unset -F uid=root -F exit=-EACCES "
                  "-F a0=-5 -F a1=010 -k k").rules[0]
    assert rule.syscalls == (5,)                               # i386 open is 5, given twice
    values = {f.field: (f.op, f.value) for f in rule.fields}
    assert values[F.LOGINUID] == (Op.NOT_EQUAL, AUDIT_UNSET)
    assert values[F.UID] == (Op.EQUAL, 0)
    assert values[F.EXIT][1] == 0xFFFFFFF3
    assert values[F.ARG0][1] == 0xFFFFFFFB and values[F.ARG1][1] == 8
    assert "-F arch=b32 -S open" in listing(rule)


def test_missing_arch_warns_when_the_compat_abi_differs() -> None:
    warned = _parse("-a always,exit -S open,truncate -k x")
    assert any("without -F arch=" in w.message and "i386" in w.message for w in warned.warnings)
    quiet = _parse("-a always,exit -F arch=b64 -S open -k x\n-a always,exit -S all -F exit=-EPERM -k y")
    assert not [w for w in quiet.warnings if "without -F arch=" in w.message]


def test_control_lines_and_deletions() -> None:
    parsed = _parse("-D\n-b 8192\n-f 1\n--backlog_wait_time 60000\n-e 1\n-d always,exit -F arch=b64 -S open -k x\n"
                    "-D -k x\n-W /etc/passwd -p wa")
    kinds = [type(c).__name__ for c in parsed.commands]
    assert kinds == ["DeleteAll", "SetControl", "SetControl", "SetControl", "SetControl", "DeleteRule",
                     "DeleteAll", "DeleteRule"]
    assert parsed.commands[1] == SetControl(Control.BACKLOG_LIMIT, 8192)
    assert isinstance(parsed.commands[6], DeleteAll) and parsed.commands[6].key == "x"
    assert isinstance(parsed.commands[5], DeleteRule) and not isinstance(parsed.commands[5], AddRule)


def test_immutable_only_when_asked() -> None:
    assert _parse("-e 2", allow_immutable=True).commands[0] == SetControl(Control.ENABLED, 2)


def test_dash_i_skips_bad_lines_and_dash_c_reports_them_all() -> None:
    ignored = _parse("-i\n-a always,exit -S nosuch\n-a always,exit -F arch=b64 -S open -k ok")
    assert len(ignored.rules) == 1 and any(w.span and w.span.line == 2 for w in ignored.warnings)
    with pytest.raises(AuditRuleError) as info:
        _parse("-c\n-a always,exit -S nosuch\n-a always,exit -S nosuch2\n")
    assert info.value.span.line == 2 and "1 more" in info.value.detail()


def test_quoted_and_escaped_paths() -> None:
    quoted = _parse('-w "/tmp/a b" -p wa -k k\n-w /tmp/c\\ d -p wa').rules
    assert [r.fields[0].text for r in quoted] == ["/tmp/a b", "/tmp/c d"]
