"""The kernel's audit ABI as data: filter lists, actions, operators, rule fields, comparisons, record types.

Numbers are the kernel's (``include/uapi/linux/audit.h``); names are the ones auditctl reads and prints
(audit-userspace 3.0.9 ``lib/*tab.h``). Record type names come from ``data/record_types.tsv`` (generated from
libaudit by ``tools/gen_audit_tables.py``).
"""
from __future__ import annotations

import enum
import os
from functools import cache
from types import MappingProxyType

AUDIT_MAX_FIELDS = 64
AUDIT_MAX_KEY_LEN = 256
AUDIT_BITMASK_SIZE = 64                 # 32-bit words of the syscall mask: 2048 syscall bits
AUDIT_SYSCALL_CLASSES = 16              # the top 16 mask bits name syscall classes; the kernel clears them
KEY_SEPARATOR = "\x01"                  # several keys of one rule share one string, joined by 0x01
PATH_MAX = 4096
NAME_MAX = 255
FILTER_PREPEND = 0x10                   # -A: insert at the head of the list
AUDIT_UNSET = 4294967295                # an unset auid or session id
ARCH_64BIT = 0x80000000                 # __AUDIT_ARCH_64BIT in an AUDIT_ARCH_* value


class Filter(enum.IntEnum):
    """The rule lists (``-a LIST,ACTION``)."""

    USER = 0
    TASK = 1
    ENTRY = 2           # obsolete: the kernel refuses it
    WATCH = 3           # internal
    EXIT = 4
    EXCLUDE = 5
    FS = 6

    @property
    def keyword(self) -> str:
        return FILTER_KEYWORDS[self]


FILTERS: dict[str, Filter] = {"exit": Filter.EXIT, "task": Filter.TASK, "user": Filter.USER,
                              "exclude": Filter.EXCLUDE, "filesystem": Filter.FS}
FILTER_KEYWORDS: dict[Filter, str] = {v: k for k, v in FILTERS.items()} | {Filter.ENTRY: "entry"}


class Action(enum.IntEnum):
    NEVER = 0
    POSSIBLE = 1        # deprecated: auditctl refuses it
    ALWAYS = 2


ACTIONS: dict[str, Action] = {"never": Action.NEVER, "always": Action.ALWAYS, "possible": Action.POSSIBLE}


class Op(enum.IntEnum):
    """Field operators (``fieldflags``)."""

    BIT_MASK = 0x08000000         # &   (value & x) != 0
    LESS_THAN = 0x10000000        # <
    GREATER_THAN = 0x20000000     # >
    NOT_EQUAL = 0x30000000        # !=
    EQUAL = 0x40000000            # =
    BIT_TEST = 0x48000000         # &=  (value & x) == x
    LESS_EQUAL = 0x50000000       # <=
    GREATER_EQUAL = 0x60000000    # >=

    @property
    def symbol(self) -> str:
        return OP_SYMBOLS[self]


OP_SYMBOLS: dict[Op, str] = {Op.EQUAL: "=", Op.NOT_EQUAL: "!=", Op.LESS_THAN: "<", Op.GREATER_THAN: ">",
                             Op.LESS_EQUAL: "<=", Op.GREATER_EQUAL: ">=", Op.BIT_MASK: "&", Op.BIT_TEST: "&="}
# auditctl finds the operator by searching the whole "-F" argument for these, in this order (2-char first).
OP_SEARCH_ORDER: tuple[tuple[str, Op], ...] = (("!=", Op.NOT_EQUAL), (">=", Op.GREATER_EQUAL),
                                               ("<=", Op.LESS_EQUAL), ("&=", Op.BIT_TEST), ("=", Op.EQUAL),
                                               (">", Op.GREATER_THAN), ("<", Op.LESS_THAN), ("&", Op.BIT_MASK))
OPERATORS_MASK = 0x78000000          # AUDIT_OPERATORS: the operator bits of a fieldflags word


