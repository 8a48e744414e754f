"""Falco's legacy regression suite (falco_tests*.yaml) as data: the detection cases and how to run one.

The harness semantics are Falco's ``test/falco_test.py`` as summarised in ``shared/anchors/falco/tests/SOURCE.md``:
rules files are loaded in order (the stock rules when a case names none), ``-D``/``-T``/``-t`` and ``priority``
select rules, the capture is replayed through state, the first matching rule alerts, and the expectations are
``detect`` (any alert or none), ``detect_level`` (each listed priority alerted) and ``detect_counts`` (exact).

Cases that set output options (``conf_file``, ``json_include_*``, ``time_iso_8601``) run through the real CLI
as Falco's harness runs falco: ``syswarden monitor -c CONF --option json_output=... --option priority=...``
(``run_case_cli``), so the falco.yaml and ``--option`` handling is what they test.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import json
import os
import re
import subprocess
import sys

import yaml

TESTS = Path(__file__).resolve().parents[2] / ".." / "shared" / "anchors" / "falco" / "tests"
CAPTURES = TESTS.parent / "captures"
SUITES = ("falco_tests.yaml", "falco_tests_exceptions.yaml")


class _MuxLoader(yaml.SafeLoader):
    """avocado's ``!mux`` tag marks a plain mapping."""


_MuxLoader.add_constructor("!mux", lambda loader, node: loader.construct_mapping(node, deep=True))


@dataclass(frozen=True)
class Case:
    suite: str
    name: str
    spec: dict[str, Any] = field(hash=False)

    @property
    def id(self) -> str:
        return f"{self.suite.split('.')[0]}::{self.name}"

    def capture(self) -> Path:
        trace = str(self.spec["trace_file"])
        return CAPTURES / ("falco_" + Path(trace).name)

    def rules_files(self) -> tuple[Path, ...]:
        files = self.spec.get("rules_file", "default_rules/falco_rules.yaml")
        items = files if isinstance(files, list) else [files]
        out: list[Path] = []
        for f in items:
            path = TESTS / str(f)
            # Falco loads a rules directory's files in name order
            out.extend(sorted(path.glob("*.yaml")) if path.is_dir() else [path])
        return tuple(out)


# Checks the harness makes that are not about detections, and why this suite does not make them.
NOT_DETECTION = {
    "validate_rules_file": "validation-only case (loader engineer's tests/rules/loader/test_falco_conformance.py)",
    "stderr_not_contains": "checks Falco's own messages on stderr (usage errors, drop statistics)",
    "grpc": "gRPC output was removed from Falco (0.44) and is not implemented",
}
# falco.yaml variants whose subject syswarden does not implement.
CONF_NOT_IMPLEMENTED = {
    "confs/grpc_unix_socket.yaml": "gRPC output was removed from Falco (0.44) and is not implemented",
}
# Falco exits 1 when it refuses its configuration; syswarden exits 2 for bad input (docs/config.md). The cases
# that check a refused falco.yaml expect 2 here, everything else about them is checked as Falco's.
CONFIG_REFUSED = {"monitor_syscall_drops_ignore_and_log", "monitor_syscall_drops_threshold_oor",
                  "monitor_syscall_drops_threshold_neg"}
# Cases whose stderr check is about Falco's own log lines; the rest of the case is checked.
STDERR_NOT_CHECKED = {"time_iso_8601": "stderr_contains matches the ISO timestamps of Falco's own log lines"}
# Keys that make a case run through the CLI with its falco.yaml and options.
CLI_KEYS = ("conf_file", "json_include_output_property", "json_include_tags_property", "time_iso_8601",
            "output_strictly_contains")
UPSTREAM_CONF = TESTS / "upstream_root" / "falco.yaml"
ROOT = Path(__file__).resolve().parents[2]


@cache
def cases() -> tuple[Case, ...]:
    out = []
    for suite in SUITES:
        path = TESTS / suite
        if not path.is_file():
            continue
        data = yaml.load(path.read_text(), Loader=_MuxLoader)
        for name, spec in data["trace_files"].items():
            out.append(Case(suite, name, spec))
    return tuple(out)


