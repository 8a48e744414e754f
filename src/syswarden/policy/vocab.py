"""The words policies are written with: action names, errno names, comparison operators and filter flags,
shared by every format so ``errno(EPERM)``, ``SCMP_ACT_ERRNO`` + ``errnoRet: 1`` and ``errno`` mean one thing.
"""
from __future__ import annotations

import errno as _errno
import re

from syswarden.policy.model import Action, ActionKind, Op

# Native spellings of the action kinds (lower case, as written in YAML).
ACTION_NAMES: dict[str, ActionKind] = {
    "allow": ActionKind.ALLOW,
    "errno": ActionKind.ERRNO,
    "kill_process": ActionKind.KILL_PROCESS,
    "kill_thread": ActionKind.KILL_THREAD,
    "trap": ActionKind.TRAP,
    "trace": ActionKind.TRACE,
    "log": ActionKind.LOG,
    "notify": ActionKind.NOTIFY,
}
# Kinds whose 16-bit data is meaningful and is written in parentheses.
WITH_DATA = (ActionKind.ERRNO, ActionKind.TRACE)

OP_NAMES: dict[str, Op] = {op.value: op for op in Op}

# seccomp(2) filter flags by their short name, with the SECCOMP_FILTER_FLAG_* name the OCI spec uses.
FLAGS: dict[str, str] = {
    "tsync": "SECCOMP_FILTER_FLAG_TSYNC",
    "log": "SECCOMP_FILTER_FLAG_LOG",
    "spec_allow": "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "new_listener": "SECCOMP_FILTER_FLAG_NEW_LISTENER",
    "tsync_esrch": "SECCOMP_FILTER_FLAG_TSYNC_ESRCH",
    "wait_killable_recv": "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
}
FLAG_OF_OCI: dict[str, str] = {oci: short for short, oci in FLAGS.items()}

_CALL = re.compile(r"^\s*([a-z_]+)\s*(?:\(\s*([A-Za-z0-9_]+)\s*\))?\s*$")


def errno_number(text: str | int) -> int | None:
    """``EPERM`` / ``eperm`` / ``1`` / ``0x1`` -> 1; None when it names no errno or is out of 0..0xffff."""
    if isinstance(text, int):
        return text if 0 <= text <= 0xFFFF else None
    word = text.strip()
    if word.upper().startswith("E") and word.isalnum():
        value = getattr(_errno, word.upper(), None)
        return value if isinstance(value, int) else None
    try:
        value = int(word, 0)
    except ValueError:
        return None
    return value if 0 <= value <= 0xFFFF else None


def errno_name(number: int) -> str | None:
    """The symbolic name of an errno number (``1`` -> ``EPERM``)."""
    return _errno.errorcode.get(number)


def parse_action(text: str, data: str | int | None = None) -> Action | None:
    """``allow``, ``errno(EPERM)``, ``errno(13)``, ``trace(5)``, ``kill_process``; ``data`` is the value of
    the mapping form ``{errno: EPERM}``. Returns None if ``text`` is not an action (callers say what was
    expected). ``errno`` without data means EPERM."""
    m = _CALL.match(text.lower() if data is None else text.strip().lower())
    if not m or m.group(1) not in ACTION_NAMES:
        return None
    kind = ACTION_NAMES[m.group(1)]
    arg: str | int | None = m.group(2) if data is None else data
    if kind not in WITH_DATA:
        return Action(kind) if arg is None else None
    if arg is None:
        return Action(kind, _errno.EPERM if kind is ActionKind.ERRNO else 0)
    value = errno_number(arg)
    return None if value is None else Action(kind, value)


def format_action(action: Action) -> str:
    """The native spelling: ``errno(EPERM)`` when the errno has a name, else ``errno(1234)``."""
    name = next(k for k, v in ACTION_NAMES.items() if v is action.kind)
    if action.kind is ActionKind.ERRNO:
        return f"{name}({errno_name(action.data) or action.data})"
    if action.kind is ActionKind.TRACE:
        return f"{name}({action.data})"
    return name


ACTION_EXPECTED = "allow, errno(N|ENAME), kill_process, kill_thread, trap, trace(N), log or notify"
