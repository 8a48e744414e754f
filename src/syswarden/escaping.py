"""Escaping attacker-controlled text (file names, command lines) before it reaches a terminal or a log line.

Falco runs its text line through a JSON string encoder, so control characters come out as ``\\n``, ``\\u001b``
... and a file named ``"a\\nFAKE ALERT"`` can never forge a second line. We do the same for every text output,
and keep printable Unicode as it is. Invalid UTF-8 has already become U+FFFD or surrogate escapes upstream;
lone surrogates are replaced here so the output always encodes.
"""
from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def _escape_one(match: re.Match[str]) -> str:
    char = match.group(0)
    if "\ud800" <= char <= "\udfff":
        return "\ufffd"
    return _NAMED.get(char) or f"\\u{ord(char):04x}"


def escape_text(text: str) -> str:
    """Replace control characters (C0, DEL, C1) with JSON-style escapes; leave everything else untouched."""
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub(_escape_one, text)
