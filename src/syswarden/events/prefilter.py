"""The kernel prefilter's model: which events a live source delivers to user space, and the reference meaning.

The rules analysis (``rules/prefilter``) and the state engine's needs (``state/prefilter_needs``) give a
``Prefilter``, put together in ``service/prefilter``; a live source (``sources/ebpf``) encodes it into maps the
probe checks before an event reaches the ring buffer. This module is the contract between the two, and
``Prefilter.passes`` is the *reference evaluator*: the probe must send exactly the events it accepts (tests
compare the probe's counters with it), and the analysis must accept every event that could make an enabled rule
fire (tests run it over captures and generated streams). ``Prefilter.view`` builds the ``KernelView`` of an
event exactly as the probe sees it. docs/prefilter.md says what each dimension means and which side each
approximation errs on.

Soundness is one-sided by construction: every test below is a union of conditions the event must meet for *some*
rule (or state need) to hold, and whatever the kernel cannot see (``None`` in ``KernelView``) makes the test
pass. An event is dropped only when the kernel saw everything a test asks about and every box of its type said no.

Shape (per event type, a DNF the probe can evaluate with a fixed number of map lookups):

* ``TypeFilter.boxes``: the event passes when **any** box passes (at most ``MAX_BOXES``, one bit each in the
  probe's masks, so a path lookup answers for all boxes at once);
* a ``Box`` is a conjunction over independent dimensions (return sign, open flags, file type, the path, raw
  path features, exec-time comm, uid, whether the returned fd is a directory); ``None``/empty means "any";
* a ``PathTest`` is a union of exact names, prefixes, suffixes and parent directories (Falco's ``fd.name in``,
  ``startswith``, ``endswith``, ``fd.directory in``).

Besides the boxes, ``Prefilter.fd_gated`` names the types (``close``, ``dup*`` ...) the probe may send only for
fds user space knows (issue 14 item 2; ``GATED_FD_PARAMS``): an fd is known once the event that created it
reached user space.
"""
from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from syswarden.events.event import Event, ThreadInfo
from syswarden.events.types import O_DIRECTORY, dirpath_param

MAX_BOXES = 64           # one bit per box in the probe's u64 masks
O_ACCMODE = 0o3
MAX_PREFIX_BYTES = 256   # LPM-trie key data: a longer prefix is shortened by the analysis (a sound widening)
MAX_SUFFIX_BYTES = 127   # reversed LPM-trie key data, likewise
MAX_PATH_BYTES = 4095    # longest path argument the probe copies whole (PATH_MAX with its NUL); longer: unknown
#: Event types whose ``flags`` argument is ``open(2)``'s (Linux values): ``accmodes``/``flags_all`` apply to them.
OPEN_FLAG_TYPES = frozenset({"open", "openat", "openat2", "open_by_handle_at"})
#: The fd-gated types the analysis may put in ``Prefilter.fd_gated``, with the fd parameters the probe looks up
#: in its set of files user space knows: it sends the event when user space knows **any** of them (dup2/dup3
#: onto an fd user space knows replace that fd, which state must hear of).
GATED_FD_PARAMS: Mapping[str, tuple[str, ...]] = {
    "close": ("fd",), "dup": ("oldfd",), "dup2": ("oldfd", "newfd"), "dup3": ("oldfd", "newfd"), "fcntl": ("fd",)}
#: Event types whose ``fd.typechar`` is that of the fd they create from a path: ``d`` when the flags carry
#: ``O_DIRECTORY`` (``O_TMPFILE`` includes it), else ``f`` (state's ``file_fd``: never the inode's type).
OPEN_FD_TYPES = frozenset({"open", "openat", "openat2", "creat"})


class RetSign(enum.Enum):
    """The sign of the syscall's return value (``fd.num>=0``, ``evt.res=SUCCESS``, ``evt.res startswith E``)."""

    ANY = "any"
    OK = "ok"            # ret >= 0
    ERR = "err"          # ret < 0

    def holds(self, ret: int) -> bool:
        return self is RetSign.ANY or (ret >= 0) == (self is RetSign.OK)


