"""``/dev/kmsg``: the kernel log, where audit records land (as ``audit: type=1326 ...``) when no auditd is
registered. Printk is rate limited, so this is the fallback to the audit multicast group.

Bottom layer: yields message texts written after the reader was opened.
"""
from __future__ import annotations

import os
import select


class KmsgReader:
    """A non-blocking reader positioned at the end of the kernel log when opened."""

    def __init__(self, path: str = "/dev/kmsg") -> None:
        self._fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        os.lseek(self._fd, 0, os.SEEK_END)

    def read(self, timeout: float) -> list[str]:
        """Message texts (without the ``prio,seq,ts,flags;`` prefix) available within ``timeout`` seconds."""
        ready, _, _ = select.select([self._fd], [], [], timeout)
        out: list[str] = []
        while ready:
            try:
                raw = os.read(self._fd, 8192)
            except BlockingIOError:
                break
            except BrokenPipeError:
                continue  # the ring buffer overwrote unread records; the next read resumes
            if not raw:
                break
            text = raw.decode("utf-8", "replace")
            out.append(text.split(";", 1)[1].split("\n", 1)[0] if ";" in text else text)
        return out

    def fileno(self) -> int:
        return self._fd

    def close(self) -> None:
        os.close(self._fd)

    def __enter__(self) -> "KmsgReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
