"""The event table: every event name syswarden knows, its parameters and their types, and the flag tables.

This is Falco's event table (libs ``driver/event_table.c``) kept as syswarden's own data in
``events/data/event_table.tsv`` and ``events/data/flags.tsv``. Every source emits these names and parameter
names; the fields layer renders ``evt.arg.NAME`` from the parameter types; state reads the event flags.

Value convention: **sources deliver Linux values** in ``Event.params`` (``O_WRONLY`` is 1, ``CLONE_FILES`` is
0x400, ``PTRACE_ATTACH`` is 16), because that is what eBPF and ptrace see. Falco's drivers translate to their own
``PPM_*`` encoding; the scap reader converts back with ``FlagTable.from_falco``. ``format_flags`` renders a Linux
value exactly as Falco renders its ``PPM_*`` value (same names, same order, same ``|``). Tables with no Linux
equivalent (``execve_flags``, ``futex_operations`` ...) carry Falco's values unchanged.
"""
from __future__ import annotations

import enum
import errno as _errno
from dataclasses import dataclass
from functools import cache
from importlib import resources

# Linux access-mode values (asm-generic/fcntl.h): the low two bits of the open flags are a number, not bits.
O_ACCMODE = 0o3
O_RDONLY, O_WRONLY, O_RDWR = 0, 1, 2
O_CREAT = 0o100
O_TRUNC = 0o1000
O_CLOEXEC = 0o2000000
O_DIRECTORY = 0o200000
O_TMPFILE = 0o20200000
_EXEC_BITS = 0o111


