"""``ScapSource``: a sysdig/Falco capture file (``.scap``, optionally gzipped) as a syswarden event source.

The metadata blocks at the top of the file (process list, fd lists, users) become the ``ThreadInfo`` seed that
``initial_threads()`` hands to state, as ``/proc`` does for a live source. Event blocks become ``Event``s named and
parametrised as in ``syswarden.events.types``. Old captures hold enter *and* exit events: both are emitted (so
``evt.dir`` works as in Falco), and an exit event missing parameters that newer drivers put on the exit (``fd`` of
``read``...) gets them from the thread's pending enter event, so both generations give the same fields.
Internal events (procinfo, drop ...) and events flagged ``SCAP_DF_STATE_ONLY`` are emitted with
``state_only=True``: they count in ``evt.num`` and feed state but never reach rules.
With ``config.event_types`` only events of those types are decoded and yielded (the caller adds what state
needs: ``service.selection``); the others are still counted, so ``evt.num`` stays the file's event number.

A damaged file stops at the damage: every event before it is delivered, ``stats.skipped`` counts what was lost,
and ``error`` holds a ``CaptureError`` naming the byte offset (raised after the last good event unless the
source was opened with ``options={"on_error": "stop"}``).
"""
from __future__ import annotations

import itertools
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from functools import cache
from importlib import resources
from operator import call
from typing import Any

from syswarden.errors import CaptureError
from syswarden.events.accounts import GroupInfo, UserInfo
from syswarden.events.event import Event, FdType, ThreadInfo
from syswarden.events.types import FLAG_TABLES, FlagTable, event_spec
from syswarden.sources.base import SourceConfig, SourceStats
from syswarden.sources.scap import blocks as B
from syswarden.sources.scap import event_codes as EC
from syswarden.sources.scap import tables as T
from syswarden.sources.scap.stream import CaptureFile, iter_file_records
from syswarden.sources.scap.threads import fdinfo_from_record, hostport, thread_from_record

_RES_WIRE_TYPES = frozenset({"errno", "fd", "pid"})
GENERIC_NAME = "syscall"


@cache
def syscall_names() -> dict[int, str]:
    """libs' ``PPM_SC_*`` syscall ids (the ``ID`` parameter of generic events) -> syscall name."""
    text = resources.files("syswarden.sources.scap").joinpath("data/ppm_sc.tsv").read_text()
    return {int(a): b for a, b in (line.split("\t") for line in text.splitlines())}


@dataclass(slots=True)
class CaptureMeta:
    """What the metadata blocks of a capture say besides threads."""

    version: str = ""
    hostname: str = ""
    num_cpus: int = 0
    users: dict[int, UserInfo] = field(default_factory=dict)      # the traced machine's accounts, by id
    groups: dict[int, GroupInfo] = field(default_factory=dict)
    interfaces: tuple[int, bytes] | None = None    # raw interface-list block (type, body), copied by the writer


