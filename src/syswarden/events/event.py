"""The shared event model: a syscall or lifecycle event, plus the thread and fd context state attaches to it.

Every source (eBPF, ptrace, scap files, JSONL replay, Linux audit) produces ``Event``s whose ``type`` and
``params`` follow Falco's event table (libs ``driver/event_table.c``): the same event names (``openat``,
``execve``, ``procexit``, ...) and the same parameter names (``fd``, ``dirfd``, ``name``, ``flags``, ``mode``,
``tuple``, ``exe``, ``args`` ...), so ``evt.arg.NAME`` means the same thing whatever the source was.
``state`` then attaches the ``ThreadInfo`` of the calling thread, the ``FdInfo`` the event refers to and its own
lookups (accounts, other threads), and the rules engine reads only these objects.

Values in ``params`` are raw and typed: ints for fds, flags, modes, errnos and ids; ``str`` for paths and names
(already resolved to absolute paths where Falco does so); ``bytes`` for buffers; ``list[str]`` for argv/env;
``SockAddr``/``SockTuple`` for addresses. Formatting them as text (``O_RDONLY|O_CLOEXEC``, ``3(<f>/etc/x)``) is the
fields layer's job.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class FdType(enum.Enum):
    """Kinds of file descriptor, valued by Falco's ``fd.typechar``; ``fd.type`` is ``.name.lower()``-like text."""

    FILE = "f"
    DIRECTORY = "d"
    IPV4 = "4"
    IPV6 = "6"
    UNIX = "u"
    PIPE = "p"
    EVENT = "e"
    SIGNALFD = "s"
    EVENTPOLL = "l"
    INOTIFY = "i"
    TIMERFD = "t"
    NETLINK = "n"
    BPF = "b"
    USERFAULTFD = "r"
    IO_URING = "o"
    MEMFD = "m"
    PIDFD = "P"
    UNKNOWN = "o?"

    @property
    def falco_name(self) -> str:
        """The ``fd.type`` string Falco prints (``file``, ``ipv4``, ``unix`` ...)."""
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class SockAddr:
    """A socket address: family name (``AF_INET``, ``AF_INET6``, ``AF_UNIX``, ...), address text and port."""

    family: str
    addr: str = ""
    port: int = 0


@dataclass(frozen=True, slots=True)
class SockTuple:
    """A connection endpoint pair as Falco's ``tuple`` parameter: source -> destination, with the L4 protocol."""

    family: str
    sip: str
    sport: int
    dip: str
    dport: int
    l4proto: str = "tcp"


@dataclass(slots=True)
class FdInfo:
    """What state knows about one open fd of a process (Falco's ``sinsp_fdinfo``)."""

    num: int
    type: FdType
    name: str = ""                     # fd.name: absolute path, "sip:sport->dip:dport", unix path, pipe id ...
    flags: int = 0                     # open flags for files; socket type for sockets
    dev: int = 0
    ino: int = 0
    l4proto: str = ""                  # "tcp", "udp", "raw", "icmp" ...
    sockfamily: str = ""               # "ip", "unix" ...
    sip: str = ""
    sport: int = 0
    dip: str = ""
    dport: int = 0
    is_server: bool = False            # role server: accepted, or bound to a port (decides fd.lport vs fd.rport)
    servsock: bool = False             # libsinsp's IPv4/IPv6 *server socket*: bound to a port > 0 (or a /proc
                                       # socket without a peer); dip/dport hold its address, sip/sport are empty
    connected: bool = False
    name_changed: bool = False
    open_ts: int = 0
    nameraw: str = ""                  # fd.nameraw: the path as the open call gave it, if not already ``name``


@dataclass(slots=True)
class ThreadInfo:
    """One thread of one process (Falco's ``sinsp_threadinfo``). Process-wide values live on every thread."""

    tid: int
    pid: int                           # thread group id (what users call the pid)
    ptid: int = 0                      # parent process id
    comm: str = ""                     # proc.name: the kernel's task comm, up to 15 chars
    exe: str = ""                      # proc.exe: argv[0] as executed
    exepath: str = ""                  # proc.exepath: full path of the executable
    args: list[str] = field(default_factory=list)   # argv[1:]
    env: list[str] = field(default_factory=list)
    cwd: str = ""
    uid: int = -1
    gid: int = -1
    euid: int = -1
    egid: int = -1
    loginuid: int = -1                 # 4294967295 (unset) is normalised to -1
    tty: int = 0
    sid: int = 0
    vpid: int = 0
    vtid: int = 0
    vpgid: int = 0
    start_ts: int = 0                  # clone time, ns since epoch
    exe_writable: bool = False
    exe_upper_layer: bool = False
    exe_lower_layer: bool = False
    exe_from_memfd: bool = False
    exe_ino: int = 0
    exe_ino_ctime: int = 0
    exe_ino_mtime: int = 0
    cap_permitted: int = 0
    cap_effective: int = 0
    cap_inheritable: int = 0
    container_id: str = ""             # "" = host; 12-hex id for containers
    container_runtime: str = ""
    parent: ThreadInfo | None = None   # the parent process's main thread, maintained by state
    fds: dict[int, FdInfo] = field(default_factory=dict)
    exited: bool = False

    @property
    def cmdline(self) -> str:
        """proc.cmdline: the comm followed by the arguments, space separated (Falco's definition)."""
        return " ".join([self.comm, *self.args]) if self.args else self.comm


@dataclass(frozen=True, slots=True)
class AuditInfo:
    """What a Linux audit event knows beyond the syscall (the ``audit.*`` fields): the audit event id, the rule
    keys that matched, the login uid and session, whether the syscall succeeded, the normalised action
    (go-libaudit's ``opened-file``, ``violated-seccomp-policy`` ...) and the record type it came from."""

    serial: int
    record_type: str
    keys: tuple[str, ...] = ()
    auid: int = -1                     # 4294967295 (unset) is -1
    ses: int = -1
    success: bool | None = None
    action: str = ""
    node: str = ""


@dataclass(slots=True)
class Event:
    """One event. ``dir`` is ``"<"`` for exit (the default, and the only one modern drivers emit) or ``">"``."""

    num: int                           # evt.num, 1-based, counts state-only events too
    ts: int                            # ns since the epoch
    type: str                          # Falco event name: "openat", "execve", "clone", "procexit", ...
    tid: int
    params: dict[str, Any] = field(default_factory=dict)
    dir: str = "<"
    res: int | None = None             # syscall return value on exit events
    cpu: int = 0
    pid: int | None = None             # tgid if the source knows it; state fills thread.pid anyway
    state_only: bool = False           # feeds state, never reaches rules (scap SCAP_DF_STATE_ONLY)
    source: str = "syscall"
    thread: ThreadInfo | None = None   # attached by state
    fd: FdInfo | None = None           # the fd this event refers to, attached by state
    #: The tables the event was resolved against (users, groups, every thread), attached by state as an object
    #: with ``user(uid)``, ``group(gid)`` and ``thread(tid)`` (``rules.fields.lookups.Lookups``). Per event,
    #: not per process, so two pipelines in one process each name things from their own tables.
    lookups: Any = field(default=None, compare=False, repr=False)
    #: Set by the Linux audit source only (``AuditInfo``); None for every other source.
    audit: AuditInfo | None = field(default=None, compare=False, repr=False)

    @property
    def is_exit(self) -> bool:
        return self.dir == "<"
