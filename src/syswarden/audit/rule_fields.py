"""``-F name OP value`` and ``-C f1 OP f2``: the value rules of every field auditctl accepts, with its checks.

Numbers are read as auditctl's ``strtoul(v, NULL, 0)`` reads them (``0x`` hex, leading ``0`` octal) but the
whole value must be a number (auditctl silently stops at the first other character) and fit in 32 bits (it
truncates). Names resolve as auditctl resolves them: users and groups from this machine's databases, ``unset``
for the ids the kernel leaves unset, errno names for ``exit``, record type names for ``msgtype``.
"""
from __future__ import annotations

import errno as _errno
import grp
import pwd
import socket

from syswarden.audit.constants import (ARG_FIELDS, AUDIT_MAX_KEY_LEN, AUDIT_UNSET, COMPARISONS, EXCLUDE_FIELDS,
                                       EXIT_ONLY_FIELDS, FIELD_NAMES, FILE_TYPES, FS_TYPES, GID_FIELDS,
                                       OP_SEARCH_ORDER, PATH_MAX, PERM_BITS, STRING_FIELDS, UID_FIELDS, F, Filter,
                                       Op, record_types)
from syswarden.syscalls.arch import AUDIT_ARCH, Arch

U32 = 0xFFFFFFFF
AF_MAX = getattr(socket, "AF_MAX", 46)
EQ_NE = (Op.EQUAL, Op.NOT_EQUAL)

# auditctl's machine names (``uname -m`` spellings) -> our ABIs.
MACHINES: dict[str, Arch] = {
    "i386": Arch.I386, "i486": Arch.I386, "i586": Arch.I386, "i686": Arch.I386, "x86_64": Arch.X86_64,
    "aarch64": Arch.AARCH64, "armv8l": Arch.AARCH64, "arm": Arch.ARM, "armeb": Arch.ARM, "armv5tejl": Arch.ARM,
    "armv5tel": Arch.ARM, "armv6l": Arch.ARM, "armv7l": Arch.ARM, "s390x": Arch.S390X, "ppc64le": Arch.PPC64LE,
}
# The 32-bit ABI of each 64-bit machine (``-F arch=b32``).
COMPAT: dict[Arch, Arch] = {Arch.X86_64: Arch.I386, Arch.AARCH64: Arch.ARM}