class ParamType(enum.Enum):
    """Parameter types, named as Falco's ``PT_*`` lowercased (``PT_FSRELPATH`` -> ``fsrelpath``)."""

    FD = "fd"
    PID = "pid"
    ERRNO = "errno"
    FSPATH = "fspath"              # an absolute or cwd-relative path (state resolves it against cwd)
    FSRELPATH = "fsrelpath"        # a path relative to the dirfd parameter named in ParamSpec.dirfd
    CHARBUF = "charbuf"
    BYTEBUF = "bytebuf"
    FLAGS8 = "flags8"
    FLAGS16 = "flags16"
    FLAGS32 = "flags32"
    ENUMFLAGS8 = "enumflags8"
    ENUMFLAGS16 = "enumflags16"
    ENUMFLAGS32 = "enumflags32"
    MODE = "mode"
    UID = "uid"
    GID = "gid"
    SOCKADDR = "sockaddr"
    SOCKTUPLE = "socktuple"
    FDLIST = "fdlist"
    SYSCALLID = "syscallid"
    SIGTYPE = "sigtype"
    SIGSET = "sigset"
    RELTIME = "reltime"
    ABSTIME = "abstime"
    DYN = "dyn"
    INT16 = "int16"
    INT32 = "int32"
    INT64 = "int64"
    UINT8 = "uint8"
    UINT16 = "uint16"
    UINT32 = "uint32"
    UINT64 = "uint64"

    @property
    def is_flags(self) -> bool:
        """True for the types rendered through a flag table (``flags*``, ``enumflags*``, ``mode``)."""
        return self.value.startswith(("flags", "enumflags")) or self is ParamType.MODE


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One parameter of an event: its name, type, flag table (if any) and, for ``fsrelpath``, its dirfd param."""

    name: str
    type: ParamType
    table: str | None = None
    dirfd: str | None = None


@dataclass(frozen=True, slots=True)
class EventSpec:
    """One event (name + direction): kind (``syscall``/``tracepoint``), category, Falco flags, parameters."""

    name: str
    dir: str
    kind: str
    category: str
    flags: frozenset[str]
    params: tuple[ParamSpec, ...]

    def param(self, name: str) -> ParamSpec | None:
        """The parameter called ``name``, or None."""
        return next((p for p in self.params if p.name == name), None)

    def index(self, name: str) -> int:
        """0-based position of parameter ``name`` (``evt.arg[N]``), or -1."""
        return next((i for i, p in enumerate(self.params) if p.name == name), -1)


@dataclass(frozen=True, slots=True)
class FlagEntry:
    """A named value in a flag table; ``linux`` is None for Falco-only synthetic flags."""

    name: str
    falco: int
    linux: int | None


@dataclass(frozen=True, slots=True)
class FlagTable:
    """A flag (``bits``) or enum (``enum``) table in Falco's rendering order."""

    name: str
    kind: str
    entries: tuple[FlagEntry, ...]

    @property
    def has_linux(self) -> bool:
        """Whether values in events are Linux values (True) or Falco's own values (False)."""
        return any(e.linux is not None for e in self.entries)

    def to_falco(self, value: int) -> int:
        """Translate a Linux value to Falco's ``PPM_*`` value (identity for Falco-valued tables)."""
        if not self.has_linux:
            return value
        if self.kind == "enum":
            return next((e.falco for e in self.entries if e.linux == value), self._unknown_falco())
        if self.name == "file_flags":
            return _file_flags_to_falco(self, value)
        return _bits_translate(self.entries, value, linux_to_falco=True)

    def _unknown_falco(self) -> int:
        # Falco's drivers map a value they do not know to the table's *UNKNOWN entry; without one, to a value
        # that names nothing (never to a Falco number that happens to equal the Linux one).
        return next((e.falco for e in self.entries if e.linux is None and "UNKNOWN" in e.name), 0xFFFFFFFF)

    def from_falco(self, value: int) -> int:
        """Translate Falco's ``PPM_*`` value to the Linux value (what the scap reader needs)."""
        if not self.has_linux:
            return value
        if self.kind == "enum":
            matches = [e for e in self.entries if e.falco == value]
            # A Falco-only entry (PTRACE_UNKNOWN) has no Linux number: use one no Linux entry has, which to_falco
            # maps back to the UNKNOWN entry.
            return next((e.linux for e in matches if e.linux is not None), 0xFFFFFFFF if matches else value)
        if self.name == "file_flags":
            return _file_flags_from_falco(self, value)
        return _bits_translate(self.entries, value, linux_to_falco=False)

    def render(self, value: int) -> str:
        """Falco's text for a Linux ``value``: matching names joined by ``|`` in table order."""
        return _render_falco(self, self.to_falco(value) & 0xFFFFFFFF)

    def value_of(self, name: str) -> int:
        """The value (Linux if the table has Linux values, else Falco's) of the flag called ``name``."""
        for e in self.entries:
            if e.name == name:
                return e.linux if e.linux is not None else e.falco
        raise KeyError(f"{name!r} is not in flag table {self.name!r}")


def _render_falco(table: FlagTable, initial: int) -> str:
    # Mirrors libsinsp's rule: exact match for enums; for bits, a zero entry only matches zero, and bits already
    # named are removed so O_RDWR does not also print O_RDONLY/O_WRONLY; stop once one entry equals the value.
    names: list[str] = []
    val = initial
    for e in table.entries:
        if table.kind == "enum":
            if e.falco == initial:
                names.append(e.name)
            continue
        if (e.falco == 0 and initial == 0) or (e.falco != 0 and val != 0 and val & e.falco == e.falco):
            names.append(e.name)
            val &= ~e.falco
            if e.falco == initial:
                break
    return "|".join(names)


def _bits_translate(entries: tuple[FlagEntry, ...], value: int, *, linux_to_falco: bool) -> int:
    out = 0
    for e in entries:
        if e.linux is None or e.linux == 0 or e.falco == 0:
            continue
        src, dst = (e.linux, e.falco) if linux_to_falco else (e.falco, e.linux)
        if value & src == src:
            out |= dst
    return out


_FALCO_ACC = {O_RDONLY: 1, O_WRONLY: 2, O_RDWR: 3}


def _file_flags_to_falco(table: FlagTable, value: int) -> int:
    # The access mode is a 2-bit number in Linux but two bits (R=1, W=2) in Falco's encoding.
    rest = [e for e in table.entries if e.name not in ("O_RDONLY", "O_WRONLY", "O_RDWR")]
    return _FALCO_ACC.get(value & O_ACCMODE, 0) | _bits_translate(tuple(rest), value & ~O_ACCMODE, linux_to_falco=True)


