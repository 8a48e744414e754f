"""Escaping attacker-controlled text (file names, command lines, comm, env) before it reaches a terminal, a log
line or a JSON document.

The live sources keep every string from the watched system byte-exact: undecodable bytes become surrogate
escapes (``"\\udcff"`` for the byte 0xff, Python's ``surrogateescape``), so rules compare the real bytes. Such a
string cannot be encoded as UTF-8 as it is, and a raw control character in it could forge a log line. Every
output goes through this module:

* ``escape_text`` (text lines, tables, messages): backslash becomes ``\\\\`` (so a file literally named
  ``a\\nb`` cannot pass for a newline), C0/DEL/C1 controls become ``\\n``/``\\t``/``\\u001b``..., the Unicode line
  separators and direction controls (U+2028, U+2029, U+202E and friends, which reorder or break what a terminal
  shows) become ``\\u2028``..., and each undecodable byte becomes ``\\xff``. Printable Unicode stays as it is. The
  result is always valid UTF-8, one line, and lossless: every escape starts with a backslash.
* ``json_safe`` (JSON documents): undecodable bytes and other lone surrogates become U+FFFD, as Falco's JSON
  encoder does with bad UTF-8; ``json_line`` then writes ASCII-only JSON (every non-ASCII character as a
  ``\\uXXXX`` escape), valid for any strict parser and safe to paste into a terminal or a script.
"""
from __future__ import annotations

import json
import re
from typing import Any

# Unicode "format" controls that change how a line reads: the bidi embeddings, overrides and isolates, the
# implicit marks, the Arabic letter mark, and the line/paragraph separators.
_UNICODE_CONTROLS = "\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_NEEDS_ESCAPE = re.compile(rf"[\\\x00-\x1f\x7f-\x9f{_UNICODE_CONTROLS}\ud800-\udfff]")
_NAMED = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _escape_one(match: re.Match[str]) -> str:
    char = match.group(0)
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"          # a byte surrogateescape kept
    return f"\\u{code:04x}"


def escape_text(text: str) -> str:
    """One printable, UTF-8-encodable line: backslash, controls, line/direction marks and undecodable bytes
    escaped; everything else untouched."""
    if not _NEEDS_ESCAPE.search(text):
        return text
    return _NEEDS_ESCAPE.sub(_escape_one, text)


def json_safe(value: Any) -> Any:
    """``value`` with every string (dict keys too) free of lone surrogates: undecodable bytes become U+FFFD."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value) if _SURROGATE.search(value) else value
    if isinstance(value, dict):
        return {json_safe(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def json_line(value: Any, *, sort_keys: bool = True) -> str:
    """One line of ASCII-only JSON for ``value`` (strings made ``json_safe`` first)."""
    return json.dumps(json_safe(value), sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=True)
