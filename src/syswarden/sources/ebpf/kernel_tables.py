"""What the probe's filter maps hold: event type indices, what the probe knows of each type, and a
``Prefilter`` (``events/prefilter.py``: the rules' and state's needs, put together by ``service/prefilter``)
encoded as per-type box masks, path trie keys and comm/uid sets.

``compile_filter`` turns the ``Prefilter`` and the event types the source captures into ``KernelTables`` (plain
bytes for the maps, see ``probe.h``), for one of the two generations. ``Prefilter.passes`` is the reference the
probe implements: a type outside ``event_types`` is never sent, an ``fd_gated`` type only when user space knows
the call's fd, a filtered type when one of its boxes holds. The probe knows a ``KernelView`` as
``Prefilter.view`` defines it, with two additions: a relative open path is known whole (the probe walks the
directory the kernel resolves it against and sends it as ``dirpath``, which state joins the name to), and the
facts only the kernel has (``returns_dir``, ``fd_known``).

Whatever the maps cannot encode exactly is widened (the test dropped from the box), which only sends more:
prefixes over ``PF_KEY_STR`` bytes are cut, longer exact names and directories cannot occur in a key, comms over
15 bytes never match ``comm_in``, more than 8 distinct required-flag sets keep the 8 commonest.
"""
from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from syswarden.events.prefilter import MAX_BOXES, OPEN_FD_TYPES, Box, KernelView, Prefilter, RawFeature
from syswarden.events.types import EVENTS, ParamType
from syswarden.state.prefilter_needs import DIRECTORY_FDS
from syswarden.sources.syscall_decode import MAX_SNAPLEN, SPECS

MAX_TYPES = 128
TYPE_FORK, TYPE_EXEC, TYPE_EXIT = MAX_TYPES - 3, MAX_TYPES - 2, MAX_TYPES - 1
SLOT_NONE, SLOT_RET = 0xFF, 6
OPEN_NONE, OPEN_FLAGS, OPEN_HOW, OPEN_CREAT = 0, 1, 2, 3
TC_NONE, TC_OPEN, TC_DOMAIN, TC_FDSOCK = 0, 1, 2, 3
FDR_NONE, FDR_CLOSE, FDR_DUP, FDR_DUP2 = 0, 1, 2, 3
PF_SEND_ALL, PF_BOXES = 0, 1
PF_FLAG_REQS, PF_TYPECHARS = 8, 32
PFU_PATH, PFU_FEAT, PFU_COMM, PFU_UID, PFU_NAMES, PFU_DIRS, PFU_SUFFIXES = 1, 2, 4, 8, 16, 32, 64
PFK_NAMES, PFK_DIRS, PFK_SUFFIXES = 0, 1, 2
PFI_COMM, PFI_UID = 0, 1
PF_KEY_DATA = 256
PF_KEY_STR = PF_KEY_DATA - 2          # path bytes in a key: exact names up to 253 (with their NUL), prefixes cut here
COMM_LEN = 15
REASONS = ("relative path, directory not walked", "non-normal path", "path too long", "no exec-time comm",
           "close/dup without entry state", "known-file set full", "start-up", "untracked process",
           "open path read at exit (no entry copy)")
# fd.typechar values by index (probe.h TCI_*); "o?" is state's kind for sockets of other families
TYPECHARS = ("f", "d", "4", "6", "u", "p", "e", "s", "l", "i", "t", "n", "b", "r", "o", "m", "P", "o?")

OPEN_FAMILY = ("open", "openat", "openat2", "creat")
_NEW_FD_RET = frozenset({*OPEN_FAMILY, "socket", "accept", "accept4", "memfd_create", "userfaultfd", "bpf",
                         "eventfd", "eventfd2", "signalfd", "signalfd4", "timerfd_create", "inotify_init",
                         "inotify_init1", "epoll_create", "epoll_create1", "io_uring_setup", "pidfd_open",
                         "pidfd_getfd"})
