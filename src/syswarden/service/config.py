"""falco.yaml for ``syswarden monitor -c FILE --option KEY=VALUE``: the subset syswarden implements, typed.

Precedence is built-in defaults < the file < ``--option`` (in order) < explicit ``monitor`` flags; this module
does the first three, ``cli/monitor_cmd.py`` the last. What is read:

* ``rules_files`` (or the older ``rules_file``): a path or a list of paths;
* ``json_output``, ``json_include_output_property``, ``json_include_tags_property``,
  ``json_include_message_property``, ``json_include_output_fields_property``, ``time_format_iso_8601``: booleans;
* ``priority`` (a Falco priority name) and ``rule_matching`` (``first`` | ``all``);
* ``stdout_output.enabled``, and the output sections ``file_output``, ``syslog_output``, ``program_output``,
  ``http_output``, ``nats_output`` (ours), ``outputs_queue``, ``webserver``, ``metrics`` (``output_config.py``);
* ``append_output``: a list of ``{match: {source, tags, rule}, extra_output, extra_fields}``;
* ``ebpf`` (ours): ``workers`` (decode, state and rules of the live eBPF source in that many processes) and
  ``ring_buffer_size`` (``output_config.EbpfConfig``);
* ``syscall_event_drops``: ``actions``, ``threshold``, ``rate``, ``max_burst``, ``simulate_drops``
  (``drop_actions.py``).

A key Falco has that syswarden does not implement (``engine``, ``grpc_output``, ...) is a warning naming it
and its line, once; a key neither knows is a warning too (Falco's schema validation only warns). A value of
the wrong type is an error naming ``file:line:col`` and what was expected. As in Falco, ``${VAR}`` in a string
is replaced by the environment variable (``$${`` keeps a literal ``${``).
"""
from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from syswarden import doctree
from syswarden.errors import InputError, did_you_mean
from syswarden.rules.alert import AlertFormat, Priority
from syswarden.rules.output_format import AppendOutput
from syswarden.service.drop_actions import SyscallEventDropsConfig, read_syscall_event_drops
from syswarden.service.output_config import SECTIONS, DeliveryConfig, EbpfConfig, FileOutputConfig, read_section
from syswarden.spans import SourceText, Span

RuleMatching = Literal["first", "all"]

# Top-level keys of falco.yaml (Falco 0.35 .. 0.42 and its JSON schema) that syswarden reads ...
IMPLEMENTED = frozenset({
    "rules_files", "rules_file", "json_output", "json_include_output_property", "json_include_tags_property",
    "json_include_message_property", "json_include_output_fields_property", "time_format_iso_8601", "priority",
    "rule_matching", "stdout_output", "file_output", "append_output", "ebpf", "syscall_event_drops", *SECTIONS,
})
# ... and those it knows but does not implement: accepted with a warning so a stock falco.yaml works.
FALCO_ONLY = frozenset({
    "config_files", "watch_config_files", "rule_files", "rules", "engine", "capture", "load_plugins", "plugins",
    "plugins_hostinfo", "buffer_format_base64", "buffered_outputs", "outputs", "grpc_output", "grpc",
    "log_stderr", "log_syslog", "log_level", "libs_logger", "output_timeout", "syscall_event_timeouts",
    "base_syscalls",
    "falco_libs", "static_fields", "syscall_buf_size_preset", "syscall_drop_failed_exit", "modern_bpf",
    "metadata_download",
})
_ENV = re.compile(r"\$\$\{|\$\{([^}]*)\}")


class ConfigError(InputError):
    """A falco.yaml (or ``--option``) value has the wrong type, or the file is not YAML."""

    code = "config"


@dataclass(frozen=True, slots=True)
class Located:
    """A value from the file or an ``--option``, with where it came from (``origin`` for ``--option``)."""

    value: Any                        # dict[str, Located] | list[Located] | scalar
    span: Span | None = None          # the value's position
    origin: str = ""
    key_span: Span | None = None      # the key's position, for values in a mapping

    def where(self) -> str:
        span = self.key_span or self.span
        return str(span) if span is not None else self.origin


