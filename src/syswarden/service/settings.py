"""The effective configuration: built-in defaults < the config file < ``--option`` < command-line flags.

``monitor`` computes it at start and again on SIGHUP (the same file, options and flags), and ``config show``
prints it, so what is shown is what runs. ``DEFAULT_CONFIG`` is where ``service install`` puts the file.
"""
from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence
from typing import Any

from syswarden.rules.alert import Priority
from syswarden.service.config import MonitorConfig, load_config

DEFAULT_CONFIG = "/etc/syswarden/syswarden.yaml"


def effective_config(path: str | None, options: Sequence[str] = (), *, json_output: bool | None = None,
                     rule_matching: str | None = None, priority: Priority | None = None,
                     rules_files: Sequence[str] = ()) -> MonitorConfig:
    """The config file and options, with each flag that was given (not None, not empty) on top."""
    cfg = load_config(path, options)
    flags: dict[str, Any] = {"json_output": json_output, "rule_matching": rule_matching, "priority": priority,
                             "rules_files": tuple(rules_files) or None}
    return dataclasses.replace(cfg, **{k: v for k, v in flags.items() if v is not None})


def config_document(cfg: MonitorConfig) -> dict[str, Any]:
    """The effective settings as falco.yaml keys (for ``config show``): every section, defaults included."""
    doc: dict[str, Any] = {
        "rules_files": list(cfg.rules_files), "json_output": cfg.json_output,
        "json_include_output_property": cfg.json_include_output_property,
        "json_include_tags_property": cfg.json_include_tags_property,
        "json_include_message_property": cfg.json_include_message_property,
        "json_include_output_fields_property": cfg.json_include_output_fields_property,
        "time_format_iso_8601": cfg.time_format_iso_8601, "priority": cfg.priority.name.lower(),
        "rule_matching": cfg.rule_matching, "stdout_output": {"enabled": cfg.stdout_enabled},
        "file_output": _plain(cfg.file_output), "ebpf": _plain(cfg.ebpf),
        "syscall_event_drops": _plain(cfg.syscall_event_drops),
    }
    for section in dataclasses.fields(cfg.delivery):
        doc[section.name] = _plain(getattr(cfg.delivery, section.name))
    if cfg.append_output:
        doc["append_output"] = [{"match": {k: v for k, v in (("source", a.source), ("rule", a.rule),
                                                              ("tags", sorted(a.tags))) if v},
                                 "extra_output": a.extra_output,
                                 "extra_fields": [{n: f} if f is not None else n for n, f in a.extra_fields]}
                                for a in cfg.append_output]
    return doc


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.name.lower()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