class FieldError(ValueError):
    """A field that cannot be built; ``offset`` is where in the ``-F`` argument the problem starts."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.offset = offset


class UnknownNameError(FieldError):
    """A user or group name this machine does not know (the rule may still be right for another machine)."""


def parse_number(text: str) -> int | None:
    """``strtol(text, NULL, 0)`` over the whole text, or None when it is not entirely a number."""
    sign = -1 if text.startswith("-") else 1
    body = text[1:] if text[:1] in "+-" else text
    try:
        if body[:2].lower() == "0x":
            value = int(body[2:], 16) if body[2:] else None
        elif len(body) > 1 and body.startswith("0"):
            value = int(body[1:], 8)
        else:
            value = int(body, 10) if body.isdigit() else None
    except ValueError:
        return None
    return None if value is None else sign * value


def u32(value: int, what: str) -> int:
    """The 32-bit word the kernel stores for ``value`` (negative numbers as two's complement)."""
    if not -(1 << 31) <= value <= U32:
        raise FieldError(f"{what} value {value} does not fit in 32 bits")
    return value & U32


def split_pair(pair: str) -> tuple[str, Op, str, int]:
    """``name OP value`` -> (name, op, value, offset of the value); auditctl's operator search."""
    for symbol, op in OP_SEARCH_ORDER:
        at = pair.find(symbol)
        if at >= 0:
            return pair[:at], op, pair[at + len(symbol):], at + len(symbol)
    raise FieldError(f"missing operator in {pair!r}; expected name=value (or != < > <= >= & &=)")


def resolve_arch(text: str, native: Arch) -> Arch:
    """``b64``/``b32`` (the machine's 64-bit ABI and its compat one), a machine name, or an ``AUDIT_ARCH`` number."""
    key = text.lower()
    if key == "b64":
        if native in COMPAT.values():
            raise FieldError(f"b64 requested on a 32-bit machine ({native.value})")
        return native
    if key == "b32":
        compat = COMPAT.get(native, native if native in COMPAT.values() else None)
        if compat is None:
            raise FieldError(f"no 32-bit ABI on {native.value}")
        return compat
    if key in MACHINES:
        return MACHINES[key]
    if text[:1].isdigit():
        number = parse_number(text)
        for arch, value in AUDIT_ARCH.items():
            if number == value and arch is not Arch.X32:
                return arch
        raise FieldError(f"no architecture has AUDIT_ARCH value {text}")
    raise FieldError(f"unknown architecture {text!r}; expected b64, b32, a machine name (x86_64, i386, aarch64 ..."
                     ") or an AUDIT_ARCH number")


def _user(value: str, what: str) -> int:
    number = parse_number(value)
    if number is not None and (value[:1].isdigit() or (value.startswith("-") and value[1:2].isdigit())):
        return u32(number, what)
    if value == "unset":
        return AUDIT_UNSET
    try:
        return pwd.getpwnam(value).pw_uid
    except KeyError:
        raise UnknownNameError(f"unknown user {value!r}; expected a uid, a user name of this machine or unset"
                               ) from None


def _group(value: str, what: str) -> int:
    if value[:1].isdigit():
        number = parse_number(value)
        if number is None:
            raise FieldError(f"{what} value should be a number, not {value!r}")
        return u32(number, what)
    try:
        return grp.getgrnam(value).gr_gid
    except KeyError:
        raise UnknownNameError(f"unknown group {value!r}; expected a gid or a group name of this machine"
                               ) from None


def _signed_number(value: str, what: str) -> int:
    if value[:1].isdigit() or (value.startswith("-") and value[1:2].isdigit()):
        number = parse_number(value)
        if number is not None:
            return u32(number, what)
    raise FieldError(f"{what} value should be a number, not {value!r}")


def _exit(value: str) -> int:
    if value[:1].isdigit() or (value.startswith("-") and value[1:2].isdigit()):
        return _signed_number(value, "exit")
    name = value[1:] if value.startswith("-") else value
    code = getattr(_errno, name, None) if name.startswith("E") and name.isupper() else None
    if not isinstance(code, int):
        raise FieldError(f"unknown errno {value!r}; expected a number or a name such as -EACCES")
    return u32(-code if value.startswith("-") else code, "exit")


def _perm(value: str) -> int:
    if len(value) > 4:
        raise FieldError(f"permission {value!r} is too long; expected up to four of r, w, x, a")
    bits = 0
    for i, ch in enumerate(value.lower()):
        if ch not in PERM_BITS:
            raise FieldError(f"permission {ch!r} is not one of r, w, x, a", i)
        bits |= PERM_BITS[ch]
    return bits


def check_filter(field: F, op: Op, flt: Filter) -> None:
    """Which lists and operators each field may use (auditctl's checks, in its order)."""
    if flt is Filter.EXCLUDE and field not in EXCLUDE_FIELDS:
        raise FieldError("only msgtype, pid, uid, gid, auid, subj_* and exe can be used with the exclude list")
    if field in EXIT_ONLY_FIELDS and flt is not Filter.EXIT:
        raise FieldError("can only be used with the exit list")
    if field is F.MSGTYPE and flt not in (Filter.EXCLUDE, Filter.USER):
        raise FieldError("msgtype can only be used with the exclude or user list")
    if field is F.SESSIONID and flt not in (Filter.EXCLUDE, Filter.USER, Filter.EXIT):
        raise FieldError("sessionid must be used with the exclude, user or exit list")
    if field is F.FSTYPE and flt is not Filter.FS:
        raise FieldError("fstype is only valid on the filesystem list")
    if field in (F.EXE, F.ARCH, F.FSTYPE, F.INODE) and op not in EQ_NE:
        raise FieldError(f"{_display(field)} only takes = or != operators")
    if field is F.PERM and op is not Op.EQUAL:
        raise FieldError("perm only takes the = operator")


def _display(field: F) -> str:
    return next(name for name, f in FIELD_NAMES.items() if f is field)


def field_value(field: F, value: str, native: Arch) -> tuple[int, str | None]:
    """(32-bit value, string) for ``-F field OP value``; arch is resolved by the caller (it changes -S)."""
    what = _display(field)
    if field in STRING_FIELDS:
        limit = AUDIT_MAX_KEY_LEN if field is F.FILTERKEY else PATH_MAX
        if len(value.encode("utf-8", "surrogateescape")) > limit:
            raise FieldError(f"{what} value is longer than {limit} bytes")
        return 0, value
    if field in UID_FIELDS:
        return _user(value, what), None
    if field in GID_FIELDS:
        return _group(value, what), None
    if field is F.EXIT:
        return _exit(value), None
    if field is F.MSGTYPE:
        if value[:1].isdigit():
            return _signed_number(value, what), None
        number = record_types().get(value)
        if number is None:
            raise FieldError(f"unknown record type {value!r}; expected a number or a name such as SYSCALL")
        return number, None
    if field is F.PERM:
        return _perm(value), None
    if field is F.FILETYPE:
        if value not in FILE_TYPES:
            raise FieldError(f"unknown file type {value!r}; expected one of: {', '.join(FILE_TYPES)}")
        return FILE_TYPES[value], None
    if field is F.FSTYPE:
        if value[:1].isdigit():
            return _signed_number(value, what), None
        if value not in FS_TYPES:
            raise FieldError(f"unknown file system type {value!r}; expected one of: {', '.join(FS_TYPES)}")
        return FS_TYPES[value], None
    if field in ARG_FIELDS:
        return _signed_number(value, what), None
    if field is F.SESSIONID:
        return (AUDIT_UNSET, None) if value == "unset" else (_signed_number(value, what), None)
    if field is F.SADDR_FAM:
        number = _signed_number(value, what)
        if number >= AF_MAX:
            raise FieldError(f"saddr_fam {number} is not an address family (AF_MAX is {AF_MAX})")
        return number, None
    if not value[:1].isdigit():
        raise FieldError(f"{what} value should be a number, not {value!r}")
    return _signed_number(value, what), None


def comparison(pair: str, flt: Filter | None) -> tuple[Op, int]:
    """``-C f1=f2`` / ``-C f1!=f2`` -> (op, AUDIT_COMPARE_* code)."""
    if "!=" in pair:
        left, _, right = pair.partition("!=")
        op = Op.NOT_EQUAL
    elif "=" in pair:
        left, _, right = pair.partition("=")
        op = Op.EQUAL
    else:
        raise FieldError(f"-C {pair!r} only takes = or != operators")
    if not left or not right:
        raise FieldError(f"-C {pair!r}: expected field=field, e.g. auid!=obj_uid")
    first, second = FIELD_NAMES.get(left), FIELD_NAMES.get(right)
    if first is None:
        raise FieldError(f"-C unknown field {left!r}")
    if second is None:
        raise FieldError(f"-C unknown field {right!r}", len(left) + len(op.symbol))
    if flt is not Filter.EXIT:
        raise FieldError("-C can only be used with the exit list")
    code = COMPARISONS.get(frozenset((first, second)))
    if code is None:
        raise FieldError(f"-C cannot compare {left} with {right}; expected two uid fields or two gid fields")
    return op, code
