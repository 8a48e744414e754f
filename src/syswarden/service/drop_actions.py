"""Falco's ``syscall_event_drops``: once a second, look at the drops of the last second and act.

Falco's behaviour (``userspace/falco/event_drops.cpp``, notes/falco.md): at the first event after each second
(event time), take the delta of the source's counters; if events were dropped and ``drops / events`` exceeds
``threshold`` (0..1; the events count includes the drops), that is one *occurrence*; if the token bucket
(``rate`` tokens a second, at most ``max_burst``, full at start) has a token, the ``actions`` run:

* ``ignore``: nothing (an empty list means ignore; ``log`` or ``alert`` after ``ignore`` is an error);
* ``log``: ``Falco internal: syscall event drop. N system calls dropped in last second.`` on stderr, followed
  here by where they were lost (per CPU and type) and which rules may have missed events in that second
  (``drops.drop_report``);
* ``alert``: the internal alert ``Falco internal: syscall event drop`` through the outputs (priority Debug,
  source ``internal``, Falco's output fields: ``n_evts``, ``n_drops``, ``n_drops_buffer_total``, the
  ``n_drops_buffer_*_exit`` categories, ``n_drops_scratch_map``, ``n_drops_page_faults``, ``n_drops_bug``,
  ``ebpf_enabled``, each a string), not counted as a rule's alert;
* ``exit``: the message and ``Exiting.`` on stderr, then the monitor stops with status 1 (a ``SourceError``).

``simulate_drops`` (Falco's test switch) adds one drop to every check and forces the threshold to 0; Falco's
regression cases use it on captures. The summary ends with Falco's two counters (``event drop detected: N
occurrences``, ``num times actions taken: M``) once anything was detected or drops are simulated.
Defaults are falco.yaml's: ``actions: [log, alert]``, ``threshold: .1``, ``rate: .03333``, ``max_burst: 1``.
"""
from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from syswarden.errors import SourceError
from syswarden.escaping import escape_text, json_line
from syswarden.rules.alert import Alert, AlertFormat, DEFAULT_FORMAT, JSON_FORMAT, Priority, format_iso_utc
from syswarden.service.drops import drop_report
from syswarden.sources.base import SourceStats

if TYPE_CHECKING:
    from syswarden.rules.ruleset import Ruleset
    from syswarden.service.config import Located, _Reader

RULE = "Falco internal: syscall event drop"
ACTIONS = ("ignore", "log", "alert", "exit")
ONE_SECOND_NS = 1_000_000_000
# Falco's drop categories (libs' kernel counters) for the event types syswarden counts drops of
CATEGORIES = {
    "clone_fork_exit": {"clone", "clone3", "fork", "vfork", "clone (child)"},
    "execve_exit": {"execve", "execveat"}, "connect_exit": {"connect"},
    "open_exit": {"open", "openat", "openat2", "creat"},
    "dir_file_exit": {"mkdir", "mkdirat", "rmdir", "unlink", "unlinkat", "rename", "renameat", "renameat2",
                      "link", "linkat", "symlink", "symlinkat", "chdir", "fchdir"},
    "other_interest_exit": set(), "close_exit": {"close"}, "proc_exit": {"procexit"},
}


@dataclass(frozen=True, slots=True)
class SyscallEventDropsConfig:
    actions: tuple[str, ...] = ("log", "alert")
    threshold: float = 0.1
    rate: float = 0.03333
    max_burst: float = 1.0
    simulate_drops: bool = False


def read_syscall_event_drops(reader: _Reader, loc: Located) -> SyscallEventDropsConfig:
    """The section, checked as Falco checks it (errors at the value's position)."""
    from syswarden.service import config

    section = reader.check_keys("syscall_event_drops", loc, [f.name for f in fields(SyscallEventDropsConfig)])
    values: dict[str, Any] = {}
    if "actions" in section:
        values["actions"] = _actions(config, section["actions"])
    for name in ("threshold", "rate", "max_burst"):
        if name in section:
            item = section[name]
            if isinstance(item.value, bool) or not isinstance(item.value, (int, float)):
                raise config._fail(item, f"expected 'syscall_event_drops.{name}' to be a number, got "
                                         f"{config._type_name(config._plain(item.value))}")
            if name == "threshold" and not 0 <= item.value <= 1:
                raise config._fail(item, "syscall event drops threshold must be a double in the range [0, 1]")
            if item.value < 0:
                raise config._fail(item, f"expected 'syscall_event_drops.{name}' to be a number >= 0, got "
                                         f"{item.value}")
            values[name] = float(item.value)
    if "simulate_drops" in section:
        values["simulate_drops"] = config._bool("syscall_event_drops.simulate_drops", section["simulate_drops"])
    return SyscallEventDropsConfig(**values)


def _actions(config: Any, loc: Located) -> tuple[str, ...]:
    items = config._expect(loc, list, "'syscall_event_drops.actions' to be a list of actions")
    chosen: list[str] = []
    for i, item in enumerate(items):
        act = config._str(f"syscall_event_drops.actions[{i}]", item)
        if act not in ACTIONS:
            raise config._fail(item, 'available actions for syscall event drops are "ignore", "log", "alert", '
                                     f'and "exit", got {act!r}')
        if act in ("log", "alert") and "ignore" in chosen:
            raise config._fail(item, f'syscall event drop action "{act}" does not make sense with the "ignore" '
                                     'action')
        if act not in chosen:
            chosen.append(act)
    return tuple(chosen) or ("ignore",)