class ScapSource:
    """Events of one capture file, with the thread/fd tables it carries (``Source`` protocol)."""

    def __init__(self, config: SourceConfig) -> None:
        if not config.path:
            raise CaptureError("the scap source needs a capture file path")
        self.path = config.path
        self.stats = SourceStats()
        self.meta = CaptureMeta()
        self.error: CaptureError | None = None
        self._raise = config.options.get("on_error", "raise") != "stop"
        self._wanted = config.event_types
        self._threads: dict[int, ThreadInfo] = {}
        self._listening: set[int] = set()
        self._file = CaptureFile(self.path)
        self._records = iter_file_records(self._file, EC.nparams_by_code(), EC.large_codes())
        self._first_event: B.RawEvent | None = None
        try:
            self._read_metadata()
        except BaseException:
            self.close()
            raise
        self._orient_sockets()

    # -- metadata -------------------------------------------------------------------------------------------

    def _read_metadata(self) -> None:
        """Parse the blocks before the first event block (kept for ``events()``)."""
        head = self._file.head[:4]
        if head and head != B.BlockType.SHB.to_bytes(4, "little"):
            raise CaptureError(f"{self.path}: not a scap capture: expected a section header block at byte "
                               f"offset 0, found bytes {head.hex()}")
        try:
            shb = next(self._records)
        except StopIteration:
            raise CaptureError(f"{self.path}: empty capture file (expected a section header block)") from None
        assert isinstance(shb, B.Block)
        hdr = B.parse_section_header(shb, self.path)
        self.meta.version = f"{hdr.major}.{hdr.minor}"
        try:
            for record in self._records:
                if isinstance(record, B.RawEvent):
                    self._first_event = record
                    return
                self._metadata_block(record)
        except CaptureError as err:
            self._fail(err)

    def _metadata_block(self, block: B.Block) -> None:
        if block.type in B.PL_VERSION:
            for rec in T.parse_proclist(block, self.path):
                self._threads[rec.tid] = thread_from_record(rec)
        elif block.type in B.FDL_BLOCKS:
            for fd in T.parse_fdlist(block, self.path):
                thread = self._threads.get(fd.tid)
                if thread is not None:
                    thread.fds[fd.fd] = fdinfo_from_record(fd)
                if fd.kind in (5, 6):
                    self._listening.add(fd.sport)
        elif block.type in B.UL_BLOCKS:
            for account in T.parse_userlist(block, self.path):
                if isinstance(account, UserInfo):
                    self.meta.users[account.uid] = account
                else:
                    self.meta.groups[account.gid] = account
        elif block.type in B.MI_BLOCKS:
            mi = B.parse_machine_info(block)
            self.meta.hostname, self.meta.num_cpus = mi.hostname, mi.num_cpus
        elif block.type in B.IL_BLOCKS:
            # kept raw: readers use the interfaces to name unbound local addresses, the event model does not
            self.meta.interfaces = (block.type, bytes(block.body))
        # unknown blocks are skipped, as libscap does

    def _orient_sockets(self) -> None:
        """Fd lists store connected sockets as (local, remote); Falco names them client -> server, so a socket
        whose local port is one some process listens on was accepted: its local side is the server."""
        for thread in self._threads.values():
            for info in thread.fds.values():
                if (info.type in (FdType.IPV4, FdType.IPV6) and not info.servsock and info.dip
                        and info.sport in self._listening):
                    info.sip, info.sport, info.dip, info.dport = info.dip, info.dport, info.sip, info.sport
                    info.is_server = True
                    info.name = f"{hostport(info.sip, info.sport)}->{hostport(info.dip, info.dport)}"

    def _fail(self, err: CaptureError) -> None:
        self.error = err
        self.stats.skipped += 1
        if self._raise:
            raise err

    # -- Source protocol ------------------------------------------------------------------------------------

    @property
    def hostname(self) -> str:
        """The machine the capture was taken on (its machine-info block)."""
        return self.meta.hostname

    def initial_threads(self) -> Iterator[ThreadInfo]:
        """The process list, threads of one process sharing their main thread's fd table (files are
        process-wide; fd lists are written for the main thread)."""
        for t in self._threads.values():
            main = self._threads.get(t.pid)
            if main is not None and main is not t:
                main.fds.update(t.fds)
                t.fds = main.fds
        return iter(list(self._threads.values()))

    def events(self) -> Iterator[Event]:
        """Every event of the file in order, numbered from 1 (state-only ones included); events of types not
        wanted (``config.event_types``) are numbered but not decoded nor yielded. The file is read once, as it
        goes: a second call yields nothing more."""
        if self.error is not None:      # the metadata was already damaged: nothing more to read
            return
        wanted = self._wanted
        decoder = EventDecoder(wanted)
        plans, plan_of, decode, skip = decoder.plans, decoder.plan, decoder.decode, decoder.skip
        raw_event, stats = B.RawEvent, self.stats
        yield from self._account_events()
        first, self._first_event = self._first_event, None
        num = 0
        try:
            for raw in itertools.chain((first,) if first is not None else (), self._records):
                if not isinstance(raw, raw_event):
                    self._metadata_block(raw)
                    continue
                plan = plans.get(raw.code) or plan_of(raw.code)
                if plan is None:
                    stats.skipped += 1      # a newer libs' event: libscap skips it too
                    continue
                num += 1
                stats.events = num
                if not plan.wanted:
                    skip(raw, plan)
                    continue
                event = decode(raw, plan, num)
                # a generic syscall event is named by its parameters: wanted or not is known only now
                if not plan.generic or wanted is None or event.type in wanted:
                    yield event
        except CaptureError as err:
            self._fail(err)

    def _account_events(self) -> Iterator[Event]:
        """The file's user list as state-only ``useradded``/``groupadded`` events (numbered 0: not in the file's
        event stream), so names come from the traced machine, as libsinsp takes them from the user list."""
        wanted = self._wanted
        for u in self.meta.users.values() if wanted is None or "useradded" in wanted else ():
            yield Event(num=0, ts=0, type="useradded", tid=-1, dir=">", state_only=True,
                        params={"uid": u.uid, "gid": u.gid, "name": u.name, "home": u.homedir, "shell": u.shell,
                                "container_id": ""})
        for g in self.meta.groups.values() if wanted is None or "groupadded" in wanted else ():
            yield Event(num=0, ts=0, type="groupadded", tid=-1, dir=">", state_only=True,
                        params={"gid": g.gid, "name": g.name, "container_id": ""})

    def close(self) -> None:
        self._file.close()


