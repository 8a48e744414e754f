"""Process confinement status: seccomp mode, filter count, no_new_privs and capabilities, read from
``/proc/PID/status`` (what ``grep Seccomp /proc/*/status`` tries to show, made readable).

Sandbox stage, read-only: nothing here changes a process.
"""
from __future__ import annotations

import enum
import os
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Iterator

# capability(7) numbers, CAP_CHOWN = 0 .. CAP_CHECKPOINT_RESTORE = 40.
CAP_NAMES: tuple[str, ...] = (
    "chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid", "setuid", "setpcap",
    "linux_immutable", "net_bind_service", "net_broadcast", "net_admin", "net_raw", "ipc_lock", "ipc_owner",
    "sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct", "sys_admin", "sys_boot", "sys_nice",
    "sys_resource", "sys_time", "sys_tty_config", "mknod", "lease", "audit_write", "audit_control", "setfcap",
    "mac_override", "mac_admin", "syslog", "wake_alarm", "block_suspend", "audit_read", "perfmon", "bpf",
    "checkpoint_restore",
)
ALL_CAPS = (1 << len(CAP_NAMES)) - 1


class SeccompMode(enum.Enum):
    """The ``Seccomp:`` field of /proc/PID/status."""

    DISABLED = 0
    STRICT = 1
    FILTER = 2


@dataclass(frozen=True, slots=True)
class ProcessStatus:
    """One process's confinement, as the kernel reports it."""

    pid: int
    comm: str
    seccomp: SeccompMode
    filters: int
    no_new_privs: bool
    cap_effective: int
    cap_bounding: int

    @property
    def caps_summary(self) -> str:
        return summarize_caps(self.cap_effective)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["seccomp"] = self.seccomp.name.lower()
        data["cap_effective"] = [CAP_NAMES[i] for i in range(len(CAP_NAMES)) if self.cap_effective >> i & 1]
        data["cap_bounding"] = f"{self.cap_bounding:#x}"
        data["caps"] = self.caps_summary
        return data


def summarize_caps(mask: int) -> str:
    """``all``, ``none``, ``all but X,Y`` or the names (abbreviated past four) of the capabilities in ``mask``."""
    known = mask & ALL_CAPS
    if known == ALL_CAPS:
        return "all"
    names = [CAP_NAMES[i] for i in range(len(CAP_NAMES)) if known >> i & 1]
    if not names:
        return "none"
    if len(names) > len(CAP_NAMES) // 2:
        absent = [CAP_NAMES[i] for i in range(len(CAP_NAMES)) if not known >> i & 1]
        return "all but " + ",".join(absent)
    shown = ",".join(names[:4])
    return shown if len(names) <= 4 else f"{shown},+{len(names) - 4} more"


def parse_status(pid: int, text: str) -> ProcessStatus:
    """Build a ``ProcessStatus`` from the text of /proc/PID/status (kernels without seccomp read as 0)."""
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)

    def num(key: str, base: int = 10) -> int:
        value = fields.get(key, "0").strip()
        return int(value, base) if value else 0

    return ProcessStatus(pid=pid, comm=fields.get("Name", "?").strip(), seccomp=SeccompMode(num("Seccomp")),
                         filters=num("Seccomp_filters"), no_new_privs=bool(num("NoNewPrivs")),
                         cap_effective=num("CapEff", 16), cap_bounding=num("CapBnd", 16))


def read_status(pid: int, proc: str = "/proc") -> ProcessStatus | None:
    """The status of ``pid``, or None when it has exited (or is not readable) in the meantime."""
    try:
        with open(f"{proc}/{pid}/status", encoding="utf-8", errors="replace") as handle:
            return parse_status(pid, handle.read())
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None


def all_pids(proc: str = "/proc") -> list[int]:
    return sorted(int(name) for name in os.listdir(proc) if name.isdigit())


def collect(pids: Iterable[int] | None = None, proc: str = "/proc") -> Iterator[ProcessStatus]:
    """Statuses of ``pids`` (every process when None), skipping those that vanished."""
    for pid in all_pids(proc) if pids is None else pids:
        status = read_status(pid, proc)
        if status is not None:
            yield status
