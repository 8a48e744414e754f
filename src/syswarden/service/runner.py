"""Running ``monitor``: outputs, webserver and stats, the startup banner, the run with its signals, the summary.

``run_service`` is what ``syswarden monitor`` calls once its config and rules are loaded: it builds the outputs
(``delivery.py``), opens the pipeline on them, starts the webserver (``/healthz``, ``/metrics``) and the periodic
JSON stats the config asks for (``metrics.py``), arms ``syscall_event_drops`` (``drop_actions.py``), prints the
banner, runs the pipeline under ``Service``'s signal handling (``lifecycle.py``) and prints the summary with the
outputs' table. A webserver that cannot bind is a
warning, not a failure: detection matters more than its metrics.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from syswarden import __version__
from syswarden.errors import SyswardenError
from syswarden.outputs.fanout import Fanout
from syswarden.service.delivery import build_fanout, describe
from syswarden.service.drop_actions import DropMonitor
from syswarden.service.lifecycle import Service, banner, zero_rules_warning
from syswarden.service.metrics import PeriodicStats, Webserver, time_rules
from syswarden.service.pipeline import Pipeline, Summary

if TYPE_CHECKING:
    from syswarden.rules.ruleset import Ruleset
    from syswarden.service.config import MonitorConfig


def run_service(cfg: MonitorConfig, ruleset: Ruleset, open_pipeline: Callable[[Fanout], Pipeline],
                *, reload: Callable[[], tuple[MonitorConfig, Ruleset]], output_file: str | None, quiet: bool,
                config_path: str | None, source_label: str, log: Callable[[str], None]) -> Summary:
    """Outputs, webserver, banner, the run itself with its signals, and the summary at the end."""
    fanout = build_fanout(cfg, output_file)
    try:
        pipeline = open_pipeline(fanout)
    except BaseException:
        fanout.close()
        raise
    engine = pipeline.engine
    pipeline.drop_monitor = DropMonitor(cfg.syscall_event_drops, emit=pipeline.emit_internal,
                                        hostname=engine.hostname, ebpf=source_label == "ebpf",
                                        ruleset=lambda: engine.ruleset, log=log)
    service = Service(pipeline, fanout, cfg, reload=reload, output_file=output_file, log=log,
                      on_stats=lambda: log(pipeline.snapshot().render() + "\n" + fanout.summary()))
    service.source_label = source_label
    web, stats, address = _observability(cfg, service, log)
    if not quiet:
        log(banner(version=__version__, source=source_label, config_path=config_path,
                   rules_files=list(cfg.rules_files), ruleset=ruleset, outputs=describe(fanout), webserver=address))
    if not ruleset.active:
        log(zero_rules_warning(ruleset))
    try:
        summary = service.run()
    except SyswardenError:
        # a damaged recording: what was read before the damage is summarised, then the error is reported
        if not quiet:
            log(pipeline.summary.render() + "\n" + fanout.summary())
        raise
    finally:
        if web is not None:
            web.close()
        if stats is not None:
            stats.write()
            stats.close()
    if not quiet:
        log(summary.render() + "\n" + fanout.summary())
    return summary


def _observability(cfg: MonitorConfig, service: Service,
                   log: Callable[[str], None]) -> tuple[Webserver | None, PeriodicStats | None, str | None]:
    """The webserver (metrics, /healthz) and the periodic JSON stats the config asks for."""
    web_cfg, metrics = cfg.delivery.webserver, cfg.delivery.metrics
    timer = time_rules(service.pipeline.engine) if metrics.enabled else None
    web: Webserver | None = None
    stats: PeriodicStats | None = None
    address: str | None = None
    if web_cfg.enabled:
        prometheus = metrics.enabled and web_cfg.prometheus_metrics_enabled
        try:
            web = Webserver(service, address=web_cfg.listen_address, port=web_cfg.listen_port,
                            healthz=web_cfg.k8s_healthz_endpoint, prometheus=prometheus, timer=timer)
        except OSError as exc:
            log(f"syswarden: warning: webserver: cannot listen on {web_cfg.listen_address}:{web_cfg.listen_port}: "
                f"{exc.strerror}; /healthz and /metrics are off")
        else:
            address = f"http://{web_cfg.listen_address}:{web.port} ({web_cfg.k8s_healthz_endpoint}" + \
                (", /metrics)" if prometheus else ")")
    if metrics.enabled and (metrics.output_file or not web_cfg.prometheus_metrics_enabled):
        stats = PeriodicStats(service, metrics.interval, metrics.output_file)
    return web, stats, address