_EVENT_ARGS = ("num", "ts", "type", "tid", "params", "dir", "res", "cpu", "pid", "state_only", "source")
if tuple(f.name for f in fields(Event))[:len(_EVENT_ARGS)] != _EVENT_ARGS:
    raise ImportError(f"EventDecoder builds Events positionally as {_EVENT_ARGS}; Event's fields changed")


@dataclass(frozen=True, slots=True)
class CodePlan:
    """How the events of one code become ``Event``s, worked out once per code (the per-event work is then a
    few lookups). Events whose parameters are all fixed-width ints, at their usual widths, are unpacked with
    one struct straight from the file's bytes; the others go through one decoder per parameter."""

    name: str
    dir: str
    wanted: bool                          # False: numbered, never decoded (its type was not asked for)
    internal: bool
    generic: bool                         # the generic syscall event: its name is in its ``ID`` parameter
    has_exit: bool                        # a syscall enter event: its parameters await the exit's
    starts: bool                          # ends the file's leading container records
    names: tuple[str, ...]
    fns: tuple[EC.Decoder, ...]           # Falco-to-Linux flag translation folded in
    res: str | None                       # the exit parameter that is the syscall's return value
    fixed_lens: tuple[int, ...] | None    # every parameter a fixed-width int: their byte widths ...
    fixed: struct.Struct | None           # ... and the struct unpacking them all at once
    translate: tuple[tuple[str, Callable[[int], int]], ...]   # flags to translate after a fixed unpack


def plan_code(code: EC.EventCode, wanted: frozenset[str] | None) -> CodePlan:
    flags = {name: _memo_from_falco(table) for name, table in linux_flag_tables(code.code)}
    names = tuple(name for name, _ in code.params)
    fns = tuple(_with_flags(EC.value_decoder(wire, name), flags.get(name)) for name, wire in code.params)
    formats = [EC.int_format(wire) for _, wire in code.params]
    fixed = None if None in formats else struct.Struct("<" + "".join(f[1:] for f in formats if f))
    res = code.params[0][0] if code.params and code.params[0][1] in _RES_WIRE_TYPES else None
    generic = code.name == GENERIC_NAME
    return CodePlan(
        name=code.name, dir=code.dir, wanted=wanted is None or generic or code.name in wanted,
        internal=code.internal, generic=generic, has_exit=_has_exit(code.code), starts=code.name != "container",
        names=names, fns=fns, res=res if code.dir == "<" else None,
        fixed_lens=None if fixed is None else tuple(struct.calcsize(f) for f in formats if f),
        fixed=fixed, translate=tuple(flags.items()))