@dataclass(frozen=True, slots=True)
class MonitorConfig:
    """The settings ``monitor`` takes from falco.yaml and ``--option``; defaults are Falco's."""

    rules_files: tuple[str, ...] = ()                 # empty: syswarden's stock rules
    json_output: bool = False
    json_include_output_property: bool = True
    json_include_tags_property: bool = True
    json_include_message_property: bool = False
    json_include_output_fields_property: bool = True
    time_format_iso_8601: bool = False
    priority: Priority = Priority.DEBUG
    rule_matching: RuleMatching = "first"
    stdout_enabled: bool = True
    file_output: FileOutputConfig = FileOutputConfig()
    append_output: tuple[AppendOutput, ...] = ()
    delivery: DeliveryConfig = DeliveryConfig()       # syslog, program, http, nats, queue, webserver, metrics
    ebpf: EbpfConfig = EbpfConfig()  # noqa: RUF009 - frozen, so one shared default is safe; ours: the live eBPF source's workers and ring buffer
    syscall_event_drops: SyscallEventDropsConfig = SyscallEventDropsConfig()  # noqa: RUF009 - frozen
    warnings: tuple[str, ...] = ()
    positions: dict[str, str] = field(default_factory=dict)     # dotted key -> where it was set

    def alert_format(self) -> AlertFormat:
        return AlertFormat(json_output=self.json_output, include_output=self.json_include_output_property,
                           include_tags=self.json_include_tags_property,
                           include_message=self.json_include_message_property,
                           include_output_fields=self.json_include_output_fields_property,
                           time_iso_8601=self.time_format_iso_8601)


def load_config(path: str | os.PathLike[str] | None = None, options: Sequence[str] = ()) -> MonitorConfig:
    """Defaults, overlaid with the file at ``path`` (if any), then each ``KEY=VALUE`` option in order."""
    tree: dict[str, Located] = {}
    if path is not None:
        tree = read_file(Path(path))
    for option in options:
        set_option(tree, option)
    return interpret(tree)


def read_file(path: Path) -> dict[str, Located]:
    return parse_text(doctree.read_source(path, ConfigError, what="config file").text, str(path))


def parse_text(text: str, name: str) -> dict[str, Located]:
    """The YAML document as ``Located`` values; an empty document is an empty mapping."""
    source = SourceText(name, text)
    node = doctree.parse_yaml(source, ConfigError, duplicates="last")
    if node.is_null:
        return {}
    root = _located(node)
    if not isinstance(root.value, dict):
        raise ConfigError("expected a mapping of settings at the top of the file", span=root.span, source=source)
    return root.value


def _located(node: doctree.Node) -> Located:
    """A doctree node as ``Located`` values (aliases become shared subtrees, walked once each use)."""
    if isinstance(node.value, dict):
        return Located({key: dataclasses.replace(_located(value), key_span=node.key_spans[key])
                        for key, value in node.value.items()}, node.span)
    if isinstance(node.value, list):
        return Located([_located(item) for item in node.value], node.span)
    return Located(_expand_env(node.value), node.span)


def _expand_env(value: Any) -> Any:
    """Falco's ``${VAR}`` expansion in string values (unset is empty; ``$${`` is a literal ``${``)."""
    if not isinstance(value, str) or "$" not in value:
        return value
    return _ENV.sub(lambda m: "${" if m.group(0) == "$${" else os.environ.get(m.group(1), ""), value)


def set_option(tree: dict[str, Located], option: str) -> None:
    """Apply ``KEY=VALUE``: a dotted key (``file_output.enabled``) and a YAML value (``true``, ``[a, b]``)."""
    origin = f"--option {option!r}"
    key, sep, raw = option.partition("=")
    parts = key.split(".")
    if not sep or not all(parts):
        raise ConfigError(f"{origin}: expected KEY=VALUE with a dotted KEY, e.g. file_output.enabled=true")
    if "[" in key:
        raise ConfigError(f"{origin}: list indexes in keys (KEY[N], KEY[]) are not supported; "
                          "give the whole list as the value, e.g. rules_files=[a.yaml, b.yaml]")
    try:
        node = doctree.parse_yaml(SourceText(origin, raw), ConfigError)
    except ConfigError as exc:
        raise ConfigError(f"{origin}: the value is not valid YAML: {exc.message}") from None
    value = Located(None, origin=origin) if node.is_null and not node.text else _with_origin(_located(node), origin)
    where = tree
    for part in parts[:-1]:
        current = where.get(part)
        if current is None or not isinstance(current.value, dict):
            current = Located({}, origin=origin)
            where[part] = current
        where = current.value
    where[parts[-1]] = value