@dataclass(frozen=True, slots=True)
class InternalAlert(Alert):
    """Falco's ``handle_msg`` rendering: text ``TIME: Priority MESSAGE (k="v" ...)``; JSON with ``output`` the
    bare message, string ``output_fields``, source ``internal`` and no tags, whatever the json_include options."""

    def text_line(self, fmt: AlertFormat = DEFAULT_FORMAT) -> str:
        pairs = " ".join(f'{k}={json_line(v)}' for k, v in sorted(self.output_fields.items()))
        return escape_text(f"{self.prefix(fmt)} {self.output} ({pairs})")

    def to_dict(self, fmt: AlertFormat = JSON_FORMAT) -> dict[str, Any]:
        return {"hostname": self.hostname, "output": self.output, "output_fields": dict(self.output_fields),
                "priority": self.priority.label, "rule": self.rule, "source": self.source,
                "time": format_iso_utc(self.time_ns)}


@dataclass(slots=True)
class _Window:
    events: int = 0
    drops: int = 0
    per_cpu: dict[int, int] | None = None
    per_type: dict[str, int] | None = None


class DropMonitor:
    """Falco's drop manager for one run. ``check(now_ns, stats)`` is called with each event's time (or, in a
    sharded run, each batch's) and returns the time of the next check."""

    def __init__(self, cfg: SyscallEventDropsConfig, *, emit: Callable[[Alert], None], hostname: str,
                 ebpf: bool, ruleset: Callable[[], Ruleset | None],
                 log: Callable[[str], None] = lambda text: print(text, file=sys.stderr)) -> None:
        self.cfg = cfg
        self.threshold = 0.0 if cfg.simulate_drops else cfg.threshold
        self.emit, self.hostname, self.ebpf, self.ruleset, self.log = emit, hostname, ebpf, ruleset, log
        self.occurrences = 0
        self.actions_taken = 0
        self.next_check = 0
        self._last = _Window()
        self._tokens = cfg.max_burst
        self._token_time: int | None = None

    def check(self, now_ns: int, stats: SourceStats) -> int:
        if self.next_check == 0:        # the first event arms the clock; the counters start from zero (start-up
            self.next_check = now_ns + ONE_SECOND_NS     # drops count in the first second, as in Falco)
            return self.next_check
        if now_ns <= self.next_check:
            return self.next_check
        self.next_check = now_ns + ONE_SECOND_NS
        window = self._delta(stats)
        if self.cfg.simulate_drops:
            window.drops += 1
        if window.drops > 0 and window.drops / max(window.events + window.drops, 1) > self.threshold:
            self.occurrences += 1
            if self._claim(now_ns):
                self.actions_taken += 1
                self._act(now_ns, window)
        return self.next_check

    def _delta(self, stats: SourceStats) -> _Window:
        last = self._last
        per_cpu = {c: n - (last.per_cpu or {}).get(c, 0) for c, n in stats.drops_per_cpu.items()}
        per_type = {t: n - (last.per_type or {}).get(t, 0) for t, n in stats.drops_per_type.items()}
        self._last = _Window(stats.events, stats.drops, dict(stats.drops_per_cpu), dict(stats.drops_per_type))
        return _Window(stats.events - last.events, stats.drops - last.drops,
                       {c: n for c, n in per_cpu.items() if n}, {t: n for t, n in per_type.items() if n})

    def _claim(self, now_ns: int) -> bool:
        """Falco's token bucket: ``rate`` tokens a second up to ``max_burst``, one per action."""
        if self._token_time is not None:
            gained = self.cfg.rate * max(now_ns - self._token_time, 0) / ONE_SECOND_NS
            self._tokens = min(self._tokens + gained, self.cfg.max_burst)
        self._token_time = now_ns
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    def _act(self, now_ns: int, window: _Window) -> None:
        message = f"{RULE}. {window.drops} system calls dropped in last second."
        actions = self.cfg.actions
        if "log" in actions or "exit" in actions:
            self.log(f"syswarden: {message}")
            report = drop_report(SourceStats(drops=window.drops, drops_per_cpu=window.per_cpu or {},
                                             drops_per_type=window.per_type or {}), self.ruleset())
            if report is not None and (window.per_cpu or window.per_type):
                self.log("\n".join(escape_text(f"  {line}") for line in report.lines()))
        if "alert" in actions:
            self.emit(InternalAlert(rule=RULE, priority=Priority.DEBUG, output=message, time_ns=now_ns,
                                    source="internal", hostname=self.hostname,
                                    output_fields=self._fields(window)))
        if "exit" in actions:
            self.log("syswarden: Exiting.")
            raise SourceError(f"{window.drops} events dropped in the last second; stopping as "
                           "syscall_event_drops.actions says (exit)")

    def _fields(self, window: _Window) -> dict[str, str]:
        categories = dict.fromkeys(CATEGORIES, 0)
        for name, count in (window.per_type or {}).items():
            category = next((c for c, names in CATEGORIES.items() if name in names), "other_interest_exit")
            categories[category] += count
        out = {"n_evts": str(window.events + window.drops), "n_drops": str(window.drops),
               "n_drops_buffer_total": str(window.drops)}
        out.update({f"n_drops_buffer_{c}": str(n) for c, n in categories.items()})
        out.update(n_drops_scratch_map="0", n_drops_page_faults="0", n_drops_bug="0",
                   ebpf_enabled="1" if self.ebpf else "0")
        return out

    def lines(self) -> list[str]:
        """Falco's end-of-run counters, when there is anything to say."""
        if not (self.occurrences or self.cfg.simulate_drops):
            return []
        return ["Syscall event drop monitoring:", f"   - event drop detected: {self.occurrences} occurrences",
                f"   - num times actions taken: {self.actions_taken}"]


__all__ = ["DropMonitor", "InternalAlert", "SyscallEventDropsConfig", "read_syscall_event_drops"]
