"""Builds the outputs a config asks for, each behind its own queue, fanned out from one ``Fanout``.

``build_fanout(cfg, output_file)`` is the one place that turns falco.yaml's output sections into sinks:
stdout, file (``-o FILE`` replaces the configured outputs, as before), syslog, program, HTTP and the NATS
bus. Every sink gets a ``QueuedOutput`` with ``outputs_queue.capacity`` (0 means our default bound: a queue is
never unbounded) and ``outputs_queue.overflow``; the fan-out drains them together within
``outputs_queue.drain_timeout`` at exit. ``describe`` lists them for the startup banner.
"""
from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from syswarden.escaping import escape_text
from syswarden.outputs.fanout import Fanout
from syswarden.outputs.file import FileOutput
from syswarden.outputs.queue import DEFAULT_CAPACITY, Overflow, QueuedOutput, Sink
from syswarden.outputs.stdout import StreamOutput

if TYPE_CHECKING:
    from syswarden.service.config import MonitorConfig


def _log(message: str) -> None:
    print(escape_text(message), file=sys.stderr, flush=True)


def build_sinks(cfg: MonitorConfig, output_file: str | None = None,
                echo: Callable[[str], None] | None = None) -> list[tuple[str, Sink]]:
    """(name, sink) for every enabled output, in Falco's order: stdout, file, syslog, program, http; then nats."""
    fmt = cfg.alert_format()
    if output_file:
        return [(f"file:{output_file}", FileOutput(output_file, alert_format=fmt))]
    d = cfg.delivery
    sinks: list[tuple[str, Sink]] = []
    if cfg.stdout_enabled:
        sinks.append(("stdout", StreamOutput(alert_format=fmt)))
    fo = cfg.file_output
    if fo.enabled:
        sinks.append((f"file:{fo.filename}", FileOutput(fo.filename, alert_format=fmt, keep_alive=fo.keep_alive,
                                                         max_size=fo.max_size, keep=fo.keep, fsync=fo.fsync)))
    if d.syslog_output.enabled:
        from syswarden.outputs.syslog import SyslogOutput, SyslogTarget

        so = d.syslog_output
        target = SyslogTarget.parse(so.address)
        sinks.append((f"syslog:{target}", SyslogOutput(target, fmt=so.format or None, facility=so.facility,
                                                        ident=so.ident, alert_format=fmt)))
    if d.program_output.enabled:
        from syswarden.outputs.program import ProgramOutput

        po = d.program_output
        sinks.append(("program", ProgramOutput(po.program, alert_format=fmt, keep_alive=po.keep_alive)))
    if d.http_output.enabled:
        sinks.append((f"http:{d.http_output.url}", _http(cfg, echo)))
    if d.nats_output.enabled:
        from syswarden.outputs.jetstream import JetStreamOutput

        no = d.nats_output
        sinks.append((f"nats:{no.url}", JetStreamOutput(
            no.url, spool_dir=no.spool_dir, spool_max_bytes=no.spool_max_size, subject_prefix=no.subject_prefix,
            stream=no.stream, create_stream=no.create_stream, host=no.host, publish_timeout=no.publish_timeout,
            max_age=no.max_age, duplicate_window=no.duplicate_window)))
    return sinks


def _http(cfg: MonitorConfig, echo: Callable[[str], None] | None) -> Sink:
    from syswarden.errors import InputError
    from syswarden.outputs.http import DEFAULT_USER_AGENT, HttpOutput, tls_context

    ho = cfg.delivery.http_output
    if not ho.url:
        raise InputError("http_output.enabled is true but http_output.url is empty; expected http://HOST:PORT/")
    tls = None
    if ho.url.startswith("https:"):
        tls = tls_context(insecure=ho.insecure, ca_cert=ho.ca_cert, ca_bundle=ho.ca_bundle, ca_path=ho.ca_path,
                          client_cert=ho.client_cert if ho.mtls else "", client_key=ho.client_key if ho.mtls else "")
    return HttpOutput(ho.url, alert_format=replace(cfg.alert_format(), json_output=True), headers=ho.headers,
                      user_agent=ho.user_agent or DEFAULT_USER_AGENT, tls=tls, compress=ho.compress_uploads,
                      keep_alive=ho.keep_alive, timeout=ho.timeout, health_path=ho.health_path,
                      echo=(echo or _log) if ho.echo else None)


def check_outputs(cfg: MonitorConfig) -> None:
    """What can be checked without connecting: syslog address and facility, the HTTP URL and TLS files, the
    NATS URL. Raises ``InputError`` (``config validate``; ``monitor`` finds the same when it builds them)."""
    from syswarden.errors import InputError
    from syswarden.outputs.syslog import SyslogTarget, facility_code

    d = cfg.delivery
    if d.syslog_output.enabled:
        SyslogTarget.parse(d.syslog_output.address)
        if facility_code(d.syslog_output.facility) is None:
            raise InputError(f"syslog_output.facility {d.syslog_output.facility!r} is not a syslog facility")
    if d.http_output.enabled:
        _http(cfg, None)
    if d.nats_output.enabled and not d.nats_output.url.startswith(("nats://", "tls://")):
        raise InputError(f"nats_output.url {d.nats_output.url!r}: expected nats://HOST:PORT")


def build_fanout(cfg: MonitorConfig, output_file: str | None = None,
                 log: Callable[[str], None] = _log) -> Fanout:
    """Every enabled output behind its own bounded queue."""
    q = cfg.delivery.outputs_queue
    capacity = q.capacity or DEFAULT_CAPACITY
    overflow: Overflow = "drop_oldest" if q.overflow == "drop_oldest" else "drop_newest"
    outputs = [QueuedOutput(name, sink, capacity=capacity, overflow=overflow, log=log)
               for name, sink in build_sinks(cfg, output_file)]
    return Fanout(outputs, drain_timeout=q.drain_timeout)


def describe(fanout: Fanout) -> str:
    """``stdout, file:/var/log/a.txt, http:...`` (queue bound) for the banner."""
    if not fanout.outputs:
        return "none"
    cap = fanout.outputs[0].stats
    return ", ".join(escape_text(o.name) for o in fanout.outputs) + f" (queue {cap.capacity} each, {cap.overflow})"
