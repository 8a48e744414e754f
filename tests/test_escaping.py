"""Escaping of control characters in text outputs."""
from __future__ import annotations

from syswarden.escaping import escape_text


def test_printable_text_unchanged() -> None:
    """Plain and non-ASCII printable text is left as it is."""
    assert escape_text("cat /etc/shadow ünïcode ✓") == "cat /etc/shadow ünïcode ✓"


def test_control_characters_escaped() -> None:
    """C0, DEL and C1 characters become JSON-style escapes."""
    assert escape_text("a\nb\tc\rd\x00e\x7ff\x9b") == "a\\nb\\tc\\rd\\u0000e\\u007ff\\u009b"


def test_lone_surrogates_replaced() -> None:
    """Undecodable bytes kept as surrogate escapes print as U+FFFD."""
    raw = b"/tmp/\xff".decode("utf-8", "surrogateescape")
    assert escape_text(raw) == "/tmp/\ufffd"