class RawFeature(enum.IntFlag):
    """Facts about the raw path argument the probe computes in its one bounded scan of the string."""

    NONE = 0
    DOTDOT_SLASH = 1     # contains "../" (Falco's directory_traversal macro: fd.nameraw contains '../')


def raw_features(raw: str) -> RawFeature:
    """The features of one raw path argument."""
    return RawFeature.DOTDOT_SLASH if "../" in raw else RawFeature.NONE


@dataclass(frozen=True, slots=True)
class PathTest:
    """Passes when the path is one of ``exact``, starts with one of ``prefixes``, ends with one of ``suffixes``,
    or its directory (everything before the last ``/``; ``/`` for a file in the root) is one of ``dirs``."""

    exact: frozenset[str] = frozenset()
    prefixes: frozenset[str] = frozenset()
    suffixes: frozenset[str] = frozenset()
    dirs: frozenset[str] = frozenset()

    def holds(self, path: str) -> bool:
        if path in self.exact or path.startswith(tuple(self.prefixes)) or path.endswith(tuple(self.suffixes)):
            return True
        return bool(self.dirs) and parent_dir(path) in self.dirs

    def union(self, other: PathTest) -> PathTest:
        return PathTest(self.exact | other.exact, self.prefixes | other.prefixes, self.suffixes | other.suffixes,
                        self.dirs | other.dirs)

    def covers(self, other: PathTest) -> bool:
        """Whether every path ``other`` accepts is accepted here (checked entry by entry; may say False when
        it cannot tell)."""
        return (all(self.holds(p) for p in other.exact)
                and all(p.startswith(tuple(self.prefixes)) for p in other.prefixes)
                and all(s.endswith(tuple(self.suffixes)) for s in other.suffixes)
                and all(d in self.dirs or (d + "/").startswith(tuple(self.prefixes)) for d in other.dirs))

    def excludes_tail(self, tail: str) -> bool:
        """Whether no path ending with ``tail`` (or equal to it without its leading ``/``) can pass: decidable
        only for a test made of suffixes no longer than ``tail`` (in bytes); otherwise False."""
        if self.exact or self.prefixes or self.dirs or not self.suffixes:
            return False
        size = len(tail.encode("utf-8", "surrogateescape"))
        if any(len(s.encode("utf-8", "surrogateescape")) > size for s in self.suffixes):
            return False
        return not tail.endswith(tuple(self.suffixes))

    def entries(self) -> int:
        return len(self.exact) + len(self.prefixes) + len(self.suffixes) + len(self.dirs)


def parent_dir(path: str) -> str:
    """Falco's ``fd.directory`` of an absolute path: up to the last ``/``, or ``/`` for a file in the root."""
    cut = path.rfind("/")
    return path[:cut] if cut > 0 else "/"