def skip_reason(case: Case) -> str | None:
    """Why a case cannot run here, or None."""
    conf = str(case.spec.get("conf_file", ""))
    if conf in CONF_NOT_IMPLEMENTED:
        return CONF_NOT_IMPLEMENTED[conf]
    drops = conf.startswith("confs/drops_")     # syscall_event_drops: stderr is checked (check_stderr)
    for key, reason in NOT_DETECTION.items():
        if key in case.spec and not (drops and key == "stderr_not_contains"):
            return reason
    if "stderr_contains" in case.spec and case.name not in STDERR_NOT_CHECKED and not drops:
        return "checks Falco's own messages on stderr (usage errors, drop statistics)"
    if not case.capture().is_file():
        return f"capture {case.spec['trace_file']} is not in shared/anchors (downloaded by Falco's CI)"
    if int(case.spec.get("exit_status", 0)) != 0:
        return None      # an expected load failure is checked as such
    return None


# Cases that fail because of a gap owned by another part of syswarden; each reason names the gap. They run
# (xfail, not skip), so they turn into failures to remove from here as soon as the gap is closed.
KNOWN_GAPS: dict[str, str] = {}


def expected_counts(case: Case) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in case.spec.get("detect_counts", []) or []:
        counts.update({str(k): int(v) for k, v in item.items()})
    return counts


def run_case(case: Case) -> tuple[Any, Counter[str], Counter[str], list[str]]:
    """Load the case's rules and replay its capture.

    Returns:
        (load result, alerts per rule, alerts per priority, the alerts as Falco's stdout lines: text or JSON).
    """
    from syswarden.rules.alert import Priority
    from syswarden.rules import Engine, load_rules
    from syswarden.rules.ruleset import Selection
    from syswarden.sources.base import SourceConfig
    from syswarden.sources.scap.reader import ScapSource
    from syswarden.state import State

    result = load_rules([str(p) for p in case.rules_files()])
    if result.errors or result.ruleset is None:
        return result, Counter(), Counter(), []
    prio = Priority.parse(str(case.spec.get("priority", "debug"))) or Priority.DEBUG
    selection = Selection(prio, tuple(_as_list(case.spec.get("disabled_rules"))),
                          tuple(_as_list(case.spec.get("disable_tags"))), tuple(_as_list(case.spec.get("run_tags"))))
    engine = Engine(result.ruleset, selection=selection, hostname="test-falco-hostname")
    src = ScapSource(SourceConfig(path=str(case.capture())))
    state = State()
    state.seed(src.initial_threads())
    by_rule: Counter[str] = Counter()
    by_prio: Counter[str] = Counter()
    lines: list[str] = []
    as_json = bool(case.spec.get("json_output", False))
    for event in src.events():
        for alert in engine.process(state.apply(event)):
            by_rule[alert.rule] += 1
            by_prio[alert.priority.name.lower()] += 1
            lines.append(alert.to_json() if as_json else alert.text_line())
    return result, by_rule, by_prio, lines


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def needs_cli(case: Case) -> bool:
    return any(key in case.spec for key in CLI_KEYS)


@dataclass
class CliRun:
    """What ``syswarden monitor`` did for one case: its stdout lines, alerts per rule/priority, output files."""

    returncode: int
    stdout: str
    stderr: str
    by_rule: Counter[str]
    by_prio: Counter[str]
    files: dict[str, Path]              # the case's output file name -> where this run wrote it


_LEVEL = re.compile(r"^\S+: (Emergency|Alert|Critical|Error|Warning|Notice|Informational|Debug) ")