def _with_origin(loc: Located, origin: str) -> Located:
    """An option's value positions name the option, not a line of a file."""
    if isinstance(loc.value, dict):
        return Located({k: _with_origin(v, origin) for k, v in loc.value.items()}, origin=origin)
    if isinstance(loc.value, list):
        return Located([_with_origin(v, origin) for v in loc.value], origin=origin)
    return Located(loc.value, origin=origin)


# -- interpretation -----------------------------------------------------------------------------------------

@dataclass(slots=True)
class _Reader:
    warnings: list[str] = field(default_factory=list)
    positions: dict[str, str] = field(default_factory=dict)

    def warn_unimplemented(self, key: str, loc: Located, falco_has: bool, known: Iterable[str] = ()) -> None:
        what = "is a Falco setting syswarden does not implement" if falco_has else "is not a Falco setting"
        hint = "" if falco_has else did_you_mean(key.rpartition(".")[2], known, cutoff=0.8)
        self.warnings.append(f"{loc.where()}: '{key}' {what}; ignored{hint}")

    def check_keys(self, section: str, loc: Located, known: Iterable[str]) -> dict[str, Located]:
        """The section's mapping; keys outside ``known`` are warned about (Falco's schema only warns)."""
        mapping: dict[str, Located] = _expect(loc, dict, f"'{section}' to be a mapping")
        for key, sub in mapping.items():
            if key not in known:
                self.warn_unimplemented(f"{section}.{key}", sub, False, known)
        return mapping


def _fail(loc: Located, message: str) -> ConfigError:
    return ConfigError(f"{message}" if loc.span is not None else f"{loc.origin}: {message}", span=loc.span)


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", dict: "a mapping",
            list: "a list"}.get(type(value), type(value).__name__) + f" {_short(value)}"


def _short(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return ""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _expect(loc: Located, kind: type, expected: str) -> Any:
    value = loc.value
    if kind is dict and isinstance(value, dict):
        return value
    if kind is list and isinstance(value, list):
        return value
    if kind is bool and isinstance(value, bool):
        return value
    if kind is str and isinstance(value, str):
        return value
    raise _fail(loc, f"expected {expected}, got {_type_name(_plain(value))}".rstrip())


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v.value) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v.value) for v in value]
    return value


def _bool(key: str, loc: Located) -> bool:
    return bool(_expect(loc, bool, f"'{key}' to be a boolean (true or false)"))


def _str(key: str, loc: Located) -> str:
    return str(_expect(loc, str, f"'{key}' to be a string"))


def _str_list(key: str, loc: Located) -> tuple[str, ...]:
    if isinstance(loc.value, str):
        return (loc.value,)
    items = _expect(loc, list, f"'{key}' to be a string or a list of strings")
    return tuple(_str(f"{key}[{i}]", item) for i, item in enumerate(items))


def interpret(tree: dict[str, Located]) -> MonitorConfig:
    """The typed settings of a parsed tree; raises ``ConfigError`` on the first value of the wrong type."""
    reader = _Reader()
    values: dict[str, Any] = {}
    delivery: dict[str, Any] = {}
    for key, loc in tree.items():
        if key not in IMPLEMENTED:
            reader.warn_unimplemented(key, loc, key in FALCO_ONLY, IMPLEMENTED | FALCO_ONLY)
            continue
        reader.positions[key] = loc.where()
        if key in ("rules_files", "rules_file"):
            # Falco reads rules_files when both are given; the older name is an alias.
            if key == "rules_files" or "rules_files" not in tree:
                values["rules_files"] = _str_list(key, loc)
        elif key == "priority":
            values["priority"] = _priority(loc)
        elif key == "rule_matching":
            values["rule_matching"] = _rule_matching(loc)
        elif key == "stdout_output":
            section = reader.check_keys(key, loc, ("enabled",))
            if "enabled" in section:
                values["stdout_enabled"] = _bool("stdout_output.enabled", section["enabled"])
        elif key in ("file_output", "ebpf"):
            values[key] = read_section(reader, key, loc)
        elif key in SECTIONS:
            delivery[key] = read_section(reader, key, loc)
        elif key == "append_output":
            values["append_output"] = _append_output(reader, loc)
        elif key == "syscall_event_drops":
            values[key] = read_syscall_event_drops(reader, loc)
        else:
            values[key] = _bool(key, loc)
    return MonitorConfig(**values, delivery=DeliveryConfig(**delivery), warnings=tuple(reader.warnings),
                         positions=reader.positions)


