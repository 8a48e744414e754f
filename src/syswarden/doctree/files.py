"""Reading a document file: a regular file, at most ``MAX_BYTES``, UTF-8, or a positioned error."""
from __future__ import annotations

import os
import stat

from syswarden import doctree
from syswarden.doctree import ErrorClass
from syswarden.spans import SourceText


def read_source(path: str | os.PathLike[str], error: ErrorClass, *, what: str = "file",
                max_bytes: int | None = None) -> SourceText:
    """The text of a regular file, UTF-8, at most ``max_bytes``; anything else raises ``error``."""
    name = str(path)
    max_bytes = doctree.MAX_BYTES if max_bytes is None else max_bytes
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise error(f"cannot read {what} {name!r}: {exc.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise error(f"cannot read {what} {name!r}: it is {_file_kind(mode)}, not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise error(f"cannot read {what} {name!r}: {exc.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise error(f"cannot read {what} {name!r}: larger than {max_bytes >> 20} MiB")
    return decode(data, name, error)


def _file_kind(mode: int) -> str:
    for test, kind in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "a special file"


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