def _file_flags_from_falco(table: FlagTable, value: int) -> int:
    rest = [e for e in table.entries if e.name not in ("O_RDONLY", "O_WRONLY", "O_RDWR")]
    acc = {1: O_RDONLY, 2: O_WRONLY, 3: O_RDWR}.get(value & 3, O_RDONLY)
    return acc | _bits_translate(tuple(rest), value & ~3, linux_to_falco=False)


def _data_lines(name: str) -> list[list[str]]:
    text = resources.files("syswarden.events").joinpath("data", name).read_text(encoding="utf-8")
    return [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]


def _parse_param(token: str) -> ParamSpec:
    name, typ, *extra = token.split(":")
    info = extra[0] if extra else None
    if info and info.startswith("@"):
        return ParamSpec(name, ParamType(typ), dirfd=info[1:])
    return ParamSpec(name, ParamType(typ), table=info)


@cache
def _load_events() -> dict[tuple[str, str], EventSpec]:
    events: dict[tuple[str, str], EventSpec] = {}
    for cols in _data_lines("event_table.tsv"):
        name, direction, kind, category, flags = cols[:5]
        params = tuple(_parse_param(t) for t in cols[5].split()) if len(cols) > 5 else ()
        flagset = frozenset() if flags == "-" else frozenset(flags.split(","))
        events[(name, direction)] = EventSpec(name, direction, kind, category, flagset, params)
    return events


@cache
def _load_flag_tables() -> dict[str, FlagTable]:
    grouped: dict[str, tuple[str, list[FlagEntry]]] = {}
    for table, kind, name, falco, linux in _data_lines("flags.tsv"):
        entry = FlagEntry(name, int(falco), None if linux == "-" else int(linux))
        grouped.setdefault(table, (kind, []))[1].append(entry)
    return {t: FlagTable(t, kind, tuple(es)) for t, (kind, es) in grouped.items()}


EVENTS: dict[tuple[str, str], EventSpec] = _load_events()
"""Every event by ``(name, dir)``; ``dir`` is ``"<"`` (exit) or ``">"`` (enter, legacy captures and procexit)."""

DEDICATED_EVENT_NAMES: frozenset[str] = frozenset(name for name, _ in EVENTS)
"""Names with their own entry in the event table."""


def _generic_names() -> frozenset[str]:
    from syswarden.syscalls.tables import all_names

    # "<unknown>": a generic event whose syscall id the driver did not know (sysdig prints it so).
    return (frozenset(all_names()) | {"<unknown>"}) - DEDICATED_EVENT_NAMES


GENERIC_EVENT_NAMES: frozenset[str] = _generic_names()
"""Syscalls without a dedicated event: Falco reports them as the generic ``syscall`` event (params ``ID``,
``nativeID``) named after the syscall, so ``evt.type = madvise`` is valid."""

EVENT_NAMES: frozenset[str] = DEDICATED_EVENT_NAMES | GENERIC_EVENT_NAMES
"""Every event name (what ``evt.type`` may be)."""

FLAG_TABLES: dict[str, FlagTable] = _load_flag_tables()
"""Every flag table by name (``file_flags``, ``clone_flags``, ``ptrace_requests`` ...)."""

# Events with only an enter form in Falco (no syscall return): procexit, switch, signaldeliver, page_fault.
ENTER_ONLY: frozenset[str] = frozenset(n for n, d in EVENTS if d == ">" and (n, "<") not in EVENTS)


def event_spec(name: str, direction: str = "<") -> EventSpec | None:
    """The spec of event ``name`` in ``direction``; enter-only events are found with either direction."""
    spec = EVENTS.get((name, direction))
    if spec is None and name in ENTER_ONLY:
        spec = EVENTS.get((name, ">"))
    if spec is None and name in GENERIC_EVENT_NAMES:
        return _generic_spec(name, direction)
    return spec


