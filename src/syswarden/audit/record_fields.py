"""What the audit tools add on top of ``kernel/audit_fields`` (the one parser of a record's fields, shared with
the sandbox's denial explanations): a record's fields with a user message's ``msg='...'`` fields inline, the
values that mean "none", and go-libaudit's lexical rules, which ``interpret`` follows so its documents match
go-libaudit's and Auditbeat's byte for byte.

go-libaudit reads ``key=value`` with lower-case keys and a bare value that stops at a quote
(``key=65786563013634626974"`` is the hex ``6578…74``), where ``kernel/audit_fields`` keeps the token whole;
the two readings differ only on such malformed text.
"""
from __future__ import annotations

import re

from syswarden.kernel.audit_fields import ENRICHED_SEPARATOR, decode_untrusted, parse_fields

# go-libaudit's key=value: "double quoted", 'single quoted' or a run without blanks or quotes.
FIELD = re.compile(r"([a-z0-9_-]+)=(\"[^\"]*\"|'[^']*'|[^\s\"']+)")
UPPER_HEX = re.compile(r"(?:[0-9A-F]{2})+")
ABSENT = frozenset({"", "?", "?,", "(null)"})

__all__ = ["ABSENT", "ENRICHED_SEPARATOR", "FIELD", "fields", "hex_bytes", "unquote", "untrusted",
           "untrusted_list"]


def fields(text: str) -> dict[str, str]:
    """Every field of a record body as written (first occurrence), a user message's ``msg='...'`` fields added
    after the kernel's own (which therefore win: the message text is the sender's)."""
    out = parse_fields(text)
    msg = out.get("msg")
    if msg is not None and msg[:1] == "'" and msg[-1:] == "'":
        del out["msg"]
        for key, value in parse_fields(msg[1:-1]).items():
            out.setdefault(key, value)
    return out


def unquote(value: str) -> str:
    """The value without its surrounding quotes (and blanks)."""
    return value.strip("'\" ")


def hex_bytes(value: str) -> bytes | None:
    """The bytes of an unquoted upper-case hex value, or None when ``value`` is not one."""
    if value and UPPER_HEX.fullmatch(value):
        return bytes.fromhex(value)
    return None


def untrusted(value: str) -> str:
    """A string field as the program wrote it (``kernel.audit_fields.decode_untrusted``), up to a NUL."""
    return decode_untrusted(value).split("\0", 1)[0]


def untrusted_list(value: str) -> list[str]:
    """A NUL-separated hex field (proctitle, a multi-part argument) as its strings."""
    return decode_untrusted(value).split("\0")
