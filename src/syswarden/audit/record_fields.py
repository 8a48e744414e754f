"""The fields of one audit record's text: ``key=value`` pairs, quoted strings and the kernel's hex encoding.

This module stands alone (standard library only) so that every reader of audit records in syswarden — the
audit source, ``audit search``, the sandbox's SECCOMP and Landlock denial explanations — splits and decodes
fields the same way.

The kernel writes a string it does not trust (comm, exe, a path, cwd, a key, an argument, the proctitle) in
double quotes when it is clean, and as unquoted **uppercase** hex when any byte is a double quote, a control
character, a space or above 0x7e (``audit_log_n_untrustedstring``); numbers it writes in decimal or lowercase
hex. User-space messages carry a second level of fields inside ``msg='...'``. ``?``, ``(null)`` and ``(none)``
mean "no value".
"""
from __future__ import annotations

import re

# key=value where value is "double quoted", 'single quoted' or a run without blanks or quotes.
FIELD = re.compile(r"([a-z0-9_-]+)=(\"[^\"]*\"|'[^']*'|[^\s\"']+)")
UPPER_HEX = re.compile(r"(?:[0-9A-F]{2})+")
ABSENT = frozenset({"", "?", "?,", "(null)"})
ENRICHED_SEPARATOR = "\x1d"


def pairs(text: str) -> list[tuple[str, str]]:
    """(key, value as written) for every field of ``text``, in order (repeated keys kept)."""
    return FIELD.findall(text)


def unquote(value: str) -> str:
    """The value without its surrounding quotes (and blanks)."""
    return value.strip("'\" ")


def hex_bytes(value: str) -> bytes | None:
    """The bytes of an unquoted uppercase-hex value, or None when ``value`` is not one."""
    if value and UPPER_HEX.fullmatch(value):
        return bytes.fromhex(value)
    return None


def untrusted(value: str) -> str:
    """A string field as the program wrote it: quoted -> as is, hex -> decoded (up to a NUL; undecodable bytes
    kept as surrogate escapes, so escaping on output shows them), anything else -> unchanged."""
    if value[:1] in "\"'":
        return unquote(value)
    raw = hex_bytes(value)
    if raw is None:
        return value
    return raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def untrusted_list(value: str) -> list[str]:
    """A NUL-separated hex field (proctitle, a multi-part argument) as its strings."""
    if value[:1] in "\"'":
        return [unquote(value)]
    raw = hex_bytes(value)
    if raw is None:
        return [value]
    return [part.decode("utf-8", "surrogateescape") for part in raw.split(b"\0")]


def fields(text: str) -> dict[str, str]:
    """First value of every key in ``text`` as written (a user message's ``msg='...'`` fields included)."""
    if "msg='" not in text:
        return dict(reversed(FIELD.findall(text)))      # reversed: the first occurrence of a key wins
    out: dict[str, str] = {}
    for key, value in FIELD.findall(text):
        if key == "msg" and value[:1] == "'":
            for inner_key, inner_value in FIELD.findall(value[1:-1]):
                out.setdefault(inner_key, inner_value)
            continue
        out.setdefault(key, value)
    return out


def enriched_fields(text: str) -> dict[str, str]:
    """The ``KEY=value`` pairs auditd's ENRICHED format appends after the 0x1d byte (``UID="root"``)."""
    return {key: unquote(value) for key, value in re.findall(r"([A-Z0-9_]+)=(\"[^\"]*\"|\S+)", text)}
