"""The kernel prefilter's model: which events a live source delivers to user space, and the reference meaning.

The rules analysis (``rules/prefilter``) derives a ``Prefilter`` from the enabled rules and the state engine's
needs; a live source (``sources/ebpf``) encodes it into maps the probe checks before an event reaches the ring
buffer. This module is the contract between the two, and ``Prefilter.passes`` is the *reference evaluator*: the
probe must send exactly the events it accepts (tests compare the probe's counters with it), and the analysis must
accept every event that could make an enabled rule fire (tests run it over captures and generated streams).

Soundness is one-sided by construction: every test below is a union of conditions the event must meet for *some*
rule to fire, and whatever the kernel cannot see (``None`` in ``KernelView``) makes the test pass. An event is
dropped only when the kernel saw everything a test asks about and every box of its type said no.

Shape (per event type, a DNF the probe can evaluate with a fixed number of map lookups):

* ``TypeFilter.boxes``: the event passes when **any** box passes (at most ``MAX_BOXES``, one bit each in the
  probe's masks, so a path lookup answers for all boxes at once);
* a ``Box`` is a conjunction over independent dimensions (return sign, open flags, file type, the path, raw
  path features, exec-time comm, uid); ``None``/empty means "any";
* a ``PathTest`` is a union of exact names, prefixes, suffixes and parent directories (Falco's ``fd.name in``,
  ``startswith``, ``endswith``, ``fd.directory in``).
"""
from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

MAX_BOXES = 64           # one bit per box in the probe's u64 masks
O_ACCMODE = 0o3


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


def parent_dir(path: str) -> str:
    """Falco's ``fd.directory`` of an absolute path: up to the last ``/``, or ``/`` for a file in the root."""
    cut = path.rfind("/")
    return path[:cut] if cut > 0 else "/"


@dataclass(frozen=True, slots=True)
class Box:
    """A conjunction: the event passes when every constrained dimension holds (``None``/0/empty = any)."""

    ret: RetSign = RetSign.ANY
    accmodes: frozenset[int] | None = None   # allowed ``flags & O_ACCMODE`` (open family; Linux values)
    flags_all: int = 0                       # Linux open flag bits that must all be set (O_TRUNC ...)
    typechars: frozenset[str] | None = None  # ``fd.typechar`` of the fd the call returned or used
    path: PathTest | None = None             # on the type's ``TypeFilter.path_param``
    raw_features: RawFeature = RawFeature.NONE   # features of the raw path argument that must all be present
    comm_in: frozenset[str] | None = None    # exec-time comm (``proc.name``) must be one of these
    comm_not_in: frozenset[str] = frozenset()
    uid_in: frozenset[int] | None = None     # ``user.uid``
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
        if self.path is not None and view.path is not None and not self.path.holds(view.path):
            return False
        if self.raw_features and view.raw_features is not None and \
                view.raw_features & self.raw_features != self.raw_features:
            return False
        if view.comm is not None:
            if self.comm_in is not None and view.comm not in self.comm_in:
                return False
            if view.comm in self.comm_not_in:
                return False
        return not (self.uid_in is not None and view.uid is not None and view.uid not in self.uid_in)


@dataclass(frozen=True, slots=True)
class TypeFilter:
    """The prefilter of one event type: passes when any box passes."""

    event_type: str
    boxes: tuple[Box, ...]
    path_param: str | None = None            # the Falco parameter the boxes' path tests are about (``name``)

    def holds(self, view: KernelView) -> bool:
        return any(box.holds(view) for box in self.boxes)


@dataclass(frozen=True, slots=True)
class KernelView:
    """What the probe knows of one event when it decides; ``None`` = it could not know (the tests then pass).

    ``path`` is the lexical absolute path Falco's ``fd.name`` would hold, and only when the probe can build it
    exactly (an absolute, normal path within the key size; later also a kernel-resolved directory plus a
    normal relative name); ``comm`` is the comm the process had at exec (never the live one, which
    ``prctl(PR_SET_NAME)`` changes).
    """

    event_type: str
    ret: int | None = None
    flags: int | None = None
    typechar: str | None = None
    path: str | None = None
    raw_features: RawFeature | None = None
    comm: str | None = None
    uid: int | None = None


@dataclass(frozen=True, slots=True)
class Prefilter:
    """Which events a source delivers: ``event_types`` at all (None = every type), and of those, the types in
    ``filters`` only when their ``TypeFilter`` passes. ``open_types`` says, per delivered type left unfiltered,
    why (the rule or state need that weakened to "always")."""

    event_types: frozenset[str] | None = None
    filters: Mapping[str, TypeFilter] = field(default_factory=dict)
    open_types: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def passes(self, view: KernelView) -> bool:
        """The reference evaluator: whether the kernel must deliver this event."""
        if self.event_types is not None and view.event_type not in self.event_types:
            return False
        tf = self.filters.get(view.event_type)
        return tf is None or tf.holds(view)


EVERYTHING = Prefilter()
