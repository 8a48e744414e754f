"""Metrics: Prometheus text on ``/metrics``, ``/healthz``, and periodic JSON stats, from the running service.

Nothing is counted twice or on the hot path for the exposition: a ``prometheus_client`` collector reads the
counters the pipeline, the source, the engine and the outputs keep anyway, when a scrape comes. The only
extra work per event is the rule-evaluation timer, which times one event in ``SAMPLE_EVERY`` (an estimate:
``syswarden_rule_evaluation_seconds`` count and sum cover the sampled events only).

Names are ``syswarden_*`` (docs/outputs.md maps them to Falco's ``falcosecurity_*`` ones). The webserver is
``wsgiref``'s threaded server on its own daemon thread; it never touches the engine.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from socketserver import ThreadingMixIn

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.process_collector import ProcessCollector

from syswarden import __version__
from syswarden.escaping import escape_text, json_line

if TYPE_CHECKING:
    from syswarden.service.lifecycle import Service

SAMPLE_EVERY = 64
_PAGE = os.sysconf("SC_PAGE_SIZE")


class SampledTimer:
    """Wraps ``engine.process``: times one call in ``SAMPLE_EVERY``."""

    def __init__(self, process: Callable[[Any], Any]) -> None:
        self._process = process
        self._n = 0
        self.count = 0
        self.seconds = 0.0

    def __call__(self, event: Any) -> Any:
        self._n += 1
        if self._n % SAMPLE_EVERY:
            return self._process(event)
        start = time.perf_counter()
        try:
            return self._process(event)
        finally:
            self.seconds += time.perf_counter() - start
            self.count += 1


def time_rules(engine: Any) -> SampledTimer:
    """Install the sampled timer on ``engine`` (before the pipeline's loop looks ``process`` up). A sharded
    engine (``service/shards.py``) has its own, summing what its workers time."""
    if isinstance(existing := getattr(engine, "timer", None), SampledTimer):
        return existing
    timer = SampledTimer(engine.process)
    engine.process = timer
    return timer


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


def source_name(service: Service) -> str:
    return str(getattr(service, "source_label", "") or "syscall")


class ServiceCollector:
    """A ``prometheus_client`` collector over one ``Service``."""

    def __init__(self, service: Service, timer: SampledTimer | None = None) -> None:
        self.service = service
        self.timer = timer

    def collect(self) -> Iterator[Metric]:
        svc = self.service
        pipeline = svc.pipeline
        summary = pipeline.summary
        stats = pipeline.source.stats
        src = source_name(svc)
        yield _counter("syswarden_events", "Events the rules evaluated", {"source": src}, summary.events)
        yield _counter("syswarden_events_state_only", "Events that fed state only", {"source": src},
                       summary.state_only)
        yield _counter("syswarden_events_dropped", "Events the source lost (kernel ring buffer full ...)",
                       {"source": src}, stats.drops)
        per_cpu = CounterMetricFamily("syswarden_events_dropped_per_cpu", "Events lost, per CPU",
                                      labels=["source", "cpu"])
        for cpu, drops in sorted(stats.drops_per_cpu.items()):
            per_cpu.add_metric([src, str(cpu)], drops)
        yield per_cpu
        filtered = getattr(stats, "kernel_filtered", None)
        if filtered is not None:
            yield _counter("syswarden_events_kernel_filtered", "Events the kernel prefilter discarded",
                           {"source": src}, filtered)
        yield _counter("syswarden_records_skipped", "Malformed records skipped", {"source": src}, stats.skipped)
        alerts = CounterMetricFamily("syswarden_alerts", "Alerts raised, per rule and priority",
                                     labels=["rule", "priority"])
        priorities = {r.name: r.priority.label for r in pipeline.engine.ruleset.rules}
        for rule, count in sorted(summary.by_rule.items()):
            alerts.add_metric([escape_text(rule), priorities.get(rule, "unknown")], count)
        yield alerts
        yield from self._outputs()
        ruleset = pipeline.engine.ruleset
        yield _gauge("syswarden_rules_loaded", "Rules loaded", {}, len(ruleset.rules))
        yield _gauge("syswarden_rules_enabled", "Rules enabled", {}, len(ruleset.active))
        reloads = CounterMetricFamily("syswarden_reloads", "SIGHUP reloads", labels=["result"])
        reloads.add_metric(["ok"], svc.reloads)
        reloads.add_metric(["failed"], svc.reload_failures)
        yield reloads
        if self.timer is not None:
            yield SummaryMetricFamily("syswarden_rule_evaluation_seconds",
                                      f"Time to evaluate the rules on one event (1 event in {SAMPLE_EVERY} timed)",
                                      count_value=self.timer.count, sum_value=self.timer.seconds)
        yield _gauge("syswarden_memory_rss_bytes", "Resident set size", {}, rss_bytes())
        yield _gauge("syswarden_build_info", "Version", {"version": __version__}, 1)

    def _outputs(self) -> Iterator[Metric]:
        families: dict[str, GaugeMetricFamily | CounterMetricFamily] = {
            "depth": GaugeMetricFamily("syswarden_outputs_queue_depth", "Alerts waiting", labels=["output"]),
            "capacity": GaugeMetricFamily("syswarden_outputs_queue_capacity", "Queue bound", labels=["output"]),
            "delivered": CounterMetricFamily("syswarden_outputs_delivered", "Alerts delivered",
                                             labels=["output"]),
            "failures": CounterMetricFamily("syswarden_outputs_failures", "Failed delivery attempts",
                                            labels=["output"]),
            "undelivered": CounterMetricFamily("syswarden_outputs_undelivered",
                                               "Alerts that will not be delivered, by reason",
                                               labels=["output", "reason"]),
        }
        for s in self.service.fanout.stats():
            name = escape_text(s.name)
            families["depth"].add_metric([name], s.depth)
            families["capacity"].add_metric([name], s.capacity)
            families["delivered"].add_metric([name], s.delivered)
            families["failures"].add_metric([name], s.failures)
            for reason, value in (("overflow", s.dropped), ("rejected", s.rejected), ("shutdown", s.undelivered)):
                families["undelivered"].add_metric([name, reason], value)
        yield from families.values()


def _counter(name: str, doc: str, labels: dict[str, str], value: float) -> CounterMetricFamily:
    family = CounterMetricFamily(name, doc, labels=list(labels))
    family.add_metric(list(labels.values()), value)
    return family


def _gauge(name: str, doc: str, labels: dict[str, str], value: float) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=list(labels))
    family.add_metric(list(labels.values()), value)
    return family


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class Webserver:
    """``/metrics`` (Prometheus text, when enabled) and the health endpoint on ``address:port``."""

    def __init__(self, service: Service, *, address: str, port: int, healthz: str = "/healthz",
                 prometheus: bool = True, timer: SampledTimer | None = None) -> None:
        registry = CollectorRegistry()
        registry.register(ServiceCollector(service, timer))
        registry.register(ProcessCollector(registry=None))
        metrics_app = make_wsgi_app(registry)

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
            path = environ.get("PATH_INFO", "")
            if path == healthz:
                up = not service.stopping
                start_response("200 OK" if up else "503 Service Unavailable",
                               [("Content-Type", "application/json")])
                return [b'{"status": "ok"}' if up else b'{"status": "stopping"}']
            if prometheus and path == "/metrics":
                body: list[bytes] = metrics_app(environ, start_response)
                return body
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found\n"]

        self.server = make_server(address, port, app, server_class=_ThreadingServer, handler_class=_Quiet)
        self.port = self.server.server_port
        self._thread = threading.Thread(target=self.server.serve_forever, name="syswarden-webserver", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def stats_document(service: Service) -> dict[str, Any]:
    """One JSON stats record (the periodic stats and ``metrics.output_file``)."""
    pipeline = service.pipeline
    summary = pipeline.summary
    stats = pipeline.source.stats
    return {"time": time.time(), "source": source_name(service), "events": summary.events,
            "state_only": summary.state_only, "drops": stats.drops, "alerts": summary.alerts,
            "alerts_by_rule": dict(summary.by_rule), "rss_bytes": rss_bytes(),
            "outputs": {s.name: {"delivered": s.delivered, "failures": s.failures, "depth": s.depth,
                                 "dropped": s.dropped, "rejected": s.rejected, "undelivered": s.undelivered}
                        for s in service.fanout.stats()}}


class PeriodicStats:
    """Writes ``stats_document`` every ``interval`` seconds as one JSON line to ``path`` (or stderr)."""

    def __init__(self, service: Service, interval: float, path: str = "") -> None:
        self.service = service
        self.interval = max(interval, 0.1)
        self.path = path
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="syswarden-stats", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.write()

    def write(self) -> None:
        line = json_line(stats_document(self.service)) + "\n"
        if self.path:
            try:
                with open(self.path, "a", encoding="ascii") as fh:
                    fh.write(line)
                return
            except OSError as exc:
                print(f"syswarden: metrics.output_file {escape_text(self.path)!r}: {exc.strerror}", file=sys.stderr)
        sys.stderr.write(line)
        sys.stderr.flush()

    def close(self) -> None:
        self._stop.set()
