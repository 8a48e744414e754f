#!/usr/bin/env python3
"""Filtering power of the kernel prefilter, measured with its reference evaluator (no kernel needed).

For a rules selection (default: the stock rules), derive the prefilter a live run would load (what
``monitor --explain-filter`` prints) and count, per event type, the events the workload offers and those the
reference evaluator (``Prefilter.passes``, with ``Prefilter.view``) lets through to user space:

* the 16 captures of shared/anchors/falco (real hosts; a capture does not say whether an open returned a
  directory, so every successful open not known to be a file counts as one: the conservative view);
* synthetic streams shaped like the issue's workloads: ``loop`` (open, read, fstat, close, stat of one file, by
  absolute path, and ``loop-rel`` by a relative one), ``tar-x`` (extract: mkdir, create, write, utimens,
  close), ``tar-c`` (archive: walk directories, open, read, close, write the archive) and ``find`` (open each
  directory, getdents, stat each entry, close). Every syscall the workload makes is offered, including those
  no rule and no state need asks for (they never leave the kernel).

The same streams are also judged with and without the prefilter (``service/prefilter_check``): the script fails
if a dropped event fired a rule or if the alerts differ.

Usage:  .venv/bin/python bench/prefilter_power.py [-r RULES ...] [--files N] [--no-captures]
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CAPTURES = REPO / ".." / "shared" / "anchors" / "falco" / "captures"
AT_FDCWD = -100
O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOCTTY, O_NONBLOCK = 0, 1, 0o100, 0o200, 0o400, 0o4000
O_DIRECTORY, O_NOFOLLOW, O_CLOEXEC = 0o200000, 0o400000, 0o2000000
BASE_TS = 1_700_000_000_000_000_000


class Workload:
    """One busy process's syscalls as raw exit events (what the probe sees), with the truth about directories."""

    def __init__(self, comm: str, exepath: str, cwd: str) -> None:
        from syswarden.events.event import ThreadInfo

        self.num = 0
        self.is_dir: dict[int, bool] = {}
        self.thread = ThreadInfo(tid=4242, pid=4242, ptid=1, comm=comm, exe=exepath, exepath=exepath, cwd=cwd,
                                 uid=1000, gid=1000, loginuid=1000)
        self.fd = 3

    def ev(self, etype: str, res: int, **params: object) -> object:
        from syswarden.events.event import Event

        self.num += 1
        return Event(self.num, BASE_TS + self.num * 1000, etype, 4242, dict(params), res=res, pid=4242)

    def open(self, name: str, flags: int, *, dirfd: int = AT_FDCWD, is_dir: bool = False) -> tuple[object, int]:
        fd, self.fd = self.fd, self.fd + 1
        event = self.ev("openat", fd, fd=fd, dirfd=dirfd, name=name, flags=flags, mode=0o644, dev=0, ino=0)
        self.is_dir[self.num] = is_dir
        return event, fd

    def close(self, fd: int) -> object:
        self.fd = min(self.fd, fd)
        return self.ev("close", 0, fd=fd)

    def returns_dir(self, event: object) -> bool | None:
        return self.is_dir.get(getattr(event, "num", 0))


def loop(files: int, relative: bool) -> tuple[Workload, Iterator[object]]:
    w = Workload("python3", "/usr/bin/python3.11", "/var/tmp/pf")
    name = "data.bin" if relative else "/var/tmp/pf/data.bin"

    def gen() -> Iterator[object]:
        for _ in range(files):
            event, fd = w.open(name, O_RDONLY | O_CLOEXEC)
            yield event
            yield w.ev("read", 4096, fd=fd, size=4096, data=b"")
            yield w.ev("fstat", 0, fd=fd)
            yield w.ev("read", 0, fd=fd, size=4096, data=b"")
            yield w.close(fd)
            yield w.ev("newfstatat", 0, dirfd=AT_FDCWD, path=name, flags=0)
    return w, gen()


