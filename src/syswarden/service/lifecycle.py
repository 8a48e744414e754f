"""``monitor`` as a service: signals, SIGHUP reload, the startup banner, stats. Around a ``Pipeline``.

* SIGTERM, SIGINT: stop reading. The source's event stream ends after the event being handled (a flag checked
  between events, so an alert is never half counted); if no event arrives within half a second (an idle
  system, a blocked read), SIGALRM interrupts the wait. Then the pipeline closes the source (every BPF link
  detached) and the outputs, which drain within ``outputs_queue.drain_timeout``; what they could not deliver is
  counted. ``run`` returns the summary and the CLI exits 0.
* SIGHUP: reload config and rules on a thread, while events keep flowing; the engine swaps to the new rules
  between two events. If the new rules (or config) fail to load, the old ones keep running and the error is
  logged with its ``file:line:col``. Output settings that changed rebuild the outputs (the old ones drain);
  otherwise the outputs are reopened (logrotate). The kernel's syscall set and prefilter follow the new rules.
* SIGUSR1: reopen the outputs and print the stats (summary and outputs table), as before.
"""
from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from syswarden.errors import SyswardenError
from syswarden.escaping import escape_text
from syswarden.outputs.fanout import Fanout, drain
from syswarden.service.delivery import build_fanout
from syswarden.service.pipeline import Pipeline, Summary

if TYPE_CHECKING:
    from syswarden.events.event import Event
    from syswarden.rules.ruleset import Ruleset
    from syswarden.service.config import MonitorConfig

Reloader = Callable[[], "tuple[MonitorConfig, Ruleset]"]
STOP_GRACE_S = 0.5
# frames a stop never cuts: an alert's fan-out, an event half judged, a batch half sent to the shard workers
_EMITTING = frozenset({"_emit", "emit", "process", "apply", "step", "dispatch"})


class StopNow(BaseException):
    """Raised by SIGALRM after a stop request when the source is waiting for events (nothing is in flight)."""


class _StopFlag:
    __slots__ = ("stopped", "looping")

    def __init__(self) -> None:
        self.stopped = False
        self.looping = False


class StoppableSource:
    """The pipeline's source, whose ``events()`` ends at the first event boundary after a stop request."""

    def __init__(self, source: Any, flag: _StopFlag) -> None:
        self._source = source
        self._flag = flag

    def events(self) -> Iterator[Event]:
        return self._until_stopped(self._source.events())

    def raw_batches(self) -> Iterator[Any]:
        """The eBPF source's undecoded batches (``monitor --workers``), ending the same way."""
        return self._until_stopped(self._source.raw_batches())

    def _until_stopped(self, inner: Iterator[Any]) -> Iterator[Any]:
        flag = self._flag
        flag.looping = True
        try:
            for item in inner:
                yield item
                if flag.stopped:
                    break
        finally:
            flag.looping = False
            inner.close()   # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._source, name)


def output_settings(cfg: MonitorConfig) -> tuple[Any, ...]:
    """What the outputs are built from: a change means rebuilding them on reload."""
    d = cfg.delivery
    return (cfg.alert_format(), cfg.stdout_enabled, cfg.file_output, d.syslog_output, d.program_output,
            d.http_output, d.nats_output, d.outputs_queue)


