"""Field values as text and as JSON, the way Falco prints them in ``%field`` outputs and ``output_fields``.

Strings print as they are, numbers in decimal, booleans as ``true``/``false``, byte buffers with every
non-printable byte shown as ``.``, missing values as ``<NA>``. A multi-valued field (a tuple: ``proc.aname``
without an index) prints its values space separated, parent first, as libsinsp extracts it for outputs. Escaping
attacker-controlled text for a terminal or a log line is the output layer's job, not this one's: the text here is
exactly Falco's. The text depends on the value alone (its Python type carries what matters), so this module needs
nothing from ``model``.
"""
from __future__ import annotations

from typing import Any

NA = "<NA>"


def format_value(value: Any) -> str:
    """Falco's text for one extracted value."""
    if value is None:
        return NA
    if isinstance(value, tuple):
        return " ".join(format_value(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (bytes, bytearray)):
        return printable(bytes(value))
    return str(value)


def json_value(value: Any) -> Any:
    """Falco's typed JSON value: numbers and booleans stay typed, buffers become text, None is null."""
    if value is None:
        return None
    if isinstance(value, tuple):
        return format_value(value)
    if isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, (bytes, bytearray)):
        return printable(bytes(value))
    return str(value)


def printable(data: bytes) -> str:
    """Bytes as Falco's normal buffer format: printable ASCII kept, everything else as ``.``."""
    return "".join(chr(b) if 32 <= b < 127 else "." for b in data)