class F(enum.IntEnum):
    """Rule field numbers (``AUDIT_*`` field ids)."""

    PID = 0
    UID = 1
    EUID = 2
    SUID = 3
    FSUID = 4
    GID = 5
    EGID = 6
    SGID = 7
    FSGID = 8
    LOGINUID = 9
    PERS = 10
    ARCH = 11
    MSGTYPE = 12
    SUBJ_USER = 13
    SUBJ_ROLE = 14
    SUBJ_TYPE = 15
    SUBJ_SEN = 16
    SUBJ_CLR = 17
    PPID = 18
    OBJ_USER = 19
    OBJ_ROLE = 20
    OBJ_TYPE = 21
    OBJ_LEV_LOW = 22
    OBJ_LEV_HIGH = 23
    LOGINUID_SET = 24
    SESSIONID = 25
    FSTYPE = 26
    DEVMAJOR = 100
    DEVMINOR = 101
    INODE = 102
    EXIT = 103
    SUCCESS = 104
    WATCH = 105
    PERM = 106
    DIR = 107
    FILETYPE = 108
    OBJ_UID = 109
    OBJ_GID = 110
    FIELD_COMPARE = 111
    EXE = 112
    SADDR_FAM = 113
    ARG0 = 200
    ARG1 = 201
    ARG2 = 202
    ARG3 = 203
    FILTERKEY = 210


# The names auditctl 3.0.9 accepts after -F (``loginuid`` is a synonym of ``auid``; ``loginuid_set`` is newer
# than 3.0.9 and so is not accepted, as there).
FIELD_NAMES: dict[str, F] = {
    "pid": F.PID, "uid": F.UID, "euid": F.EUID, "suid": F.SUID, "fsuid": F.FSUID, "gid": F.GID, "egid": F.EGID,
    "sgid": F.SGID, "fsgid": F.FSGID, "auid": F.LOGINUID, "loginuid": F.LOGINUID, "pers": F.PERS, "arch": F.ARCH,
    "msgtype": F.MSGTYPE, "subj_user": F.SUBJ_USER, "subj_role": F.SUBJ_ROLE, "subj_type": F.SUBJ_TYPE,
    "subj_sen": F.SUBJ_SEN, "subj_clr": F.SUBJ_CLR, "ppid": F.PPID, "obj_user": F.OBJ_USER,
    "obj_role": F.OBJ_ROLE, "obj_type": F.OBJ_TYPE, "obj_lev_low": F.OBJ_LEV_LOW, "obj_lev_high": F.OBJ_LEV_HIGH,
    "sessionid": F.SESSIONID, "devmajor": F.DEVMAJOR, "devminor": F.DEVMINOR, "inode": F.INODE, "exit": F.EXIT,
    "success": F.SUCCESS, "path": F.WATCH, "perm": F.PERM, "dir": F.DIR, "filetype": F.FILETYPE,
    "fstype": F.FSTYPE, "obj_uid": F.OBJ_UID, "obj_gid": F.OBJ_GID, "field_compare": F.FIELD_COMPARE,
    "a0": F.ARG0, "a1": F.ARG1, "a2": F.ARG2, "a3": F.ARG3, "key": F.FILTERKEY, "exe": F.EXE,
    "saddr_fam": F.SADDR_FAM,
}
# The name auditctl prints for each field number (the first name in its table).
FIELD_LISTING_NAME: dict[int, str] = {}
for _name, _num in FIELD_NAMES.items():
    FIELD_LISTING_NAME.setdefault(int(_num), _name)

UID_FIELDS = frozenset({F.UID, F.EUID, F.SUID, F.FSUID, F.LOGINUID, F.OBJ_UID})
GID_FIELDS = frozenset({F.GID, F.EGID, F.SGID, F.FSGID, F.OBJ_GID})
# Fields whose value is a string carried in the rule's buffer (``values[i]`` is then its length).
STRING_FIELDS = frozenset({F.SUBJ_USER, F.SUBJ_ROLE, F.SUBJ_TYPE, F.SUBJ_SEN, F.SUBJ_CLR, F.OBJ_USER,
                           F.OBJ_ROLE, F.OBJ_TYPE, F.OBJ_LEV_LOW, F.OBJ_LEV_HIGH, F.WATCH, F.DIR, F.FILTERKEY,
                           F.EXE})
ARG_FIELDS = frozenset({F.ARG0, F.ARG1, F.ARG2, F.ARG3})
# Fields only the exit list can use (auditctl: "can only be used with exit filter list").
EXIT_ONLY_FIELDS = frozenset({F.OBJ_USER, F.OBJ_ROLE, F.OBJ_TYPE, F.OBJ_LEV_LOW, F.OBJ_LEV_HIGH, F.WATCH,
                              F.DIR, F.PERM, F.FILETYPE, F.DEVMAJOR, F.DEVMINOR, F.INODE, F.SUCCESS, F.EXIT,
                              F.PPID})
# Fields the exclude list accepts on kernels with AUDIT_FEATURE_BITMAP_EXCLUDE_EXTEND (every kernel since 4.15).
EXCLUDE_FIELDS = frozenset({F.PID, F.UID, F.GID, F.LOGINUID, F.MSGTYPE, F.SUBJ_USER, F.SUBJ_ROLE, F.SUBJ_TYPE,
                            F.SUBJ_SEN, F.SUBJ_CLR, F.EXE})