class Service:
    """Runs ``pipeline`` with the signal handling above; ``fanout`` is the pipeline's one output."""

    def __init__(self, pipeline: Pipeline, fanout: Fanout, cfg: MonitorConfig, *, reload: Reloader | None = None,
                 output_file: str | None = None, log: Callable[[str], None] | None = None,
                 on_stats: Callable[[], None] | None = None) -> None:
        self.pipeline = pipeline
        self.fanout = fanout
        self.cfg = cfg
        self.reloader = reload
        self.output_file = output_file
        self.log = log or (lambda message: None)
        self.on_stats = on_stats
        self.stop_signal: int | None = None
        self.source_label = ""
        self.reloads = 0
        self.reload_failures = 0
        self._flag = _StopFlag()
        self._reload_lock = threading.Lock()
        self.reload_done = threading.Event()

    @property
    def stopping(self) -> bool:
        """A stop was requested (``/healthz`` answers 503 from then on)."""
        return self._flag.stopped

    # -- signal handlers (main thread, between two bytecodes) ---------------------------------------------

    def _on_stop(self, signum: int, _frame: object) -> None:
        if self._flag.stopped:
            return
        self._flag.stopped = True
        self.stop_signal = signum
        signal.setitimer(signal.ITIMER_REAL, STOP_GRACE_S)

    def _on_alarm(self, _signum: int, frame: Any) -> None:
        if not self._flag.looping:
            return
        # Never cut an alert's fan-out in half: if the main thread is emitting, look again a little later.
        while frame is not None:
            if frame.f_code.co_name in _EMITTING:
                signal.setitimer(signal.ITIMER_REAL, 0.05)
                return
            frame = frame.f_back
        raise StopNow()

    def _on_hup(self, _signum: int, _frame: object) -> None:
        threading.Thread(target=self.reload, name="syswarden-reload", daemon=True).start()

    def _on_usr1(self, _signum: int, _frame: object) -> None:
        self.fanout.reopen()
        if self.on_stats is not None:
            self.on_stats()

    # -- running -------------------------------------------------------------------------------------------

    def run(self, limit: int | None = None) -> Summary:
        self.pipeline.source = StoppableSource(self.pipeline.source, self._flag)
        handlers = {signal.SIGTERM: self._on_stop, signal.SIGINT: self._on_stop, signal.SIGALRM: self._on_alarm,
                    signal.SIGHUP: self._on_hup, signal.SIGUSR1: self._on_usr1}
        previous = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
        try:
            summary = self.pipeline.run(limit)
        except StopNow:
            summary = self.pipeline.summary
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        summary.stopped = self._flag.stopped
        return summary

    def reload(self) -> bool:
        """Reload config and rules now (SIGHUP's thread); True when the new ones are in force."""
        if self.reloader is None:
            self.log("syswarden: SIGHUP: nothing to reload (no config or rules files); outputs reopened")
            self.fanout.reopen()
            return False
        with self._reload_lock:
            try:
                return self._reload(self.reloader)
            finally:
                self.reload_done.set()

    def _reload(self, reloader: Reloader) -> bool:
        try:
            cfg, ruleset = reloader()
            new_outputs = build_fanout(cfg, self.output_file, log=self.log).outputs \
                if output_settings(cfg) != output_settings(self.cfg) else None
        except SyswardenError as err:
            self.reload_failures += 1
            self.log("syswarden: reload failed; the previous rules and config stay in force:\n" + err.detail())
            return False
        self.pipeline.engine.swap(ruleset, rule_matching=cfg.rule_matching)
        self.pipeline.reselect(ruleset)      # the kernel's syscall set and prefilter follow the new rules
        if new_outputs is not None:
            drain(self.fanout.swap(new_outputs), time.monotonic() + cfg.delivery.outputs_queue.drain_timeout)
        else:
            self.fanout.reopen()
        self.cfg = cfg
        self.reloads += 1
        self.log(f"syswarden: reloaded: {rule_counts(ruleset)}"
                 + ("; outputs rebuilt" if new_outputs is not None else "; outputs reopened"))
        if not ruleset.active:
            self.log(zero_rules_warning(ruleset))
        return True


def rule_counts(ruleset: Ruleset) -> str:
    return f"{len(ruleset.rules)} rules loaded, {len(ruleset.active)} enabled"


def zero_rules_warning(ruleset: Ruleset) -> str:
    return (f"syswarden: warning: no rule is enabled ({len(ruleset.rules)} loaded); nothing will be detected "
            "(check -p, -t, -T, -D and the rules' enabled flags)")


def banner(*, version: str, source: str, config_path: str | None, rules_files: list[str], ruleset: Ruleset,
           outputs: str, webserver: str | None) -> str:
    """Falco-like startup lines for stderr (every name escaped: paths come from the command line)."""
    lines = [f"syswarden {version}: monitor starting",
             f"Configuration:   {config_path or 'built-in defaults'}",
             f"Rules files:     {', '.join(rules_files) or 'the stock Falco rules'}",
             f"Rules:           {rule_counts(ruleset)}",
             f"Event source:    {source}",
             f"Outputs:         {outputs}"]
    if webserver:
        lines.append(f"Webserver:       {webserver}")
    return "\n".join(escape_text(line) for line in lines)
