"""A process started before the monitor: its events carry the full context seeded from /proc (eBPF only:
the ptrace source only follows commands it starts)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.scenarios.conftest import RULES, RULES_DIR, _ebpf_reason

pytestmark = [pytest.mark.kernel]


@pytest.fixture
def ebpf_ready() -> None:
    if reason := _ebpf_reason():
        pytest.skip(reason)


@pytest.mark.usefixtures("ebpf_ready")
def test_alert_on_process_started_before_monitor_has_full_context() -> None:
    """A python started earlier reads /etc/shadow after the monitor attaches: the alert names its command
    line, executable and parent, which only the /proc seed can know."""
    from syswarden.rules import load_rules
    from syswarden.rules.engine import Engine
    from syswarden.service.selection import needed_event_types
    from syswarden.sources.base import SourceConfig
    from syswarden.sources.ebpf.source import EbpfSource
    from syswarden.state import State

    ruleset = load_rules([str(RULES_DIR / RULES[0])]).raise_for_errors()
    engine = Engine(ruleset, rule_matching="all")
    py = os.path.realpath(sys.executable)
    code = "import sys; sys.stdin.readline(); open('/etc/shadow').read()"
    victim = subprocess.Popen([py, "-c", code], stdin=subprocess.PIPE)
    alerts = []
    try:
        with EbpfSource(SourceConfig(pids=(victim.pid,), event_types=needed_event_types(ruleset))) as src:
            state = State()
            state.seed(src.initial_threads())
            assert victim.stdin is not None
            victim.stdin.write(b"go\n")
            victim.stdin.flush()
            for event in src.events():
                alerts += engine.process(state.apply(event))
    finally:
        victim.wait(10)
    hits = [a.output_fields for a in alerts if a.rule == "Read sensitive file untrusted"]
    assert len(hits) == 1
    h = hits[0]
    assert h["proc.name"] == Path(py).name and h["proc.exepath"] == py
    assert h["proc.cmdline"] == f"{Path(py).name} -c {code}"
    assert h["proc.pname"] == Path("/proc/self/comm").read_text().strip()
    assert h["user.name"] == "root" and h["fd.name"] == "/etc/shadow"
