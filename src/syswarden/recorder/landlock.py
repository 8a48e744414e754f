"""The Landlock part of a recorded policy: the files a run touched, collapsed to a few directories, and the TCP
ports it bound and connected, as the Landlock model (``policy/landlock.py``: ``landlock:`` in our YAML).

Collapsing (which side each step errs on is said with it):
1. Per-process and per-terminal names are generalized: ``/proc/1234/...`` and ``/proc/self/...`` -> ``/proc``,
   ``/dev/pts/3`` -> ``/dev/pts`` (the next run has other pids and terminals; looser).
2. A file read, mapped or executed gives its rights to its directory (a library directory, not each .so; looser);
   a file written keeps its own rule (writing ``/tmp/out.tar`` grants nothing else in ``/tmp``); a directory
   where entries were created or removed gets ``write`` (Landlock's make/remove rights live on the directory).
3. Sibling directories holding the same rights merge into their parent when there are ``SIBLINGS`` or more of
   them, never into a directory shallower than ``MIN_DEPTH`` (300 files under ``/usr/lib/...`` give ``/usr/lib``,
   never ``/usr`` or ``/``; looser, bounded).
4. Ports: exactly those seen; an empty list still denies every port (``bind: []``).
A directory listed (``ls DIR``) needs Landlock's read right on it, which also reads the files beneath it: the
model has no "list only" right (looser; docs/recorder.md).
"""
from __future__ import annotations

import os
import re

from syswarden.policy.landlock import FsRight, LandlockSpec, PathRule
from syswarden.recorder.recording import Access, Recording

SIBLINGS = 2
MIN_DEPTH = 2
_GENERALIZED = ((re.compile(r"^/proc/(?:\d+|self|thread-self)(?:/.*)?$"), "/proc"),
                (re.compile(r"^/dev/pts/\d+$"), "/dev/pts"))
# Access -> the right names of the landlock: section (policy.landlock.FsRight values). The kernel opens a program
# (and its ELF interpreter) for reading to execute it, and Landlock asks for read_file and execute both.
_ON_FILE = ((Access.READ, "read"), (Access.EXECUTE, "read"), (Access.EXECUTE, "execute"), (Access.WRITE, "write"),
            (Access.TRUNCATE, "truncate"), (Access.DEVICE, "ioctl_dev"))
_ON_DIR = ((Access.LIST, "read"), (Access.CREATE, "write"), (Access.MAKE_DIR, "make_dir"),
           (Access.REMOVE_DIR, "remove_dir"))


def _generalize(path: str) -> str:
    for pattern, replacement in _GENERALIZED:
        if pattern.match(path):
            return replacement
    return path


def _depth(path: str) -> int:
    return len([p for p in path.split("/") if p])


def path_rules(files: dict[str, Access]) -> dict[str, frozenset[str]]:
    """path -> right names, collapsed (module docstring)."""
    rules: dict[str, set[str]] = {}
    for raw, access in files.items():
        path = _generalize(raw)
        file_rights = {name for bit, name in _ON_FILE if access & bit}
        dir_rights = {name for bit, name in _ON_DIR if access & bit}
        if dir_rights or path in ("/proc", "/dev/pts"):
            rules.setdefault(path, set()).update(dir_rights | file_rights)
            continue
        written = file_rights & {"write", "truncate", "ioctl_dev"}
        if written:
            rules.setdefault(path, set()).update(file_rights)
            continue
        parent = os.path.dirname(path)
        target = parent if _depth(parent) >= 1 else path
        rules.setdefault(target, set()).update(file_rights)
    return _collapse({p: frozenset(r) for p, r in rules.items() if r})


def _collapse(rules: dict[str, frozenset[str]]) -> dict[str, frozenset[str]]:
    changed = True
    while changed:
        changed = False
        by_parent: dict[tuple[str, frozenset[str]], list[str]] = {}
        for path, rights in rules.items():
            parent = os.path.dirname(path)
            if _depth(parent) >= MIN_DEPTH and not rights & {"write", "truncate", "ioctl_dev"}:
                by_parent.setdefault((parent, rights), []).append(path)
        for (parent, rights), children in sorted(by_parent.items()):
            if len(children) >= SIBLINGS:
                for child in children:
                    rules.pop(child, None)
                rules[parent] = rules.get(parent, frozenset()) | rights
                changed = True
                break
    return _drop_covered(rules)


def _drop_covered(rules: dict[str, frozenset[str]]) -> dict[str, frozenset[str]]:
    """A rule whose rights an ancestor's rule already grants adds nothing (Landlock rights inherit downwards)."""
    out = {}
    for path, rights in rules.items():
        ancestors = [a for a in rules if a != path and (path.startswith(a.rstrip("/") + "/"))]
        if not any(rights <= rules[a] for a in ancestors):
            out[path] = rights
    return out


def section(recording: Recording, existing: LandlockSpec | None = None) -> LandlockSpec:
    """The Landlock part of the policy, united with an existing policy's when merging."""
    rules = path_rules(recording.files)
    bind, connect = set(recording.bind_ports), set(recording.connect_ports)
    spec = LandlockSpec(tuple(PathRule(path, frozenset(FsRight(r) for r in rights))
                              for path, rights in sorted(rules.items())),
                        tuple(sorted(bind)), tuple(sorted(connect)), "recorded")
    return spec if existing is None else existing.merged(spec)