PERM_BITS: dict[str, int] = {"r": 4, "w": 2, "x": 1, "a": 8}
PERM_ORDER = "rwxa"                      # the order auditctl lists permissions in

FILE_TYPES: dict[str, int] = {"socket": 0o140000, "link": 0o120000, "file": 0o100000, "block": 0o060000,
                              "dir": 0o040000, "character": 0o020000, "fifo": 0o010000}
FS_TYPES: dict[str, int] = {"tracefs": 0x74726163, "debugfs": 0x64626720}

# -C comparisons: the unordered pair of fields -> AUDIT_COMPARE_* code.
COMPARISONS: dict[frozenset[F], int] = {frozenset(pair): code for pair, code in (
    ((F.UID, F.OBJ_UID), 1), ((F.GID, F.OBJ_GID), 2), ((F.EUID, F.OBJ_UID), 3), ((F.EGID, F.OBJ_GID), 4),
    ((F.LOGINUID, F.OBJ_UID), 5), ((F.SUID, F.OBJ_UID), 6), ((F.SGID, F.OBJ_GID), 7), ((F.FSUID, F.OBJ_UID), 8),
    ((F.FSGID, F.OBJ_GID), 9), ((F.UID, F.LOGINUID), 10), ((F.UID, F.EUID), 11), ((F.UID, F.FSUID), 12),
    ((F.UID, F.SUID), 13), ((F.LOGINUID, F.FSUID), 14), ((F.LOGINUID, F.SUID), 15), ((F.LOGINUID, F.EUID), 16),
    ((F.EUID, F.SUID), 17), ((F.EUID, F.FSUID), 18), ((F.SUID, F.FSUID), 19), ((F.GID, F.EGID), 20),
    ((F.GID, F.FSGID), 21), ((F.GID, F.SGID), 22), ((F.EGID, F.FSGID), 23), ((F.EGID, F.SGID), 24),
    ((F.SGID, F.FSGID), 25))}
# How auditctl lists each comparison (its own fixed spelling, whatever order the rule was written in).
COMPARISON_LISTING: dict[int, str] = {
    1: "uid%sobj_uid", 2: "gid%sobj_gid", 3: "euid%sobj_uid", 4: "egid%sobj_gid", 5: "auid%sobj_uid",
    6: "suid%sobj_uid", 7: "sgid%sobj_gid", 8: "fsuid%sobj_uid", 9: "fsgid%sobj_gid", 10: "uid%sauid",
    11: "uid%seuid", 12: "uid%sfsuid", 13: "uid%ssuid", 14: "auid%sfsuid", 15: "auid%ssuid", 16: "auid%seuid",
    17: "euid%ssuid", 18: "euid%sfsuid", 19: "suid%sfsuid", 20: "gid%segid", 21: "gid%sfsgid", 22: "gid%ssgid",
    23: "egid%sfsgid", 24: "egid%ssgid", 25: "sgid%sfsgid"}


def data_text(name: str) -> str:
    path = os.path.join(os.path.dirname(__file__), "data", name)
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    from importlib import resources
    return resources.files("syswarden.audit").joinpath("data", name).read_text()


@cache
def record_types() -> MappingProxyType[str, int]:
    """Record type name (``SYSCALL``) -> number (1300)."""
    rows = {}
    for line in data_text("record_types.tsv").splitlines():
        if line and not line.startswith("#"):
            name, number, *_ = line.split("\t")
            rows[name] = int(number)
    return MappingProxyType(rows)


@cache
def record_type_names() -> MappingProxyType[int, str]:
    """Record type number -> name (the first name when a number has two)."""
    out: dict[int, str] = {}
    for name, number in record_types().items():
        out.setdefault(number, name)
    return MappingProxyType(out)


def record_type_name(number: int) -> str:
    """``SYSCALL`` for 1300; ``UNKNOWN[N]`` (ausearch's spelling) for a number with no name."""
    return record_type_names().get(number) or f"UNKNOWN[{number}]"


# Record types used by name in the code.
SYSCALL, PATH, SOCKADDR, CWD, EXECVE, EOE, SECCOMP, PROCTITLE = 1300, 1302, 1306, 1307, 1309, 1320, 1326, 1327
CONFIG_CHANGE, FD_PAIR, ANOM_ABEND = 1305, 1317, 1701
LAST_DAEMON = 1299              # user and daemon messages are single-record events
FIRST_ANOM_LOGIN = 2100         # user anomaly and response messages too
