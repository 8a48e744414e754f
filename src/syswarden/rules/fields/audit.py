"""The ``audit.*`` field class: facts only Linux audit events carry (``event.audit``, set by the audit source).

For events from any other source every ``audit.*`` field is ``<NA>``. ``audit.key`` holds every key of the
rules that matched (an audit rule may carry several: ``-k a -k b``); without an index a check on it is true
when any key passes, ``audit.key[0]`` is the first.
"""
from __future__ import annotations

from typing import Any

from syswarden.events.event import Event
from syswarden.rules.fields.model import ArgKind, Extractor, FieldSpec, FieldType


def _info(fn: Any) -> Any:
    def make(_arg: str | None) -> Extractor:
        def extract(event: Event) -> Any:
            info = event.audit
            return None if info is None else fn(info)
        return extract
    return make


def _keys(arg: str | None) -> Extractor:
    index = int(arg) if arg is not None else None

    def extract(event: Event) -> Any:
        info = event.audit
        if info is None or not info.keys:
            return None         # no key: <NA>, so "audit.key exists" means "a keyed rule matched"
        if index is None:
            return info.keys
        return info.keys[index] if index < len(info.keys) else None
    return extract


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("audit.key", FieldType.CHARBUF, "Keys of the audit rules that matched (-k); [N] is the Nth; without an "
              "index, any of them.", _keys, ArgKind.INDEX_OPTIONAL, multi_without_arg=True),
    FieldSpec("audit.auid", FieldType.INT64, "Audit login uid of the process (-1 when unset).",
              _info(lambda i: i.auid)),
    FieldSpec("audit.ses", FieldType.INT64, "Audit session id of the process (-1 when unset).",
              _info(lambda i: i.ses)),
    FieldSpec("audit.success", FieldType.BOOL, "Whether the syscall succeeded (the SYSCALL record's success=).",
              _info(lambda i: i.success)),
    FieldSpec("audit.action", FieldType.CHARBUF, "What happened, named as auditbeat names it (event.action): "
              "opened-file, executed, violated-seccomp-policy ...", _info(lambda i: i.action or None)),
    FieldSpec("audit.type", FieldType.CHARBUF, "Record type the event came from (SYSCALL, SECCOMP ...).",
              _info(lambda i: i.record_type)),
    FieldSpec("audit.serial", FieldType.UINT64, "Audit event serial number (the N of audit(T:N)).",
              _info(lambda i: i.serial)),
    FieldSpec("audit.node", FieldType.CHARBUF, "Node name of a log line written with node= (empty otherwise).",
              _info(lambda i: i.node)),
)
