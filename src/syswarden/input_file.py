"""Opening a file named by the user or a config: a regular file only, read up to a bound.

Every input is hostile, its name included: ``/dev/zero`` never ends, a FIFO blocks the ``open`` itself until a
writer comes, ``/dev/tty`` waits for a keyboard. So the open is non-blocking and the file must be regular before
a byte is read; readers of text documents go on to ``doctree.read_source`` (UTF-8, positions). The caller's
error class carries the message (a ``SyswardenError`` subclass, so the CLI's exit code follows). This module
imports only ``os`` and ``stat``: the cached ``run`` launch reads its policy files through it.
"""
from __future__ import annotations

import os
import stat

TYPE_CHECKING = False            # not typing's: the cached launch imports no typing, errors or dataclasses
if TYPE_CHECKING:
    from typing import BinaryIO

MAX_DOCUMENT_BYTES = 16 << 20     # the largest rules file, policy, profile or config read (stock rules: < 100 KiB)


def open_regular(path: str | os.PathLike[str], error: type[Exception], *, what: str = "file",
                 hint: str = "") -> BinaryIO:
    """``path`` opened for binary reading, or ``error`` naming it when it cannot be read or is not a regular file
    (a directory, FIFO, socket or device; ``hint`` is added to that message). The open cannot hang:
    ``O_NONBLOCK``, cleared once it is known to be a regular file (where it means nothing anyway)."""
    name = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise error(f"cannot read {what} {name!r}: {exc.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise error(f"cannot read {what} {name!r}: it is {file_kind(mode)}, not a regular file{hint}")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | os.PathLike[str], error: type[Exception], *, what: str = "file",
                 max_bytes: int) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; anything else raises ``error`` naming the file."""
    with open_regular(path, error, what=what) as handle:
        try:
            data = handle.read(max_bytes + 1)
        except OSError as exc:
            raise error(f"cannot read {what} {str(path)!r}: {exc.strerror}") from None
    if len(data) > max_bytes:
        raise error(f"cannot read {what} {str(path)!r}: larger than {_size(max_bytes)}")
    return data


def _size(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 else f"{n >> 10} KiB" if n >= 1 << 10 else f"{n} bytes"


def file_kind(mode: int) -> str:
    """What a non-regular file is, for the error (``a FIFO``, ``a character device`` ...)."""
    for test, kind in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "a special file"