@dataclass(frozen=True, slots=True)
class Box:
    """A conjunction: the event passes when every constrained dimension holds (``None``/0/empty = any)."""

    ret: RetSign = RetSign.ANY
    accmodes: frozenset[int] | None = None   # allowed ``flags & O_ACCMODE`` (OPEN_FLAG_TYPES; Linux values)
    flags_all: int = 0                       # Linux open flag bits that must all be set (O_TRUNC ...)
    typechars: frozenset[str] | None = None  # ``fd.typechar`` of the fd an OPEN_FD_TYPES call creates
    path: PathTest | None = None             # on the type's ``TypeFilter.path_param``
    raw_features: RawFeature = RawFeature.NONE   # features of the raw path argument that must all be present
    comm_in: frozenset[str] | None = None    # exec-time comm (``proc.name``) must be one of these
    comm_not_in: frozenset[str] = frozenset()
    uid_in: frozenset[int] | None = None     # ``user.uid``
    returns_dir: bool = False                # the call returned an fd whose inode is a directory
    origins: tuple[str, ...] = ()            # the rules (or state needs) this box serves, for --explain-filter

    def holds(self, view: KernelView) -> bool:
        if view.ret is not None and not self.ret.holds(view.ret):
            return False
        if view.flags is not None:
            if self.accmodes is not None and view.flags & O_ACCMODE not in self.accmodes:
                return False
            if view.flags & self.flags_all != self.flags_all:
                return False
        if self.typechars is not None and view.typechar is not None and view.typechar not in self.typechars:
            return False
        if self.path is not None:
            if view.path is not None and not self.path.holds(view.path):
                return False
            if view.path is None and view.path_tail is not None and self.path.excludes_tail(view.path_tail):
                return False
        if self.raw_features and view.raw_features is not None and \
                view.raw_features & self.raw_features != self.raw_features:
            return False
        if view.comm is not None:
            if self.comm_in is not None and view.comm not in self.comm_in:
                return False
            if view.comm in self.comm_not_in:
                return False
        if self.returns_dir and view.returns_dir is False:
            return False
        return not (self.uid_in is not None and view.uid is not None and view.uid not in self.uid_in)

    def constrained(self) -> bool:
        """Whether the box rejects anything at all (a box with no constraint is "always")."""
        return self.without_origins() != ANY_BOX

    def without_origins(self) -> Box:
        return replace(self, origins=()) if self.origins else self


ANY_BOX = Box()
"""The box every event passes."""


@dataclass(frozen=True, slots=True)
class TypeFilter:
    """The prefilter of one event type: passes when any box passes.

    ``path_param`` names the parameter the boxes' path tests and raw features are about (``name`` for the open
    family). With ``path_fs`` (a filesystem path state resolves against the cwd or a dirfd) the probe decides on
    it only when the argument is absolute and normal; otherwise (a plain string such as symlink's ``target``)
    on the raw argument as it is.
    """

    event_type: str
    boxes: tuple[Box, ...]
    path_param: str | None = None
    path_fs: bool = True

    def holds(self, view: KernelView) -> bool:
        return any(box.holds(view) for box in self.boxes)


@dataclass(frozen=True, slots=True)
class KernelView:
    """What the probe knows of one event when it decides; ``None`` = it could not know (the tests then pass).

    ``path`` is the value state gives the type's path parameter (Falco's ``fd.name`` for the open family), and
    only when the probe can build it exactly: for a filesystem path, an absolute, normal argument of at most
    ``MAX_PATH_BYTES`` (normalising it then changes nothing). ``path_tail`` is, for a relative normal argument
    ``R`` (no empty, ``.`` or ``..`` component), ``/R``: state joins ``R`` to a directory, so the path it builds
    ends with ``/R`` (or is ``R`` itself when it knows no directory), which decides suffix tests. ``comm`` is the comm
    user space has for the thread (the one at its fork or exec, never the live one, which ``prctl(PR_SET_NAME)``
    changes). ``returns_dir`` says whether the fd the call returned is a directory (False for a failed call).
    ``fd_known`` says, for the ``Prefilter.fd_gated`` types, whether user space knows any of the fds the call names
    (``GATED_FD_PARAMS``).
    """

    event_type: str
    ret: int | None = None
    flags: int | None = None
    typechar: str | None = None
    path: str | None = None
    path_tail: str | None = None
    raw_features: RawFeature | None = None
    comm: str | None = None
    uid: int | None = None
    returns_dir: bool | None = None
    fd_known: bool | None = None


