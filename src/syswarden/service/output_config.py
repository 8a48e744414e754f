"""falco.yaml's output, queue, webserver and metrics sections, and our ``ebpf`` section, typed (read by
``service/config.py``).

Falco's keys keep Falco's names, types and defaults; the keys syswarden adds are marked "ours" here and in
docs/config.md. Each section is a frozen dataclass whose fields are the section's keys; ``KINDS`` says how a
key's value is read (``duration``: ``"5s"``, ``"500ms"``, ``"1h"`` or a number of seconds; ``size``: bytes,
or ``"64M"``/``"1G"``/``"512K"``, powers of 1024). A wrong type is a ``ConfigError`` at the value's position.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from syswarden.service.config import Located, _Reader


@dataclass(frozen=True, slots=True)
class FileOutputConfig:
    enabled: bool = False
    keep_alive: bool = False
    filename: str = "./events.txt"
    max_size: int = 0                 # ours: rotate before the file passes this many bytes (0: never)
    keep: int = 5                     # ours: rotated files kept (FILE.1 .. FILE.<keep>)
    fsync: bool = False               # ours: fsync after every alert


@dataclass(frozen=True, slots=True)
class SyslogOutputConfig:
    enabled: bool = False             # Falco's default is true; ours is false (docs/config.md)
    address: str = ""                 # ours: "" or unix:///dev/log (local), udp://HOST:PORT, tcp://HOST:PORT
    format: str = ""                  # ours: rfc3164 | rfc5424 ("": rfc3164 locally, rfc5424 remote)
    facility: str = "user"            # ours (Falco: syslog(3)'s default, user)
    ident: str = "syswarden"          # ours: APP-NAME / TAG


@dataclass(frozen=True, slots=True)
class ProgramOutputConfig:
    enabled: bool = False
    keep_alive: bool = False
    program: str = "jq '{text: .output}' | curl -d @- -X POST https://hooks.slack.com/services/XXX"


@dataclass(frozen=True, slots=True)
class HttpOutputConfig:
    enabled: bool = False
    url: str = ""
    user_agent: str = ""              # "" = syswarden/VERSION
    insecure: bool = False
    ca_cert: str = ""
    ca_bundle: str = ""
    ca_path: str = "/etc/ssl/certs"
    mtls: bool = False
    client_cert: str = "/etc/ssl/certs/client.crt"
    client_key: str = "/etc/ssl/certs/client.key"
    echo: bool = False
    compress_uploads: bool = False
    keep_alive: bool = False
    max_consecutive_timeouts: int = 5   # read for compatibility; retries are bounded by the queue instead
    headers: dict[str, str] = field(default_factory=dict)     # ours: extra request headers
    timeout: float = 5.0              # ours: seconds per request
    health_path: str = "/healthz"     # ours: asked after a failure before posting again ("" = never)


@dataclass(frozen=True, slots=True)
class NatsOutputConfig:               # ours, the whole section
    enabled: bool = False
    url: str = "nats://127.0.0.1:4222"
    subject_prefix: str = "syswarden.alerts"
    stream: str = "SYSWARDEN_ALERTS"
    create_stream: bool = True
    host: str = ""                    # the subject's host token ("" = the alert's hostname)
    spool_dir: str = "/var/lib/syswarden/spool"
    spool_max_size: int = 64 << 20
    publish_timeout: float = 2.0
    max_age: float = 0.0              # the stream's retention when syswarden creates it (0: unlimited)
    duplicate_window: float = 120.0


@dataclass(frozen=True, slots=True)
class OutputsQueueConfig:
    capacity: int = 0                 # Falco: 0 = unbounded; syswarden: 0 = 10000 per output (always bounded)
    overflow: str = "drop_newest"     # ours: drop_newest (Falco's behaviour) | drop_oldest
    drain_timeout: float = 5.0        # ours: seconds to drain the queues at exit


@dataclass(frozen=True, slots=True)
class WebserverConfig:
    enabled: bool = False             # Falco's default is true; ours is false (a monitor binds no port unasked)
    listen_address: str = "127.0.0.1"  # Falco: 0.0.0.0
    listen_port: int = 8765
    k8s_healthz_endpoint: str = "/healthz"
    prometheus_metrics_enabled: bool = False
    threadiness: int = 0              # read for compatibility
    ssl_enabled: bool = False         # read; true is an error (not implemented)
    ssl_certificate: str = "/etc/falco/falco.pem"     # read for compatibility


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    enabled: bool = False
    interval: float = 3600.0
    output_rule: bool = False         # Falco's default is true: syswarden writes stats to output_file/stderr
    output_file: str = ""             # JSON lines; "" = the log (stderr)
    rules_counters_enabled: bool = True
    resource_utilization_enabled: bool = True
    state_counters_enabled: bool = True
    kernel_event_counters_enabled: bool = True
    kernel_event_counters_per_cpu_enabled: bool = False
    libbpf_stats_enabled: bool = False
    plugins_metrics_enabled: bool = False
    jemalloc_stats_enabled: bool = False
    convert_memory_to_mb: bool = True
    include_empty_values: bool = False


@dataclass(frozen=True, slots=True)
class EbpfConfig:                     # ours, the whole section: the live eBPF source (docs/ebpf-probe.md)
    workers: int = 1                  # decode, state and rules in this many processes (1: in the monitor's own)
    ring_buffer_size: int = 8 << 20   # bytes, rounded up to a power of two (at least one page)


MAX_WORKERS = 256


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    """Every output section but stdout and file (kept in ``MonitorConfig`` where ``monitor`` reads them)."""

    syslog_output: SyslogOutputConfig = SyslogOutputConfig()
    program_output: ProgramOutputConfig = ProgramOutputConfig()
    http_output: HttpOutputConfig = HttpOutputConfig()
    nats_output: NatsOutputConfig = NatsOutputConfig()
    outputs_queue: OutputsQueueConfig = OutputsQueueConfig()
    webserver: WebserverConfig = WebserverConfig()
    metrics: MetricsConfig = MetricsConfig()


SECTIONS: dict[str, type] = {
    "file_output": FileOutputConfig, "syslog_output": SyslogOutputConfig, "program_output": ProgramOutputConfig,
    "http_output": HttpOutputConfig, "nats_output": NatsOutputConfig, "outputs_queue": OutputsQueueConfig,
    "webserver": WebserverConfig, "metrics": MetricsConfig, "ebpf": EbpfConfig}
# How a key is read when its default's type does not say (str/bool/int go by the default).
KINDS: dict[str, Any] = {
    "max_size": "size", "spool_max_size": "size", "ring_buffer_size": "size",
    "timeout": "duration", "publish_timeout": "duration",
    "max_age": "duration", "duplicate_window": "duration", "drain_timeout": "duration", "interval": "duration",
    "headers": "headers", "overflow": ("drop_newest", "drop_oldest"), "format": ("", "rfc3164", "rfc5424"),
}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}
_SIZE = re.compile(r"^\s*(\d+)\s*([KMG]i?B?)?\s*$", re.IGNORECASE)


def parse_duration(text: str) -> float | None:
    match = _DURATION.match(text)
    return None if match is None else float(match.group(1)) * _UNITS[match.group(2)]


def parse_size(text: str) -> int | None:
    match = _SIZE.match(text)
    if match is None:
        return None
    unit = (match.group(2) or "").upper()[:1]
    return int(match.group(1)) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[unit]


def read_section(reader: _Reader, key: str, loc: Located) -> Any:
    """The dataclass of section ``key`` from its mapping; unknown keys warn, wrong types fail."""
    cls = SECTIONS[key]
    known = [f.name for f in fields(cls)]
    section = reader.check_keys(key, loc, known)
    values = {name: _value(f"{key}.{name}", section[name], KINDS.get(name, type(getattr(cls(), name))))
              for name in known if name in section}
    if key == "ebpf" and not 1 <= values.get("workers", 1) <= MAX_WORKERS:
        raise _config().ConfigError(f"expected 'ebpf.workers' to be a whole number from 1 to {MAX_WORKERS}, "
                                    f"got {values['workers']}", span=section["workers"].span)
    if key == "ebpf" and not 0 < values.get("ring_buffer_size", 1) <= 1 << 30:
        raise _config().ConfigError("expected 'ebpf.ring_buffer_size' to be from 1 byte (a page is used) to 1G",
                                    span=section["ring_buffer_size"].span)
    if key == "webserver" and values.get("ssl_enabled"):
        raise _config().ConfigError("webserver.ssl_enabled: TLS on the metrics endpoint is not implemented; "
                                    "put a TLS proxy in front of it", span=section["ssl_enabled"].span)
    return cls(**values)


def _value(name: str, loc: Located, kind: Any) -> Any:
    cfg = _config()
    value = loc.value
    if kind is bool:
        return cfg._bool(name, loc)
    if kind is str:
        return cfg._str(name, loc)
    if kind is int and isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if kind is int:
        raise cfg._fail(loc, f"expected '{name}' to be a whole number >= 0, got {cfg._type_name(cfg._plain(value))}")
    if kind in ("duration", "size"):
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
            return int(value) if kind == "size" else float(value)
        parsed = (parse_duration if kind == "duration" else parse_size)(value) if isinstance(value, str) else None
        if parsed is None:
            example = "a duration like 5s, 500ms, 1h" if kind == "duration" else "a size like 1048576, 64M, 1G"
            raise cfg._fail(loc, f"expected '{name}' to be {example}, got {cfg._type_name(cfg._plain(value))}")
        return parsed
    if kind == "headers":
        mapping = cfg._expect(loc, dict, f"'{name}' to be a mapping of header names to values")
        return {str(k): cfg._str(f"{name}.{k}", v) for k, v in mapping.items()}
    text = cfg._str(name, loc)                       # a choice
    if text not in kind:
        raise cfg._fail(loc, f"expected '{name}' to be one of {', '.join(k for k in kind if k)}, got {text!r}")
    return text


def _config() -> Any:
    """``service.config`` (imported here, not at the top: it imports this module for the dataclasses)."""
    from syswarden.service import config

    return config