# fds a sent event makes state create a table entry for (connect/bind/sendto... name unknown sockets)
_SOCKET_FD_ARG0 = frozenset({"connect", "bind", "sendto", "sendmsg", "recvfrom", "recvmsg"})
_PAIRS = {"pipe": 0, "pipe2": 0, "socketpair": 3}

_TYPE_INFO = struct.Struct("<14BH")
_PF_TYPE = struct.Struct(f"<IIQQQ4QQ{PF_FLAG_REQS * 2}Q{PF_TYPECHARS}Q6QIBBBx")
_PF_TYPE_WORDS = 2 + 3 + 4 + 1 + 2 * PF_FLAG_REQS + PF_TYPECHARS + 6       # mode, gated and the u64 fields
_PATH_KEY = struct.Struct(f"<I{PF_KEY_DATA}s")
_ID_KEY = struct.Struct("<BBBx16s")
_ID_VAL = struct.Struct("<QQ")
PF_TYPE_SIZE = _PF_TYPE.size
TYPE_INFO_SIZE = _TYPE_INFO.size
PATH_KEY_SIZE = _PATH_KEY.size
ID_KEY_SIZE, ID_VAL_SIZE = _ID_KEY.size, _ID_VAL.size


def type_indices() -> dict[str, int]:
    """Event name -> type index of every syscall the probe decodes (the scheduler records use fixed ones)."""
    names = sorted(SPECS)
    if len(names) > TYPE_FORK:
        raise ValueError(f"{len(names)} event types do not fit in the probe's {TYPE_FORK} type slots")
    return {name: i for i, name in enumerate(names)}


def counter_types() -> dict[int, str]:
    """Type index -> the event name its counters count (scheduler records: clone child, execve, procexit)."""
    names = {i: name for name, i in type_indices().items()}
    names.update({TYPE_FORK: "clone (child)", TYPE_EXEC: "execve", TYPE_EXIT: "procexit"})
    return names


def _slot(name: str, param: str | None) -> int:
    """The argument slot whose string or int a Falco parameter of ``name`` is built from (``sN``/``iN``)."""
    for pname, recipe in SPECS[name].params:
        if pname == param and recipe[:1] in "si" and recipe[1:].isdigit():
            return int(recipe[1:])
    return SLOT_NONE


def path_slots(name: str, param: str | None, fs: bool = True) -> tuple[int, int]:
    """(argument slot of path parameter ``param``, slot of its dirfd or SLOT_NONE) for event ``name``: a
    filesystem path parameter (FSPATH/FSRELPATH), or with ``fs`` false any string parameter."""
    spec = EVENTS.get((name, "<"))
    if spec is None or param is None or name not in SPECS:
        return SLOT_NONE, SLOT_NONE
    for p in spec.params:
        if p.name != param:
            continue
        if p.type in (ParamType.FSPATH, ParamType.FSRELPATH) or not fs:
            slot = _slot(name, param)
            dirfd = _slot(name, p.dirfd) if fs and p.dirfd else SLOT_NONE
            return (slot, dirfd) if slot != SLOT_NONE else (SLOT_NONE, SLOT_NONE)
    return SLOT_NONE, SLOT_NONE


def path_params(name: str) -> list[tuple[str, int, int]]:
    """(parameter, argument slot, dirfd slot or SLOT_NONE) of the path arguments of ``name`` state resolves
    (FSPATH/FSRELPATH built from a string argument), in order: the probe sends the directory of the first two
    when relative (XF_DIRPATH, XF_DIRPATH2)."""
    spec = EVENTS.get((name, "<"))
    if spec is None or name not in SPECS:
        return []
    out = []
    for p in spec.params:
        if p.type in (ParamType.FSPATH, ParamType.FSRELPATH):
            slot, dirfd = path_slots(name, p.name)
            if slot != SLOT_NONE:
                out.append((p.name, slot, dirfd))
    return out[:2]