@dataclass(frozen=True, slots=True)
class Prefilter:
    """Which events a source delivers: ``event_types`` at all (None = every type), and of those, the types in
    ``filters`` only when their ``TypeFilter`` passes, and the types in ``fd_gated`` only when user space knows
    their fd. ``open_types`` says, per delivered type left unfiltered, why (the rules or state need that
    weakened to "always")."""

    event_types: frozenset[str] | None = None
    filters: Mapping[str, TypeFilter] = field(default_factory=dict)
    open_types: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    fd_gated: frozenset[str] = frozenset()

    def passes(self, view: KernelView) -> bool:
        """The reference evaluator: whether the kernel must deliver this event."""
        if self.event_types is not None and view.event_type not in self.event_types:
            return False
        if view.event_type in self.fd_gated and view.fd_known is False:
            return False
        tf = self.filters.get(view.event_type)
        return tf is None or tf.holds(view)

    def view(self, event: Event, thread: ThreadInfo | None, raw_params: Mapping[str, Any] | None = None, *,
             returns_dir: bool | None = None, fd_known: bool | None = None) -> KernelView:
        """The ``KernelView`` of ``event`` as the probe builds it: the one definition tests and docs refer to.

        ``raw_params`` are the parameters as the source delivered them, before state made relative paths
        absolute (default: ``event.params``, right for an event state has not applied yet); ``thread`` is the
        thread state attached (its ``comm`` is what the probe's fork/exec snapshot holds). What the probe reads
        from the kernel and an event does not carry (the returned inode's type, the probe's fd knowledge) is
        given by the caller; None means unknown.
        """
        raw = event.params if raw_params is None else raw_params
        exit_event = event.dir == "<"
        ret = None
        if exit_event:
            res = raw.get("res")
            ret = event.res if res is None or res == event.res else None
        flags = raw.get("flags") if exit_event and event.type in OPEN_FLAG_TYPES else None
        flags = flags if flags.__class__ is int else None
        typechar = None
        if thread is None:
            pass                  # state attaches no fd without a thread: fd.typechar is <NA>
        elif exit_event and event.type == "creat":
            typechar = "f"
        elif flags is not None and event.type in OPEN_FD_TYPES:
            typechar = "d" if flags & O_DIRECTORY == O_DIRECTORY else "f"
        tf = self.filters.get(event.type)
        value = raw.get(tf.path_param) if tf and tf.path_param else None
        base = raw.get(dirpath_param(tf.path_param)) if tf and tf.path_param else None
        if tf and tf.path_fs and isinstance(value, str) and value and not value.startswith("/") \
                and isinstance(base, str) and base.startswith("/"):
            # the eBPF probe resolved a relative path against the directory the kernel walked and sent it
            # beside the parameter; state joins the name to it: the probe knows the whole path
            value = (base if base != "/" else "") + "/" + value
        path, tail, features = _path_facts(value, tf.path_fs if tf else True)
        comm = thread.comm or None if thread is not None else None
        return KernelView(event.type, ret=ret, flags=flags, typechar=typechar, path=path, path_tail=tail,
                          raw_features=features,
                          comm=comm, returns_dir=returns_dir if exit_event else None, fd_known=fd_known)


def _path_facts(raw: Any, fs: bool) -> tuple[str | None, str | None, RawFeature | None]:
    """(path, path tail, raw features) the probe can know of one path argument."""
    if not isinstance(raw, str) or len(raw.encode("utf-8", "surrogateescape")) > MAX_PATH_BYTES:
        return None, None, None
    if not fs:
        return raw, None, raw_features(raw)
    if not raw.startswith("/"):
        # relative: state joins it to a cwd or dirfd path the probe does not know; only its end is certain
        return None, ("/" + raw if raw and is_normal("/" + raw) else None), None
    return (raw if is_normal(raw) else None), None, raw_features(raw)


def is_normal(path: str) -> bool:
    """An absolute path lexical normalisation leaves as it is: no empty, ``.`` or ``..`` component and no
    trailing slash (``/`` itself is normal)."""
    if path == "/":
        return True
    if not path.startswith("/") or path.endswith("/"):
        return False
    return all(part not in ("", ".", "..") for part in path[1:].split("/"))


EVERYTHING = Prefilter()
