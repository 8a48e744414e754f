"""Audit records: every line of go-libaudit's auparse test logs parses to the golden fields (interpreted as
auparse does: hex, unset ids, result, errno and syscall names, SELinux contexts, socket addresses, keys), the
malformed line is reported as malformed; the three record forms and auditd's node=/ENRICHED variants; hostile
lines never crash the reader."""
from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syswarden.audit.interpret import interpret
from syswarden.audit.logs import LogStats, read_records
from syswarden.audit.records import MalformedRecord, parse_line, parse_netlink
from tests.audit.conftest import anchors


def _golden_cases() -> list[tuple[str, int, str, dict | None]]:
    out = []
    for log in sorted((anchors() / "go-libaudit" / "auparse-testdata").glob("*.log")):
        golden = json.loads((log.parent / (log.name + ".golden")).read_text()) or []
        lines = [ln for ln in log.read_text().split("\n") if ln.strip()]
        assert len(lines) == len(golden), log.name
        out.extend((log.name, i + 1, line, expected) for i, (line, expected) in enumerate(zip(lines, golden)))
    return out


@pytest.mark.parametrize("name, lineno, line, expected", _golden_cases(), ids=lambda v: v if isinstance(v, str)
                         and v.endswith(".log") else None)
def test_record_matches_the_auparse_golden(name: str, lineno: int, line: str, expected: dict | None) -> None:
    if expected is None:                    # go-libaudit could not parse it either ("type=UNKNOWN[1329] msg=?")
        with pytest.raises(MalformedRecord):
            parse_line(line)
        return
    record = parse_line(line)
    data = interpret(record)
    assert record.type_name.lower() == expected["record_type"]
    assert record.serial == expected["sequence"]
    when = datetime.datetime.fromisoformat(expected["@timestamp"].replace("Z", "+00:00"))
    assert record.ts_ns == round(when.timestamp() * 1000) * 1_000_000
    assert data.data == expected.get("data", {})
    assert data.tags == expected.get("keys", [])


def test_every_record_of_the_sample_logs_is_accounted_for() -> None:
    """Each line is a record or counted as malformed, with its position."""
    logs = sorted(str(p) for p in (anchors() / "go-libaudit" / "auparse-testdata").glob("*.log"))
    logs += sorted(str(p) for p in (anchors() / "audit-userspace" / "auparse-testdata").glob("*.log"))
    stats = LogStats()
    records = list(read_records(logs, stats))
    nonblank = sum(1 for p in logs for ln in Path(p).read_text().split("\n") if ln.strip())
    assert len(records) + stats.malformed == nonblank
    assert stats.malformed == 1 and stats.examples[0].startswith(logs[1] + ":31:")


def test_forms_of_the_same_record() -> None:
    body = 'pid=5 comm="nc" exe="/usr/bin/nc" sig=31 arch=c000003e syscall=49 compat=0 ip=0x7f code=0x80000000'
    log = parse_line(f"type=SECCOMP msg=audit(1700000000.123:42): {body}")
    node = parse_line(f"node=web-1 type=SECCOMP msg=audit(1700000000.123:42): {body}")
    kmsg = parse_line(f"[  12.5] audit: type=1326 audit(1700000000.123:42): {body}")
    netlink = parse_netlink(1326, f"audit(1700000000.123:42): {body}")
    enriched = parse_line(f'type=SECCOMP msg=audit(1700000000.123:42): {body}\x1dAUID="unset" ARCH=x86_64 SYSCALL=bind')
    for rec in (log, node, kmsg, netlink, enriched):
        assert (rec.type, rec.serial, rec.ts_ns, rec.body) == (1326, 42, 1700000000_123_000_000, body)
        assert interpret(rec).data["syscall"] == "bind"
    assert node.node == "web-1" and log.node == ""
    assert enriched.enriched.startswith('AUID="unset"') and interpret(enriched).data["sig"] == "SIGSYS"
    assert parse_line("type=UNKNOWN[1335] msg=audit(1.002:3): x=1").type == 1335


def test_hex_and_quoted_strings_decode() -> None:
    rec = parse_line('type=PATH msg=audit(1.000:1): item=0 name=2F746D702F61206220630A nametype=CREATE')
    assert rec.text("name") == "/tmp/a b c\n"
    rec = parse_line('type=CWD msg=audit(1.000:1): cwd="/home/x"')
    assert rec.text("cwd") == "/home/x"
    bad_utf8 = parse_line('type=PATH msg=audit(1.000:1): item=0 name=2FFF00')
    assert bad_utf8.text("name") == "/\udcff"            # the byte kept; escaping shows it as \xff


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_hostile_lines_are_records_or_malformed(line: str) -> None:
    for text in (line, "type=SYSCALL msg=audit(1.000:1): " + line, "type=PATH msg=audit(1.2:3): " + line):
        try:
            rec = parse_line(text)
        except MalformedRecord:
            continue
        interpret(rec)


def test_overlong_line_is_skipped_and_counted(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    ok = "type=CWD msg=audit(1.000:1): cwd=\"/\"\n"
    log.write_text(ok + "type=CWD msg=audit(1.000:2): cwd=" + "A" * 200_000 + "\n" + ok)
    stats = LogStats()
    assert len(list(read_records([str(log)], stats))) == 2
    assert stats.malformed == 1 and "longer than any audit record" in stats.examples[0]