def type_info(name: str, snaplen: int = 0) -> bytes:
    """The ``types`` map value of event ``name`` (``struct type_info``); ``snaplen``: bytes of its I/O buffer to
    send (0: none)."""
    paths = path_params(name) + [("", SLOT_NONE, SLOT_NONE)] * 2
    open_kind = {"openat2": OPEN_HOW, "creat": OPEN_CREAT}.get(name, OPEN_FLAGS if name in OPEN_FAMILY else OPEN_NONE)
    flags_slot = _flag_slot(name) if open_kind == OPEN_FLAGS else SLOT_NONE
    # fd.typechar is known only of the fd an open creates, from its flags (Prefilter: OPEN_FD_TYPES)
    tc, tc_slot = (TC_OPEN, SLOT_NONE) if name in OPEN_FD_TYPES else (TC_NONE, SLOT_NONE)
    role = {"close": FDR_CLOSE, "dup": FDR_DUP, "fcntl": FDR_DUP, "dup2": FDR_DUP2,
            "dup3": FDR_DUP2}.get(name, FDR_NONE)
    known = SLOT_RET if name in _NEW_FD_RET else 0 if name in _SOCKET_FD_ARG0 else SLOT_NONE
    return _TYPE_INFO.pack(paths[0][1], paths[1][1], paths[0][2], paths[1][2], open_kind, flags_slot, tc, tc_slot,
                           role, known, _PAIRS.get(name, SLOT_NONE), int(name == "fcntl"), int(name == "fchdir"),
                           int(SPECS[name].buffer), min(snaplen, MAX_SNAPLEN) if SPECS[name].buffer else 0)


def _flag_slot(name: str) -> int:
    for pname, recipe in SPECS[name].params:
        if pname == "flags" and recipe[:1] == "w":
            return int(recipe[1:])
    return SLOT_NONE


def needs_entry(name: str) -> bool:
    """Whether sys_enter keeps state for this call: the file an fd held before it (close, dup2, dup3), the
    ABI of an exec (its exit registers describe the new image), or an open's path before the kernel reads it."""
    return name in ("close", "dup2", "dup3", "execve", "execveat", *OPEN_FAMILY)


@dataclass(slots=True)
class KernelTables:
    """Map contents for one generation, and the prefilter they encode (None: every event is sent)."""

    types: dict[int, bytes] = field(default_factory=dict)                 # type index -> struct pf_type
    paths: dict[bytes, int] = field(default_factory=dict)                 # pf_path_key -> box mask
    ids: dict[bytes, tuple[int, int]] = field(default_factory=dict)       # pf_id_key -> (in, not_in)
    prefilter: Prefilter | None = None

    def passes(self, view: KernelView) -> bool:
        """The reference: whether the probe must send this event."""
        return self.prefilter is None or self.prefilter.passes(view)


# state's directory-fd need: the probe sends the directory a relative path resolves against instead
# (``dirpath_param``), so boxes kept only for that need are dropped.


def effective_prefilter(prefilter: Prefilter | None) -> Prefilter | None:
    """What the probe implements: ``prefilter`` without the boxes that serve only state's directory-fd need
    (the probe resolves relative paths itself, ``dirpath_param``), so directory opens no rule wants are not
    sent. A box serving anything else is kept whole."""
    if prefilter is None:
        return None
    filters = {}
    for name, tf in prefilter.filters.items():
        kept = tuple(b for b in tf.boxes
                     if not (b.origins and all(o == DIRECTORY_FDS for o in b.origins)))
        filters[name] = replace(tf, boxes=kept) if len(kept) != len(tf.boxes) else tf
    return replace(prefilter, filters=filters)


