"""``AuditRule`` <-> ``struct audit_rule_data``, the payload of AUDIT_ADD_RULE, AUDIT_DEL_RULE and the kernel's
AUDIT_LIST_RULES replies (``include/uapi/linux/audit.h``)::

    u32 flags (list | AUDIT_FILTER_PREPEND), action, field_count;
    u32 mask[64], fields[64], values[64], fieldflags[64];
    u32 buflen; char buf[buflen];        string values, concatenated; values[i] holds each one's length

Native byte order (the kernel's). ``decode`` is the inverse for what the kernel lists, and refuses anything
inconsistent (a hostile or truncated reply must not become a rule).
"""
from __future__ import annotations

import struct

from syswarden.audit.constants import (AUDIT_BITMASK_SIZE, AUDIT_MAX_FIELDS, FILTER_PREPEND, OPERATORS_MASK,
                                       STRING_FIELDS, Action, F, Filter, Op)
from syswarden.audit.rule_model import AuditRule, RuleField

_HEAD = struct.Struct(f"=III{AUDIT_BITMASK_SIZE}I")
_ARRAYS = struct.Struct(f"={AUDIT_MAX_FIELDS}I")
_BUFLEN = struct.Struct("=I")
SIZE = _HEAD.size + 3 * _ARRAYS.size + _BUFLEN.size          # 1040: the struct without its buffer
_FILTER_MASK = 0x07


class RuleDecodeError(ValueError):
    """Bytes that are not a well-formed ``audit_rule_data``."""


def _text_bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def encode(rule: AuditRule) -> bytes:
    """The ``audit_rule_data`` bytes for ``rule`` (without netlink's padding to 4 bytes)."""
    if len(rule.fields) > AUDIT_MAX_FIELDS:
        raise ValueError(f"a rule holds at most {AUDIT_MAX_FIELDS} fields")
    fields = [0] * AUDIT_MAX_FIELDS
    values = [0] * AUDIT_MAX_FIELDS
    flags = [0] * AUDIT_MAX_FIELDS
    buf = bytearray()
    for i, f in enumerate(rule.fields):
        fields[i], flags[i] = int(f.field), int(f.op)
        if f.field in STRING_FIELDS:
            data = _text_bytes(f.text or "")
            values[i] = len(data)
            buf += data
        elif f.text is not None:
            raise ValueError(f"field {f.field.name.lower()} holds the unresolved name {f.text!r}")
        else:
            values[i] = f.value & 0xFFFFFFFF
    head = _HEAD.pack(int(rule.filter) | (FILTER_PREPEND if rule.prepend else 0), int(rule.action),
                      len(rule.fields), *rule.mask)
    return b"".join((head, _ARRAYS.pack(*fields), _ARRAYS.pack(*values), _ARRAYS.pack(*flags),
                     _BUFLEN.pack(len(buf)), bytes(buf)))


def decode(data: bytes) -> AuditRule:
    """The rule in ``data`` (trailing padding allowed). Raises ``RuleDecodeError`` on anything malformed."""
    if len(data) < SIZE:
        raise RuleDecodeError(f"{len(data)} bytes is shorter than audit_rule_data ({SIZE})")
    head = _HEAD.unpack_from(data)
    flags, action, count, mask = head[0], head[1], head[2], head[3:]
    if count > AUDIT_MAX_FIELDS:
        raise RuleDecodeError(f"field_count {count} exceeds {AUDIT_MAX_FIELDS}")
    off = _HEAD.size
    fields = _ARRAYS.unpack_from(data, off)
    values = _ARRAYS.unpack_from(data, off + _ARRAYS.size)
    ops = _ARRAYS.unpack_from(data, off + 2 * _ARRAYS.size)
    (buflen,) = _BUFLEN.unpack_from(data, off + 3 * _ARRAYS.size)
    buf = data[SIZE:SIZE + buflen]
    if len(buf) != buflen:
        raise RuleDecodeError(f"buflen {buflen} runs past the {len(data) - SIZE} bytes after the struct")
    try:
        flt = Filter(flags & _FILTER_MASK)
        act = Action(action)
    except ValueError:
        raise RuleDecodeError(f"unknown list {flags & _FILTER_MASK} or action {action}") from None
    out: list[RuleField] = []
    pos = 0
    for i in range(count):
        number = fields[i] & ~OPERATORS_MASK & 0xFFFFFFFF
        try:
            field = F(number)
            op = Op(ops[i] & OPERATORS_MASK)
        except ValueError:
            raise RuleDecodeError(f"field {i}: unknown field {number} or operator {ops[i]:#x}") from None
        if field in STRING_FIELDS:
            end = pos + values[i]
            if end > buflen:
                raise RuleDecodeError(f"field {i}: string of {values[i]} bytes runs past buflen {buflen}")
            out.append(RuleField(field, op, 0, buf[pos:end].decode("utf-8", "surrogateescape")))
            pos = end
        else:
            out.append(RuleField(field, op, values[i]))
    return AuditRule(flt, act, tuple(mask), tuple(out), bool(flags & FILTER_PREPEND))


def padded(data: bytes) -> bytes:
    """``data`` padded to 4 bytes, as netlink carries (and lists) every payload."""
    return data + b"\0" * (-len(data) % 4)