class EventDecoder:
    """Raw event -> ``Event``; keeps each thread's pending enter parameters to complete old exit events."""

    __slots__ = ("_pending", "_started", "_wanted", "plans")

    def __init__(self, wanted: frozenset[str] | None = None) -> None:
        self._pending: dict[int, tuple[str, dict[str, Any]]] = {}
        self._started = False      # seen an event other than the leading container records
        self._wanted = wanted
        self.plans: dict[int, CodePlan] = {}

    def plan(self, code: int) -> CodePlan | None:
        """The plan of ``code``; None for codes this event table does not know (or marks "NA")."""
        info = EC.lookup(code)
        if info is None or info.name == "NA":
            return None
        found = self.plans[code] = plan_code(info, self._wanted)
        return found

    def decode(self, raw: B.RawEvent, plan: CodePlan, num: int) -> Event:
        _, cpu, flags, ts, tid, _, buf, data, lens = raw      # one unpack, not seven attribute reads
        if lens == plan.fixed_lens:
            params = dict(zip(plan.names, plan.fixed.unpack_from(buf, data)))  # type: ignore[union-attr]
            for key, translate in plan.translate:
                params[key] = translate(params[key])
        else:
            params = dict(zip(plan.names, map(call, plan.fns, raw.params)))
        name = plan.name
        if plan.generic:
            # id 0 is libs' PPM_SC_UNKNOWN: a syscall the driver had no id for, printed "<unknown>"
            name = syscall_names().get(int(params.get("ID", 0)) or -1, "<unknown>")
        res = None
        if plan.dir == ">":
            # only syscall enter events await an exit: switch, procinfo, signaldeliver ... on the same thread in
            # between must not replace the pending parameters
            if plan.has_exit:
                self._pending[tid] = (name, params)
        else:
            pending = self._pending.pop(tid, None)
            if pending is not None and pending[0] == name and len(lens) < len(plan.names):
                for key, value in pending[1].items():
                    params.setdefault(key, value)
            if plan.res is not None and lens:
                res = params[plan.res]
        # container records at the head of a file describe containers that already exist: libsinsp consumes
        # them while opening the file (as initial state), so they never reach the user
        leading = not self._started and name == "container"
        if not leading:
            self._started = True
        state_only = leading or plan.internal or bool(flags & B.SCAP_DF_STATE_ONLY)
        if tid >= 1 << 63:
            tid -= 1 << 64      # stored unsigned: -1 (no thread) and friends
        # positional: half the cost of keywords on the hot path (the order is checked at import, above)
        return Event(num, ts, name, tid, params, plan.dir, res, cpu, None, state_only, "syscall")

    def skip(self, raw: B.RawEvent, plan: CodePlan) -> None:
        """Account for an event not decoded: what ``decode`` would have done to the pending enter parameters
        and the leading-container state, so the events that are decoded come out the same."""
        if plan.dir == "<" or plan.has_exit:
            # an unwanted enter replaces the thread's pending parameters with ones no wanted exit can merge
            self._pending.pop(raw.tid, None)
        if plan.starts:
            self._started = True


@cache
def _has_exit(code: int) -> bool:
    enter, exit_ = EC.lookup(code), EC.lookup(code + 1)
    return enter is not None and exit_ is not None and enter.name == exit_.name


def _with_flags(fn: EC.Decoder, translate: Callable[[int], int] | None) -> EC.Decoder:
    if translate is None:
        return fn
    return lambda raw: translate(v) if isinstance(v := fn(raw), int) else v


def _memo_from_falco(table: FlagTable) -> Callable[[int], int]:
    """``table.from_falco`` remembering its answers: a capture repeats the same few flag values."""
    memo: dict[int, int] = {}

    def from_falco(value: int) -> int:
        found = memo.get(value)
        if found is None:
            found = memo[value] = table.from_falco(value)
        return found
    return from_falco


@cache
def linux_flag_tables(code: int) -> tuple[tuple[str, FlagTable], ...]:
    """Parameters of ``code`` stored in Falco's ``PPM_*`` encoding that events carry as Linux values."""
    info = EC.lookup(code)
    spec = event_spec(info.name, info.dir) if info else None
    if spec is None:
        return ()
    out = []
    for p in spec.params:
        if p.table and p.table in FLAG_TABLES and FLAG_TABLES[p.table].has_linux:
            out.append((p.name, FLAG_TABLES[p.table]))
    return tuple(out)
