"""Reading a document file: a regular file, at most ``MAX_BYTES``, UTF-8, or a positioned error."""
from __future__ import annotations

import os

from syswarden import doctree
from syswarden.doctree import ErrorClass
from syswarden.input_file import read_regular
from syswarden.spans import SourceText


def read_source(path: str | os.PathLike[str], error: ErrorClass, *, what: str = "file",
                max_bytes: int | None = None) -> SourceText:
    """The text of a regular file, UTF-8, at most ``max_bytes``; anything else raises ``error``."""
    data = read_regular(path, error, what=what, max_bytes=doctree.MAX_BYTES if max_bytes is None else max_bytes)
    return decode(data, str(path), error)


def decode(data: bytes, name: str, error: ErrorClass) -> SourceText:
    """UTF-8 bytes -> ``SourceText`` (a leading BOM is dropped); a bad byte is an error at its position."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        start = exc.start + (3 if data.startswith(b"\xef\xbb\xbf") else 0)
        before = SourceText(name, data[:start].decode("utf-8-sig", "replace"))
        span = before.span_at_offset(len(before.text))
        shown = SourceText(name, data.decode("utf-8-sig", "replace"))
        raise error(f"invalid UTF-8: byte 0x{data[start]:02x} cannot start or continue a character here",
                    span=span, source=shown) from None
    return SourceText(name, text)
