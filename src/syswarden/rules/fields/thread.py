"""The ``thread.*`` field class: the calling thread's ids and capability sets.

Capability sets print as libsinsp prints them: the names of the set bits, low to high, space separated
(``CAP_CHOWN CAP_DAC_OVERRIDE ...``), so ``thread.cap_permitted contains CAP_SYS_ADMIN`` works as in Falco.
"""
from __future__ import annotations

from syswarden.rules.fields.model import Extractor, FieldSpec, FieldType
from syswarden.rules.fields.model import thread_field as _thread

# linux/capability.h, in bit order.
CAP_NAMES: tuple[str, ...] = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)


def caps_text(mask: int) -> str:
    """The names of the capabilities set in ``mask``, space separated."""
    return " ".join(name for bit, name in enumerate(CAP_NAMES) if mask >> bit & 1)




def _tid(_arg: str | None) -> Extractor:
    return lambda event: event.thread.tid if event.thread is not None else event.tid


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("thread.tid", FieldType.INT64, "Thread id.", _tid),
    FieldSpec("thread.vtid", FieldType.INT64, "Thread id in its pid namespace.", _thread(lambda t: t.vtid)),
    FieldSpec("thread.ismain", FieldType.BOOL, "true for the main thread of its process.",
              _thread(lambda t: t.tid == t.pid)),
    FieldSpec("thread.cap_effective", FieldType.CHARBUF, "Effective capabilities, by name.",
              _thread(lambda t: caps_text(t.cap_effective))),
    FieldSpec("thread.cap_permitted", FieldType.CHARBUF, "Permitted capabilities, by name.",
              _thread(lambda t: caps_text(t.cap_permitted))),
    FieldSpec("thread.cap_inheritable", FieldType.CHARBUF, "Inheritable capabilities, by name.",
              _thread(lambda t: caps_text(t.cap_inheritable))),
)
