"""falco.yaml parsing for monitor: typed settings, warnings for what we ignore, errors with positions."""
from __future__ import annotations

from pathlib import Path

import pytest

from syswarden.rules.alert import Priority
from syswarden.service.config import ConfigError, load_config

GOOD = """\
rules_files:
  - /etc/falco/falco_rules.yaml
json_output: true
json_include_output_property: false
json_include_tags_property: false
json_include_message_property: true
time_format_iso_8601: true
priority: warning
rule_matching: all
stdout_output:
  enabled: false
file_output:
  enabled: true
  keep_alive: true
  filename: ${SW_TEST_DIR}/events.txt
append_output:
  - match:
      source: syscall
      tags: [filesystem]
    extra_output: "on CPU %evt.cpu"
    extra_fields:
      - home: "$${HOME}"
      - evt.type
log_level: info
no_such_key: 1
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "falco.yaml"
    path.write_text(text)
    return path


def test_good_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every implemented key is read with its type; ${VAR} expands, $${ stays literal."""
    monkeypatch.setenv("SW_TEST_DIR", "/var/log/sw")
    cfg = load_config(write(tmp_path, GOOD))
    assert cfg.rules_files == ("/etc/falco/falco_rules.yaml",)
    assert cfg.json_output and not cfg.json_include_output_property and not cfg.json_include_tags_property
    assert cfg.json_include_message_property and cfg.json_include_output_fields_property
    assert cfg.time_format_iso_8601 and cfg.priority is Priority.WARNING and cfg.rule_matching == "all"
    assert not cfg.stdout_enabled
    assert (cfg.file_output.enabled, cfg.file_output.keep_alive, cfg.file_output.filename) == \
        (True, True, "/var/log/sw/events.txt")
    (entry,) = cfg.append_output
    assert entry.source == "syscall" and entry.tags == {"filesystem"} and entry.rule is None
    assert entry.extra_output == "on CPU %evt.cpu"
    assert entry.extra_fields == (("home", "${HOME}"), ("evt.type", None))
    assert cfg.positions["priority"] == f"{tmp_path / 'falco.yaml'}:8:1"


def test_warnings_name_key_and_line(tmp_path: Path) -> None:
    """A Falco key we do not implement and an unknown key are warnings (once each), not errors."""
    cfg = load_config(write(tmp_path, GOOD))
    path = tmp_path / "falco.yaml"
    assert cfg.warnings == (f"{path}:24:1: 'log_level' is a Falco setting syswarden does not implement; ignored",
                            f"{path}:25:1: 'no_such_key' is not a Falco setting; ignored")


def test_defaults_are_falcos() -> None:
    cfg = load_config(None)
    assert not cfg.json_output and cfg.json_include_output_property and cfg.json_include_tags_property
    assert not cfg.json_include_message_property and cfg.stdout_enabled and not cfg.file_output.enabled
    assert cfg.file_output.filename == "./events.txt" and cfg.priority is Priority.DEBUG
    assert cfg.rule_matching == "first" and cfg.warnings == ()


