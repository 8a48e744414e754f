"""The documented differences between syswarden and sysdig 0.29 (docs/sysdig-differences.md), as data.

A mismatch of the differential is accepted only when each differing event is covered by an entry whose fields the
expression (or the printed field) uses; anything else fails the test.
"""
from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class KnownDifference:
    """A documented semantic difference: expressions using ``fields`` (and matching ``text``), differing only on
    events whose type/direction are in ``events`` (None: any event)."""

    name: str
    fields: tuple[str, ...]
    events: frozenset[str] | None = None       # "type dir" or "type" (both directions)
    text: str = ""                             # regex the expression must match
    values: tuple[str, str] | None = None      # (syswarden, sysdig) value regexes, for %field differences

    def applies(self, text: str) -> bool:
        return any(f in text for f in self.fields) and (not self.text or re.search(self.text, text) is not None)

    def covers_values(self, ours: str, theirs: str) -> bool:
        return self.values is None or (re.fullmatch(self.values[0], ours) is not None
                                       and re.fullmatch(self.values[1], theirs) is not None)

    def covers(self, key: str) -> bool:
        if self.events is None:
            return True
        typ, direction = key.split()[2:4]
        return typ in self.events or f"{typ} {direction}" in self.events


_FD = ("fd.",)
_THREAD_FIELDS = ("proc.", "thread.", "user.", "group.", "container.")
KNOWN_DIFFERENCES = (
    KnownDifference("mmap-fd", _FD, frozenset({"mmap", "mmap2", "munmap"})),
    KnownDifference("open-enter-placeholder-fd", _FD, frozenset({"open >", "openat >", "openat2 >", "creat >",
                                                                 "pipe >", "pipe2 >", "eventfd >", "signalfd >",
                                                                 "timerfd_create >", "inotify_init >",
                                                                 "accept >", "accept4 >"})),
    # sysdig 0.29 prints a server socket's client port as 0; current libsinsp (TYPE_CLIENTPORT answers for
    # connection sockets only) and syswarden give <NA>
    KnownDifference("servsock-cport", ("fd.cport",), frozenset({"bind", "listen", "accept >", "accept4 >",
                                                               "close", "shutdown", "setsockopt", "getsockopt"}),
                    "", ("<NA>", "0")),
    KnownDifference("sysdig-gid-64bit", ("group.gid",), None, "", (".*", r"\d{10,}")),
    # the fd list stores unix socket paths as /proc/net/unix prints them, newline included; sysdig prints it raw,
    # which ends its output line there (an artefact of comparing line by line, not a value difference)
    KnownDifference("newline-in-unix-name", ("fd.name",), None, "", ("(?s).*\n", ".*")),
    KnownDifference("syscall-renames", ("evt.type",), None, "", ("rt_sigreturn|newfstatat", "sigreturn|newfsstat")),
    KnownDifference("kernel-internal-errno", ("evt.res",), None, "", (r"-5\d\d", "E[A-Z_]+")),
    KnownDifference("thread-parent", ("proc.pname", "proc.aname", "proc.ppid", "proc.pcmdline")),
    KnownDifference("socket-fd", _FD, frozenset({"socket >", "socket <"})),
    KnownDifference("na-text", ("proc.", "fd.", "user.", "group.", "evt."), None, r"!=|\bnot\b|<NA>|N/A"),
    KnownDifference("name-changed", ("fd.name_changed",), frozenset({"open <", "openat <", "openat2 <", "creat <",
                                                                    "sendto <", "sendmsg <"})),
    KnownDifference("bare-backslash", ("proc.args",), None, r"endswith \\$|endswith \\ "),
    KnownDifference("fd-directory-unnamed", ("fd.directory",)),
    KnownDifference("proc-cwd-from-execve", ("proc.cwd",)),
    KnownDifference("placeholder-thread", _THREAD_FIELDS, None, "", ("(-1)?", "<NA>")),
    KnownDifference("switch-without-thread", _THREAD_FIELDS, frozenset({"switch"}), "", (".*", "<NA>")),
    KnownDifference("container-event-thread", _THREAD_FIELDS, frozenset({"container"})),
    KnownDifference("unknown-fd-placeholder", _FD, None, "", ("<NA>", "o|")),
    KnownDifference("vpid-without-namespace-info", ("proc.vpid", "thread.vtid")),
    KnownDifference("socket-endpoints", ("fd.sport", "fd.port", "fd.net", "fd.ip", "fd.rnet", "fd.snet",
                                         "fd.typechar", "fd.l4proto", "fd.connected", "fd.name_changed", "fd.sip",
                                         "fd.cip", "fd.dip", "fd.cport", "fd.dport", "fd.rip", "fd.lip", "fd.name",
                                         "fd.type", "fd.num"),
                    frozenset({"connect", "sendto", "sendmsg", "recvfrom", "recvmsg", "socket"})),
)