def cli_args(case: Case, workdir: Path) -> tuple[list[str], dict[str, Path]]:
    """Falco's harness command line in syswarden's spelling: ``-c`` for the conf, ``--option`` for each ``-o``.

    An output file the conf names (``/tmp/falco_outputs/...``) is redirected into ``workdir`` with
    ``--option file_output.filename=...`` (or ``program_output.program=cat >> ...``), so the test touches only
    paths it created.
    """
    args = ["--replay", str(case.capture())]
    for rules in case.rules_files():
        args += ["-r", str(rules)]
    for name in _as_list(case.spec.get("disabled_rules")):
        args += ["-D", name]
    for tag in _as_list(case.spec.get("disable_tags")):
        args += ["-T", tag]
    for tag in _as_list(case.spec.get("run_tags")):
        args += ["-t", tag]
    conf = TESTS / str(case.spec["conf_file"]) if "conf_file" in case.spec else UPSTREAM_CONF
    args += ["-c", str(conf)]
    options = {"json_output": case.spec.get("json_output", False),
               "json_include_output_property": case.spec.get("json_include_output_property", True),
               "json_include_tags_property": case.spec.get("json_include_tags_property", True),
               "priority": case.spec.get("priority", "debug")}
    if case.spec.get("time_iso_8601"):
        options["time_format_iso_8601"] = True
    files: dict[str, Path] = {}
    for item in case.spec.get("output_strictly_contains", []) or []:
        for target in item:
            if target != "stdout":
                files[target] = workdir / Path(target).name
                if Path(target).name.startswith("program_output"):     # confs/program_output.yaml: cat >> FILE
                    options["program_output.program"] = f"cat >> {files[target]}"
                else:
                    options["file_output.filename"] = str(files[target])
    for key, value in options.items():
        args += ["--option", f"{key}={str(value).lower() if isinstance(value, bool) else value}"]
    return args, files


def expected_exit(case: Case) -> int:
    """Falco's exit status for the case, in syswarden's convention (a refused config is bad input: 2)."""
    status = int(case.spec.get("exit_status", 0))
    return 2 if case.name in CONFIG_REFUSED and status == 1 else status


def stderr_problems(case: Case, stderr: str) -> list[str]:
    """Falco's ``stderr_contains``/``stderr_not_contains`` checks (regular expressions), for the cases whose
    stderr this suite checks (the syscall_event_drops ones); what does not hold."""
    if not str(case.spec.get("conf_file", "")).startswith("confs/drops_"):
        return []
    problems = [f"stderr lacks {p!r}" for p in _as_list(case.spec.get("stderr_contains")) if not re.search(p, stderr)]
    problems += [f"stderr has {p!r}" for p in _as_list(case.spec.get("stderr_not_contains")) if re.search(p, stderr)]
    return problems


def run_case_cli(case: Case, workdir: Path) -> CliRun:
    args, files = cli_args(case, workdir)
    env = dict(os.environ, FALCO_HOSTNAME="test-falco-hostname", TZ="UTC")
    res = subprocess.run([sys.executable, "-m", "syswarden", "monitor", *args], capture_output=True, text=True,
                         timeout=300, env=env, cwd=workdir)
    by_prio: Counter[str] = Counter()
    for line in res.stdout.splitlines():
        if line.startswith("{"):
            by_prio[json.loads(line)["priority"].lower()] += 1
        elif (match := _LEVEL.match(line)) is not None:
            by_prio[match.group(1).lower()] += 1
    return CliRun(res.returncode, res.stdout, res.stderr, _alerts_by_rule(res.stderr), by_prio, files)


def _alerts_by_rule(stderr: str) -> Counter[str]:
    """The summary's ``Alerts by rule:`` block (``  NAME  COUNT``), as Falco's harness reads its own."""
    counts: Counter[str] = Counter()
    lines = stderr.splitlines()
    if "Alerts by rule:" in lines:
        for line in lines[lines.index("Alerts by rule:") + 1:]:
            name, _, count = line.strip().rpartition("  ")
            if not count.isdigit():
                break
            counts[name.strip()] = int(count)
    return counts


def strictly_contains(actual: str, expected: str, as_json: bool) -> bool:
    """The expected lines appear, in order and consecutively, in the actual output.

    JSON lines are compared as documents: the expected file was written by Falco 0.2x, which put
    ``output_fields`` last after ``", "``; Falco 0.3x+ (nlohmann::json) sorts the keys, as syswarden does.
    """
    exp = [line for line in expected.splitlines() if line.strip()]
    act = [line for line in actual.splitlines() if line.strip()]
    if as_json:
        exp = [json.loads(line) for line in exp]
        act = [json.loads(line) for line in act if line.startswith("{")]
    return any(act[i:i + len(exp)] == exp for i in range(len(act) - len(exp) + 1))