@pytest.mark.parametrize(("text", "where", "expected"), [
    ("json_output: maybe\n", "1:14", "expected 'json_output' to be a boolean (true or false), got a string 'maybe'"),
    ("priority: severe\n", "1:11", "expected 'priority' to be one of"),
    ("rule_matching: some\n", "1:16", "expected 'rule_matching' to be first or all, got 'some'"),
    ("file_output:\n  enabled: 1\n", "2:12", "expected 'file_output.enabled' to be a boolean"),
    ("file_output: true\n", "1:14", "expected 'file_output' to be a mapping"),
    ("rules_files: [a.yaml, 3]\n", "1:23", "expected 'rules_files[1]' to be a string, got an integer 3"),
    ("append_output:\n  - extra_fields: [[a]]\n", "2:20", "expected 'append_output[0].extra_fields[0]' to be a field"),
    ("append_output:\n  - extra_fields: [a, a]\n", "2:23", "defines the extra field 'a' a second time"),
    ("json_output: [true\n", "1:14", "malformed YAML: the '[' opened here is never closed"),
    ("- a\n", "1:1", "expected a mapping of settings"),
    ("ebpf:\n  workers: 0\n", "2:12", "expected 'ebpf.workers' to be a whole number from 1 to 256, got 0"),
    ("ebpf:\n  workers: two\n", "2:12", "expected 'ebpf.workers' to be a whole number >= 0, got a string"),
    ("ebpf: {ring_buffer_size: 2G}\n", "1:26", "expected 'ebpf.ring_buffer_size' to be from 1 byte"),
    ("syscall_event_drops:\n  actions: [alert, panic]\n", "2:20", 'available actions for syscall event drops'),
    ("syscall_event_drops:\n  actions: [ignore, alert]\n", "2:21", '"alert" does not make sense with the "ignore"'),
    ("syscall_event_drops: {threshold: 1.5}\n", "1:34", "threshold must be a double in the range [0, 1]"),
    ("syscall_event_drops: {rate: fast}\n", "1:29", "expected 'syscall_event_drops.rate' to be a number"),
])
def test_errors_name_file_line_col(tmp_path: Path, text: str, where: str, expected: str) -> None:
    """A value of the wrong type is an error at file:line:col saying what was expected."""
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    assert str(info.value).startswith(f"{tmp_path / 'falco.yaml'}:{where}: "), str(info.value)
    assert expected in str(info.value)


def test_options_override_the_file(tmp_path: Path) -> None:
    """--option values are YAML-typed, dotted keys reach into sections, later options win."""
    path = write(tmp_path, "json_output: false\nfile_output:\n  enabled: false\n  filename: a.txt\n")
    cfg = load_config(path, ["json_output=true", "file_output.enabled=yes", "priority=ERROR",
                             "rules_files=[x.yaml, y.yaml]", "json_output=False"])
    assert not cfg.json_output and cfg.file_output.enabled and cfg.file_output.filename == "a.txt"
    assert cfg.priority is Priority.ERROR and cfg.rules_files == ("x.yaml", "y.yaml")
    assert cfg.positions["json_output"] == "--option 'json_output=False'"
    assert load_config(path, ["ebpf.workers=4"]).ebpf.workers == 4 and cfg.ebpf.workers == 1
    assert load_config(path, ["ebpf.ring_buffer_size=4K"]).ebpf.ring_buffer_size == 4096


@pytest.mark.parametrize(("option", "expected"), [
    ("json_output", "expected KEY=VALUE"),
    ("file_output..enabled=true", "expected KEY=VALUE"),
    ("rules_files[]=a.yaml", "list indexes in keys"),
    ("json_output=[", "the value is not valid YAML"),
    ("json_output=on-ish", "--option 'json_output=on-ish': expected 'json_output' to be a boolean"),
])
def test_bad_options(option: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, [option])
    assert expected in str(info.value)


def test_stock_falco_yaml_loads_with_warnings_only() -> None:
    """Falco's own falco.yaml (the harness default) loads: our keys typed, the rest warned about."""
    stock = Path(__file__).resolve().parents[2] / ".." / "shared" / "anchors" / "falco" / "tests" / \
        "upstream_root" / "falco.yaml"
    if not stock.is_file():
        pytest.skip("shared/anchors not present")
    cfg = load_config(stock)
    assert cfg.stdout_enabled and not cfg.file_output.enabled and not cfg.json_output
    assert any("'base_syscalls' is a Falco setting" in w for w in cfg.warnings)
    drops = cfg.syscall_event_drops          # Falco's own defaults, written out in its falco.yaml
    assert drops.actions == ("log", "alert") and drops.threshold == 0.1 and drops.max_burst == 1
    assert not any("is not a Falco setting" in w for w in cfg.warnings)
