"""The one audit-record field parser: real records (go-libaudit's auparse test logs, with the values its parser
gives as the oracle), the kernel's record shapes (kmsg, netlink, ENRICHED), and hostile text."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syswarden.kernel.audit_fields import (
    MAX_FIELDS, decode_untrusted, parse_fields, parse_int, parse_record, serial_of,
)

AUPARSE = Path(__file__).resolve().parents[2] / ".." / "shared" / "anchors" / "audit" / "go-libaudit" / \
    "auparse-testdata"
# Fields go-libaudit reports as written (decoded when hex) rather than interpreted (arch, syscall, auid=unset...).
STRING_FIELDS = ("comm", "exe", "proctitle", "cwd", "name", "acct", "cmd", "hostname", "terminal")
NUMBER_FIELDS = ("pid", "ppid", "uid", "gid", "euid", "a0", "a1", "a2", "a3", "items", "inode", "tty")


def _golden_records() -> list[dict[str, object]]:
    if not AUPARSE.is_dir():
        pytest.skip("shared/anchors/audit not present next to the repo")
    out = []
    for golden in sorted(AUPARSE.glob("*.log.golden")):
        out += [r for r in json.loads(golden.read_text()) if r and r.get("data")]
    return out


def test_fields_agree_with_go_libaudit() -> None:
    """Every string and number field go-libaudit extracts from its test logs, we extract the same (fields inside
    a user message's ``msg='...'`` are read by parsing that text again, as go-libaudit flattens them)."""
    compared = 0
    for golden in _golden_records():
        record = parse_record(str(golden["raw_msg"]))
        inner = parse_record(record.text("msg") or "") if (record.raw("msg") or "").startswith("'") else None
        expected: dict[str, str] = golden["data"]  # type: ignore[assignment]
        for key in STRING_FIELDS + NUMBER_FIELDS:
            if key not in expected:
                continue
            source = record if key in record.fields else inner
            assert source is not None, (key, golden["raw_msg"])
            # execve's a0, a1... are its arguments (untrusted strings); a SYSCALL record's are hex numbers
            string = key in STRING_FIELDS or golden["record_type"] == "execve"
            got = source.text(key) if string else source.raw(key)
            assert got == expected[key], (key, golden["raw_msg"])
            compared += 1
        assert record.serial == golden["sequence"]
    assert compared > 150


def test_kmsg_netlink_and_log_forms_agree() -> None:
    body = 'pid=4242 comm="nc" exe=2F746D702F6120622F6E63 sig=31 arch=c000003e syscall=49 code=0x80000000'
    forms = [f"audit: type=1326 audit(1700000000.123:77): {body}",
             f"type=SECCOMP msg=audit(1700000000.123:77): {body}",
             f"audit(1700000000.123:77): {body}"]
    records = [parse_record(text) for text in forms]
    assert records[0].type == 1326 and records[1].type_name == "SECCOMP" and records[2].type is None
    assert parse_record(forms[2], 1326).type == 1326
    for record in records:
        assert (record.timestamp, record.serial) == ("1700000000.123", 77)
        assert record.integer("pid") == 4242 and record.text("comm") == "nc"
        assert record.text("exe") == "/tmp/a b/nc"               # a space made the kernel write hex
        assert record.integer("arch", 16) == 0xC000003E and record.integer("code", 16) == 0x80000000
    assert serial_of(forms[0]) == 77 and serial_of("no header") is None


def test_untrusted_strings() -> None:
    assert decode_untrusted('"abc"') == "abc"
    assert decode_untrusted("'op=x res=1'") == "op=x res=1"
    assert decode_untrusted("41420A") == "AB\n"
    assert decode_untrusted("FF00") == "\udcff\x00"              # not UTF-8: surrogate escapes keep the bytes
    assert decode_untrusted("abcd") == "abcd"                    # the kernel writes upper-case hex only
    assert decode_untrusted("ABC") == "ABC"                      # odd length: not hex
    assert decode_untrusted("(null)") == "(null)" and decode_untrusted('"') == '"'


def test_numbers_are_strict() -> None:
    assert parse_int("1234") == 1234 and parse_int("0x1f", 16) == 31 and parse_int("c000003e", 16) == 0xC000003E
    for bad in ("", "-1", "+1", "1_0", " 1", "0x", "12a", "9" * 41, None):
        assert parse_int(bad) is None
    assert parse_int("12a", 16) == 0x12A and parse_int("1", 8) is None


def test_first_occurrence_wins_against_forged_fields() -> None:
    """A user-space message (CAP_AUDIT_WRITE) can write quotes and fields of its own; the kernel's come first."""
    text = ("type=USER_AVC msg=audit(1.2:3): pid=10 uid=0 auid=4294967295 msg='x' pid=1 comm=\"init\" ' "
            "exe=\"/bin/true\"")
    record = parse_record(text)
    assert record.raw("pid") == "10" and record.raw("msg") == "'x'"
    # a second header in attacker text does not move the body
    forged = parse_record('audit(1.2:3): pid=10 comm="a" audit(9.9:9): pid=1')
    assert forged.serial == 3 and forged.raw("pid") == "10"


def test_enriched_part_is_kept_apart() -> None:
    text = 'type=SYSCALL msg=audit(1.2:3): pid=10 uid=0\x1dUID="root" pid=99'
    record = parse_record(text)
    assert record.fields == {"pid": "10", "uid": "0"} and record.enriched == {"UID": '"root"', "pid": "99"}


def test_words_without_value_and_odd_keys() -> None:
    record = parse_record("audit(1.2:3): user pid=3 old-auid=4294967295 key=(null) empty= a=b=c")
    assert record.fields == {"pid": "3", "old-auid": "4294967295", "key": "(null)", "empty": "", "a": "b=c"}


def test_unterminated_quote_is_a_bare_token() -> None:
    assert parse_fields('comm="abc pid=5') == {"comm": '"abc', "pid": "5"}


def test_field_count_and_length_are_capped() -> None:
    many = " ".join(f"k{i}=1" for i in range(MAX_FIELDS * 3))
    assert len(parse_fields(many)) == MAX_FIELDS
    start = time.monotonic()
    for hostile in ('a="' * 100_000, "a='" * 100_000, "a=" * 200_000, "=" * 300_000, '"' * 300_000,
                    " ".join(f'k{i}="x' for i in range(50_000))):
        parse_record(f"audit(1.2:3): {hostile}")
    assert time.monotonic() - start < 5


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab=\"' \x1d:()0123456789.AF\n\\\x00é")), max_size=200))
def test_never_raises(text: str) -> None:
    record = parse_record(text)
    for key in record.fields:
        record.text(key)
        record.integer(key)
        record.integer(key, 16)