def _tree(files: int) -> list[tuple[str, list[str]]]:
    per_dir = 20
    return [(f"proj/src/mod{d}", [f"f{k}.c" for k in range(per_dir)]) for d in range(max(1, files // per_dir))]


def tar_x(files: int) -> tuple[Workload, Iterator[object]]:
    w = Workload("tar", "/usr/bin/tar", "/home/u/build")

    def gen() -> Iterator[object]:
        archive, afd = w.open("/home/u/proj.tar", O_RDONLY | O_CLOEXEC)
        yield archive
        for directory, names in _tree(files):
            yield w.ev("mkdirat", 0, dirfd=AT_FDCWD, path=directory, mode=0o700)
            for name in names:
                yield w.ev("read", 10240, fd=afd, size=10240, data=b"")
                event, fd = w.open(f"{directory}/{name}", O_WRONLY | O_CREAT | O_EXCL | O_NOCTTY | O_NONBLOCK |
                                   O_CLOEXEC)
                yield event
                for _ in range(2):
                    yield w.ev("write", 4096, fd=fd, size=4096, data=b"")
                yield w.ev("utimensat", 0, dirfd=fd, path="", flags=0)
                yield w.close(fd)
            yield w.ev("utimensat", 0, dirfd=AT_FDCWD, path=directory, flags=0)
        yield w.close(afd)
    return w, gen()


def tar_c(files: int) -> tuple[Workload, Iterator[object]]:
    w = Workload("tar", "/usr/bin/tar", "/home/u")

    def gen() -> Iterator[object]:
        archive, afd = w.open("/tmp/proj.tar", O_WRONLY | O_CREAT | O_CLOEXEC)
        yield archive
        for directory, names in _tree(files):
            event, dfd = w.open(directory, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC |
                                O_DIRECTORY, is_dir=True)
            yield event
            yield w.ev("fstat", 0, fd=dfd)
            yield w.ev("getdents64", 600, fd=dfd)
            yield w.ev("getdents64", 0, fd=dfd)
            yield w.close(dfd)
            for name in names:
                yield w.ev("newfstatat", 0, dirfd=AT_FDCWD, path=f"{directory}/{name}", flags=0x100)
                event, fd = w.open(f"{directory}/{name}", O_RDONLY | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW |
                                   O_CLOEXEC)
                yield event
                yield w.ev("fstat", 0, fd=fd)
                yield w.ev("read", 4096, fd=fd, size=4096, data=b"")
                yield w.ev("read", 0, fd=fd, size=4096, data=b"")
                yield w.close(fd)
                yield w.ev("write", 10240, fd=afd, size=10240, data=b"")
        yield w.close(afd)
    return w, gen()


def find(files: int) -> tuple[Workload, Iterator[object]]:
    w = Workload("find", "/usr/bin/find", "/home/u")

    def gen() -> Iterator[object]:
        top, tfd = w.open("proj", O_RDONLY | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_DIRECTORY,
                          is_dir=True)
        yield top
        for directory, names in _tree(files):
            event, dfd = w.open(directory.split("/", 1)[1], O_RDONLY | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW |
                                O_CLOEXEC | O_DIRECTORY, dirfd=tfd, is_dir=True)
            yield event
            yield w.ev("fstat", 0, fd=dfd)
            yield w.ev("fcntl", dfd + 1, fd=dfd, cmd=1030, arg=3)
            yield w.ev("getdents64", 600, fd=dfd)
            for name in names:
                yield w.ev("newfstatat", 0, dirfd=dfd, path=name, flags=0x100)
            yield w.ev("getdents64", 0, fd=dfd)
            yield w.close(dfd + 1)
            yield w.close(dfd)
        yield w.close(tfd)
    return w, gen()


WORKLOADS = {"loop": lambda n: loop(n, False), "loop-rel": lambda n: loop(n, True), "tar-x": tar_x,
             "tar-c": tar_c, "find": find}


def report(title: str, seen: Counter[str], dropped: Counter[str], delivered_types: frozenset[str] | None) -> None:
    offered = sum(seen.values())
    sent = offered - sum(dropped.values())
    ratio = f"1 in {offered / sent:.1f}" if sent else "none"
    print(f"{title}: offered {offered}, delivered {sent} ({sent / offered:.1%}; {ratio})")
    for etype, count in sorted(seen.items(), key=lambda kv: -kv[1]):
        wanted = delivered_types is None or etype in delivered_types
        kept = count - dropped[etype]
        note = "" if wanted else "  (type not needed: never leaves the kernel)"
        print(f"    {etype:<14} {count:>7}  delivered {kept:>7}  dropped {1 - kept / count:>6.1%}{note}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-r", "--rules", action="append", help="rules file (repeatable; default: the stock rules)")
    parser.add_argument("--files", type=int, default=2000, help="files per synthetic workload")
    parser.add_argument("--no-captures", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "src"))
    from syswarden.rules import Selection, load_rules
    from syswarden.service.prefilter_check import StreamCheck, check_stream
    from syswarden.service.selection import select_events
    from syswarden.sources.base import SourceConfig

    files = args.rules or [str(REPO / "src" / "syswarden" / "rules" / "data" / "falco_rules.yaml")]
    result = load_rules(files)
    if result.ruleset is None:
        print(result.as_verbose(), file=sys.stderr)
        return 2
    ruleset = result.ruleset.select(Selection())
    prefilter = select_events(SourceConfig(), ruleset).prefilter
    assert prefilter is not None
    print(f"rules: {', '.join(Path(f).name for f in files)} ({len(ruleset.active)} active)")
    failures = 0
    if not args.no_captures and CAPTURES.is_dir():
        from syswarden.sources.scap.reader import ScapSource

        total = StreamCheck()
        for capture in sorted(CAPTURES.glob("*.scap")):
            src = ScapSource(SourceConfig(path=str(capture)))
            total.merge(check_stream(ruleset, prefilter, src.events(), src.initial_threads()))
        records = ("useradded", "userdeleted", "groupadded", "groupdeleted")     # capture metadata, no syscall
        wanted = Counter({t: n for t, n in total.seen.items()
                          if t in (prefilter.event_types or total.seen) and t not in records})
        report("16 captures, the types a run delivers", wanted, Counter({t: total.dropped[t] for t in wanted}), None)
        failures += len(total.unsound) + (total.full_alerts != total.kept_alerts)
    for name, make in WORKLOADS.items():
        workload, events = make(args.files)
        res = check_stream(ruleset, prefilter, events, [workload.thread], returns_dir=workload.returns_dir,
                           exit_only=True)
        report(name, res.seen, res.dropped, prefilter.event_types)
        failures += len(res.unsound) + (res.full_alerts != res.kept_alerts)
    if failures:
        print(f"UNSOUND: {failures} dropped events fired rules, or the alerts differ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
