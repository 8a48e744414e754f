"""Escaping attacker-controlled strings for text lines and JSON documents (docs/alerts.md)."""
from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from syswarden.escaping import escape_text, json_line, json_safe


def test_printable_text_unchanged() -> None:
    """Plain and non-ASCII printable text is left as it is."""
    assert escape_text("cat /etc/shadow ünïcode ✓") == "cat /etc/shadow ünïcode ✓"


def test_control_characters_escaped() -> None:
    """C0, DEL and C1 characters become JSON-style escapes."""
    assert escape_text("a\nb\tc\rd\x00e\x7ff\x9b") == "a\\nb\\tc\\rd\\u0000e\\u007ff\\u009b"


def test_backslash_escaped_so_a_literal_backslash_n_is_not_a_newline() -> None:
    """A file literally named ``a\\nb`` and one named ``a<newline>b`` print differently."""
    assert escape_text("a\\nb") == "a\\\\nb"
    assert escape_text("a\nb") == "a\\nb"
    assert escape_text("a\\nb") != escape_text("a\nb")


def test_line_and_direction_controls_escaped() -> None:
    """U+2028/2029 (line breaks to some viewers) and the bidi overrides/isolates/marks are escaped."""
    assert escape_text("x\u2028y\u2029z") == "x\\u2028y\\u2029z"
    assert escape_text("invoice\u202egpj.exe") == "invoice\\u202egpj.exe"
    for char in "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069":
        assert escape_text(char) == f"\\u{ord(char):04x}"


def test_undecodable_bytes_spelled_as_hex() -> None:
    """Bytes kept as surrogate escapes print as ``\\xHH``: lossless and always encodable."""
    raw = b"/tmp/\xff\xfe".decode("utf-8", "surrogateescape")
    assert escape_text(raw) == "/tmp/\\xff\\xfe"
    assert escape_text("\ud800") == "\\ud800"          # a lone surrogate that is not a byte


def test_json_safe_replaces_undecodable_bytes_everywhere() -> None:
    """Keys, values, lists: lone surrogates become U+FFFD (Falco's JSON does the same with bad UTF-8)."""
    bad = b"x\xff".decode("utf-8", "surrogateescape")
    assert json_safe({bad: [bad, 1, None]}) == {"x\ufffd": ["x\ufffd", 1, None]}


def test_json_line_is_ascii_and_strict() -> None:
    """One ASCII line; non-ASCII and line separators as \\u escapes."""
    bad = b"a\xff\n".decode("utf-8", "surrogateescape") + "\u2028"
    line = json_line({"k": bad, "a": "é"})
    assert line.isascii() and "\n" not in line
    assert line == '{"a":"\\u00e9","k":"a\\ufffd\\n\\u2028"}'


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_any_bytes_give_one_encodable_line_and_strict_json(data: bytes) -> None:
    """Whatever bytes an attacker chose: one UTF-8-encodable line of text, and JSON a strict parser reads."""
    text = data.decode("utf-8", "surrogateescape")
    line = escape_text(text)
    line.encode("utf-8")                               # never raises
    assert "\n" not in line and "\r" not in line and "\u2028" not in line
    doc = json.loads(json_line({"v": text}))
    doc["v"].encode("utf-8")                           # no lone surrogate came back
    assert doc["v"] == "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)


def test_error_snippet_of_a_hostile_line_is_escaped_with_the_caret_aligned() -> None:
    """A rules or policy file's own line, shown under an error, cannot smuggle controls to the terminal."""
    from syswarden.spans import SourceText, Span, render_snippet

    source = SourceText("r.yaml", "a: \x1b[2J\u202eevil x\n")
    line, caret = render_snippet(source, Span("r.yaml", 1, 12)).split("\n")
    assert line == "a: \\u001b[2J\\u202eevil x"
    assert caret.index("^") == line.index("evil") + 3          # column 12 is the "l" of "evil"
