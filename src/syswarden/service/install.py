"""``service install``: a hardened systemd unit and a default ``/etc/syswarden/syswarden.yaml``.

The unit runs ``syswarden monitor -c /etc/syswarden/syswarden.yaml`` as root with a capability bounding set
limited to what the eBPF probe and the /proc snapshot need:

* ``CAP_BPF`` and ``CAP_PERFMON``: load and attach the tracing programs, create the ring buffer (Linux >= 5.8);
* ``CAP_SYS_PTRACE``: read other processes' ``/proc/PID/exe``, ``cwd``, ``fd`` for the initial thread table;
* ``CAP_DAC_READ_SEARCH``: read ``/proc`` entries and rules/config files whatever their modes;
* ``CAP_SYS_RESOURCE``: raise ``RLIMIT_MEMLOCK`` on kernels that still charge BPF maps to it.

``ProtectSystem=strict`` makes the file system read-only but for ``/var/log/syswarden`` and
``/var/lib/syswarden`` (alert files, the NATS spool). SIGTERM stops it (drain, flush, summary), SIGHUP
(``systemctl reload``) reloads rules and config, ``Restart=on-failure`` brings it back after a crash.
Everything is written under ``root`` (``/`` by default) so tests and packagers can install into a tree.
"""
from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from syswarden.errors import InputError

UNIT_NAME = "syswarden.service"
UNIT_DIR = "etc/systemd/system"
CONFIG_PATH = "etc/syswarden/syswarden.yaml"
CAPABILITIES = ("CAP_BPF", "CAP_PERFMON", "CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH", "CAP_SYS_RESOURCE")

UNIT = """\
[Unit]
Description=syswarden runtime security monitor (Falco-format rules over eBPF)
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStart={exec_start}
ExecReload=/bin/kill -HUP $MAINPID
KillSignal=SIGTERM
TimeoutStopSec=30
Restart=on-failure
RestartSec=5s
# Least privilege: what the probe and the /proc snapshot need, nothing else.
CapabilityBoundingSet={capabilities}
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=read-only
ReadWritePaths=/var/log/syswarden /var/lib/syswarden
LogsDirectory=syswarden
StateDirectory=syswarden
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectClock=yes
ProtectHostname=yes
ProtectControlGroups=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
RestrictNamespaces=yes
LockPersonality=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
SystemCallArchitectures=native
UMask=0077

[Install]
WantedBy=multi-user.target
"""

DEFAULT_CONFIG = """\
# syswarden's configuration: falco.yaml's keys (docs/config.md), read by
#   syswarden monitor -c /etc/syswarden/syswarden.yaml
# Check it with `syswarden config validate`, see the effective settings with `syswarden config show -c FILE`,
# apply changes with `systemctl reload syswarden` (SIGHUP; bad rules keep the old ones running).

# rules_files: [/etc/syswarden/rules.d]     # default: the stock Falco rules shipped with syswarden
priority: debug
json_output: true

stdout_output:
  enabled: false                  # under systemd stdout is the journal; alerts go to the file below

file_output:
  enabled: true
  keep_alive: true
  filename: /var/log/syswarden/alerts.json
  max_size: 100M                  # rotate: alerts.json.1 .. alerts.json.5
  keep: 5

syslog_output:
  enabled: false
  # address: udp://siem.example:514   # "" = the local socket /dev/log

http_output:
  enabled: false
  url: http://127.0.0.1:2801/     # Falcosidekick

nats_output:
  enabled: false
  url: nats://127.0.0.1:4222
  spool_dir: /var/lib/syswarden/spool

outputs_queue:
  capacity: 10000
  overflow: drop_newest
  drain_timeout: 10s

webserver:
  enabled: true
  listen_address: 127.0.0.1
  listen_port: 8765
  prometheus_metrics_enabled: true

metrics:
  enabled: true
  interval: 15m
"""


@dataclass(frozen=True, slots=True)
class Installed:
    unit: Path
    config: Path
    config_written: bool


def unit_text(config_path: str = "/" + CONFIG_PATH, executable: str | None = None) -> str:
    """The unit; ExecStart runs this Python with ``-m syswarden`` so it works from a venv as from a package."""
    command = [executable or sys.executable, "-m", "syswarden", "monitor", "-c", config_path]
    return UNIT.format(exec_start=shlex.join(command), capabilities=" ".join(CAPABILITIES))


def install(root: str | Path = "/", *, force: bool = False, executable: str | None = None) -> Installed:
    """Write the unit and (unless one exists, or ``force``) the default config under ``root``."""
    base = Path(root)
    if not base.is_dir():
        raise InputError(f"--root {str(base)!r} is not a directory")
    unit = base / UNIT_DIR / UNIT_NAME
    config = base / CONFIG_PATH
    try:
        unit.parent.mkdir(parents=True, exist_ok=True)
        unit.write_text(unit_text(executable=executable))
        written = force or not config.exists()
        if written:
            config.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
            config.write_text(DEFAULT_CONFIG)
            config.chmod(0o600)
    except OSError as exc:
        raise InputError(f"cannot write under {str(base)!r}: {exc.strerror}: {exc.filename}") from exc
    return Installed(unit, config, written)