def _priority(loc: Located) -> Priority:
    text = _str("priority", loc)
    prio = Priority.parse(text)
    if prio is None:
        names = ", ".join(p.name.lower() for p in Priority)
        raise _fail(loc, f"expected 'priority' to be one of {names} (or info), got {text!r}")
    return prio


def _rule_matching(loc: Located) -> RuleMatching:
    text = _str("rule_matching", loc)
    if text not in ("first", "all"):
        raise _fail(loc, f"expected 'rule_matching' to be first or all, got {text!r}")
    return "first" if text == "first" else "all"


def _append_output(reader: _Reader, loc: Located) -> tuple[AppendOutput, ...]:
    items = _expect(loc, list, "'append_output' to be a list of entries")
    out: list[AppendOutput] = []
    for i, item in enumerate(items):
        name = f"append_output[{i}]"
        entry = reader.check_keys(name, item, ("match", "extra_output", "extra_fields", "suggested_output"))
        if "suggested_output" in entry:
            # Falco appends the fields plugins suggest; syswarden has no plugins, so there is nothing to add.
            _bool(f"{name}.suggested_output", entry["suggested_output"])
        match = reader.check_keys(f"{name}.match", entry["match"], ("source", "tags", "rule")) \
            if "match" in entry else {}
        out.append(AppendOutput(
            source=_str(f"{name}.match.source", match["source"]) if "source" in match else None,
            tags=frozenset(_tags(f"{name}.match.tags", match["tags"])) if "tags" in match else frozenset(),
            rule=_str(f"{name}.match.rule", match["rule"]) if "rule" in match else None,
            extra_output=_str(f"{name}.extra_output", entry["extra_output"]) if "extra_output" in entry else "",
            extra_fields=_extra_fields(f"{name}.extra_fields", entry["extra_fields"])
            if "extra_fields" in entry else (),
            span=item.span))
        if out[-1].rule is not None and out[-1].tags:
            # Falco warns too: both conditions must hold, which is rarely what was meant.
            reader.warnings.append(f"{item.where()}: {name} matches rule {out[-1].rule!r} only when it also has "
                                   f"all the tags {', '.join(sorted(out[-1].tags))}")
    return tuple(out)


def _tags(key: str, loc: Located) -> tuple[str, ...]:
    items = _expect(loc, list, f"'{key}' to be a list of tags")
    return tuple(_str(f"{key}[{i}]", item) for i, item in enumerate(items))


def _extra_fields(key: str, loc: Located) -> tuple[tuple[str, str | None], ...]:
    """``- name: "format"`` (formatted text) or ``- field.name`` (the field's typed value); no key twice."""
    items = _expect(loc, list, f"'{key}' to be a list of field names or one-key mappings")
    out: dict[str, str | None] = {}
    for i, item in enumerate(items):
        where = f"{key}[{i}]"
        if isinstance(item.value, str):
            name, fmt = item.value, None
        elif isinstance(item.value, dict) and len(item.value) == 1:
            ((name, value),) = item.value.items()
            fmt = _str(f"{where}.{name}", value)
        else:
            raise _fail(item, f"expected '{where}' to be a field name or a mapping with one key, "
                              f"got {_type_name(_plain(item.value))}".rstrip())
        if name in out:
            raise _fail(item, f"'{where}' defines the extra field {name!r} a second time")
        out[name] = fmt
    return tuple(out.items())