def compile_filter(prefilter: Prefilter | None, delivered: Iterable[str], gen: int) -> KernelTables:
    """The tables of generation ``gen`` for the event types the source captures (``prefilter`` is the one
    the probe implements: see ``effective_prefilter``)."""
    index = type_indices()
    tables = KernelTables(prefilter=prefilter)
    for name in sorted(set(delivered) & set(index)):
        if prefilter is None:
            tables.types[index[name]] = bytes(PF_TYPE_SIZE)        # PF_SEND_ALL, not gated
            continue
        gated = name in prefilter.fd_gated
        tf = prefilter.filters.get(name)
        boxes: tuple[Box, ...]
        if prefilter.event_types is not None and name not in prefilter.event_types:
            boxes, param, fs = (), None, True                     # no box: never sent
        elif tf is None or len(tf.boxes) > MAX_BOXES:
            tables.types[index[name]] = _PF_TYPE.pack(PF_SEND_ALL, int(gated), *([0] * (_PF_TYPE_WORDS - 2)),
                                                      0, SLOT_NONE, SLOT_NONE, 1)
            continue
        else:
            boxes, param, fs = tf.boxes, tf.path_param, tf.path_fs
        tables.types[index[name]] = _encode_type(tables, gen, index[name], name, boxes, param, fs, gated)
    return tables


def _encode_type(tables: KernelTables, gen: int, tix: int, name: str, boxes: tuple[Box, ...], param: str | None,
                 fs: bool, gated: bool) -> bytes:
    path_slot, dirfd_slot = path_slots(name, param, fs)
    every = (1 << len(boxes)) - 1
    ret_ok = ret_err = flags_free = path_free = feat_free = comm_free = uid_free = dir_free = 0
    acc = [0, 0, 0, 0]
    tcs = [0] * PF_TYPECHARS
    reqs: dict[int, int] = {}
    uses = 0
    names: list[tuple[bytes, int]] = []            # exact names (with their NUL) and prefixes
    suffixes: list[tuple[bytes, int]] = []         # reversed
    dirs: list[tuple[bytes, int]] = []
    for i, box in enumerate(boxes):
        bit = 1 << i
        ret_ok |= bit if box.ret.value in ("any", "ok") else 0
        ret_err |= bit if box.ret.value in ("any", "err") else 0
        for a in range(4):
            acc[a] |= bit if box.accmodes is None or a in box.accmodes else 0
        if box.flags_all:
            reqs[box.flags_all] = reqs.get(box.flags_all, 0) | bit
        else:
            flags_free |= bit
        for t, char in enumerate(TYPECHARS):
            tcs[t] |= bit if box.typechars is None or char in box.typechars else 0
        if box.path is None or path_slot == SLOT_NONE or _matches_everything(box):
            path_free |= bit
        else:
            uses |= PFU_PATH
            names += [(_enc(e) + b"\0", bit) for e in box.path.exact if 0 < len(_enc(e)) < PF_KEY_STR]
            # a longer prefix is cut to what a key holds: it then matches more paths (sends more)
            names += [(_enc(p)[:PF_KEY_STR], bit) for p in box.path.prefixes]
            suffixes += [(_enc(s)[::-1][:PF_KEY_STR], bit) for s in box.path.suffixes]
            dirs += [(_enc(d) + b"\0", bit) for d in box.path.dirs if len(_enc(d)) <= PF_KEY_STR - 2]
        if box.raw_features & RawFeature.DOTDOT_SLASH:
            uses |= PFU_FEAT
        else:
            feat_free |= bit
        if box.comm_in is None:
            comm_free |= bit
        for comm in box.comm_in or ():
            if len(_enc(comm)) <= COMM_LEN:
                _add_id(tables.ids, _id_key(gen, PFI_COMM, tix, _enc(comm)), bit, 0)
        for comm in box.comm_not_in:
            if len(_enc(comm)) <= COMM_LEN:
                _add_id(tables.ids, _id_key(gen, PFI_COMM, tix, _enc(comm)), 0, bit)
        if box.comm_in is not None or box.comm_not_in:
            uses |= PFU_COMM
        if not box.returns_dir:
            dir_free |= bit
        if box.uid_in is None:
            uid_free |= bit
        else:
            uses |= PFU_UID
            for uid in box.uid_in:
                if 0 <= uid <= 0xFFFFFFFF:
                    _add_id(tables.ids, _id_key(gen, PFI_UID, tix, struct.pack("<I", uid)), bit, 0)
    for kind, entries, flag in ((PFK_NAMES, names, PFU_NAMES), (PFK_DIRS, dirs, PFU_DIRS),
                                (PFK_SUFFIXES, suffixes, PFU_SUFFIXES)):
        _encode_trie(tables.paths, gen, tix, kind, entries)
        uses |= flag if entries else 0
    kept = sorted(reqs.items(), key=lambda kv: -bin(kv[1]).count("1"))
    for _bits, mask in kept[PF_FLAG_REQS:]:
        flags_free |= mask                      # more sets than the probe checks: the rest are not required
    flat_reqs = [v for bits, mask in kept[:PF_FLAG_REQS] for v in (bits, mask)]
    flat_reqs += [0] * (2 * PF_FLAG_REQS - len(flat_reqs))
    return _PF_TYPE.pack(PF_BOXES, int(gated), every, ret_ok, ret_err, *acc, flags_free, *flat_reqs, *tcs,
                         path_free, feat_free, every & ~feat_free, comm_free, uid_free, dir_free, uses, path_slot,
                         dirfd_slot, int(fs))