# The parameter the live sources add to an event that arrived through a compat entry point: "i386" (also for an
# i386 socketcall sub-call) or "x32"; native events have none. Not a Falco parameter (docs/events.md).
ABI_PARAM = "abi"


def dirpath_param(param: str) -> str:
    """The parameter a live source adds beside path parameter ``param`` (the eBPF probe does): the directory
    the kernel resolved a relative ``param`` against (the cwd or the dirfd's file). State joins the name to it.
    Not a Falco parameter."""
    return param + "_dirpath"


@cache
def extension_params(name: str) -> frozenset[str]:
    """Parameters of event ``name`` that syswarden's live sources add beyond Falco's table, and recordings
    keep so a replay resolves paths and ABIs as the live run did: ``abi`` on any syscall event, a
    ``dirpath_param`` for each path parameter, and the new ``cwd`` of ``fchdir`` (docs/events.md)."""
    spec = EVENTS.get((name, "<"))
    if spec is None:
        return frozenset({ABI_PARAM})
    extra = {ABI_PARAM}
    extra.update(dirpath_param(p.name) for p in spec.params if p.type in (ParamType.FSPATH, ParamType.FSRELPATH))
    if name == "fchdir":
        extra.add("cwd")
    return frozenset(extra)


@cache
def _generic_spec(name: str, direction: str) -> EventSpec | None:
    generic = EVENTS.get(("syscall", direction))
    return None if generic is None else EventSpec(name, direction, generic.kind, generic.category, generic.flags,
                                                  generic.params)


def flag_table(name: str) -> FlagTable:
    """The flag table called ``name``. Raises KeyError naming the known tables."""
    try:
        return FLAG_TABLES[name]
    except KeyError:
        raise KeyError(f"unknown flag table {name!r}; expected one of {sorted(FLAG_TABLES)}") from None


def format_flags(table: str, value: int) -> str:
    """Render ``value`` (a Linux value) as Falco does, e.g. ``format_flags("file_flags", 0o2000000)``
    -> ``"O_RDONLY|O_CLOEXEC"``. Unknown bits are dropped, as Falco drops them."""
    return flag_table(table).render(value)


def errno_name(n: int) -> str:
    """``errno_name(2)`` / ``errno_name(-2)`` -> ``"ENOENT"``; unknown numbers give ``""``."""
    return _errno.errorcode.get(abs(n), "")


def errno_value(name: str) -> int:
    """``errno_value("ENOENT")`` -> 2. Raises KeyError for unknown names."""
    value = getattr(_errno, name, None)
    if not isinstance(value, int) or not name.startswith("E"):
        raise KeyError(f"unknown errno name {name!r}")
    return value


def is_open_read(flags: int) -> bool:
    """evt.is_open_read: the access mode reads (O_RDONLY or O_RDWR)."""
    return flags & O_ACCMODE in (O_RDONLY, O_RDWR)


def is_open_write(flags: int) -> bool:
    """evt.is_open_write: the access mode writes (O_WRONLY or O_RDWR)."""
    return flags & O_ACCMODE in (O_WRONLY, O_RDWR)


def is_open_exec(flags: int, mode: int) -> bool:
    """evt.is_open_exec: the open creates a file (O_CREAT or O_TMPFILE) with an execute bit in ``mode``."""
    creates = bool(flags & O_CREAT) or flags & O_TMPFILE == O_TMPFILE
    return creates and bool(mode & _EXEC_BITS)


__all__ = [
    "ParamType", "ParamSpec", "EventSpec", "FlagEntry", "FlagTable", "EVENTS", "EVENT_NAMES", "FLAG_TABLES",
    "DEDICATED_EVENT_NAMES", "GENERIC_EVENT_NAMES",
    "ABI_PARAM", "ENTER_ONLY", "event_spec", "dirpath_param", "extension_params", "flag_table", "format_flags",
    "errno_name",
    "errno_value",
    "is_open_read", "is_open_write", "is_open_exec",
]