def _matches_everything(box: Box) -> bool:
    """A path test an empty prefix or suffix satisfies holds for every path: no lookup needed."""
    test = box.path
    return test is not None and ("" in test.prefixes or "" in test.suffixes)


def _enc(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _path_key(gen: int, kind: int, tix: int, data: bytes) -> bytes:
    full = bytes([(gen << 2) | kind, tix]) + data
    return _PATH_KEY.pack(8 * len(full), full)


def id_value(pair: tuple[int, int]) -> bytes:
    return _ID_VAL.pack(*pair)


def _id_key(gen: int, kind: int, tix: int, data: bytes) -> bytes:
    return _ID_KEY.pack(gen, kind, tix, data)


def _add(paths: dict[bytes, int], key: bytes, bit: int) -> None:
    paths[key] = paths.get(key, 0) | bit


def _add_id(ids: dict[bytes, tuple[int, int]], key: bytes, in_bit: int, not_in_bit: int) -> None:
    old = ids.get(key, (0, 0))
    ids[key] = (old[0] | in_bit, old[1] | not_in_bit)


def _encode_trie(paths: dict[bytes, int], gen: int, tix: int, kind: int, entries: list[tuple[bytes, int]]) -> None:
    """One kind's keys in the trie: exact entries (ending with their NUL) and prefixes (names, directories,
    reversed suffixes); each value or-ed with the masks of every shorter prefix entry it starts with, so the
    longest match answers for all of them."""
    own: dict[bytes, int] = {}
    for data, bit in entries:
        own[data] = own.get(data, 0) | bit
    prefixes = {data: mask for data, mask in own.items() if not data.endswith(b"\0")}
    for data, mask in own.items():
        inherited = mask
        for p, pmask in prefixes.items():
            if len(p) < len(data) and data.startswith(p):
                inherited |= pmask
        _add(paths, _path_key(gen, kind, tix, data), inherited)


def delivered_types(wanted: frozenset[str] | None) -> frozenset[str]:
    """The decodable event types the source captures: those it was given (state's needs are among them,
    ``service.selection``), or every one (None)."""
    base = frozenset(SPECS) if wanted is None else wanted
    return frozenset(n for n in base if n in SPECS)


def reasons_text(counts: Mapping[int, int]) -> str:
    return ", ".join(f"{REASONS[r]}: {n}" for r, n in sorted(counts.items()) if n)
