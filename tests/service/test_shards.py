"""Sharding decode/state/rules over worker processes (service/shards): on the real kernel, every alert once,
each process's alerts in its own order, parent identity known in every shard."""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from syswarden.rules.alert import Alert
from syswarden.rules.engine import Engine
from syswarden.rules.loader import load_rules
from syswarden.service.shards import ShardedRun, split_batch
from syswarden.sources.base import SourceConfig
from tests.sources.ebpf.conftest import ebpf_unavailable

pytestmark = [pytest.mark.kernel]

RULES = """\
- rule: Open in work dir
  desc: d
  condition: evt.type in (open, openat) and fd.directory = {work}
  output: opened %fd.name by %proc.pid parent %proc.pname
  priority: WARNING
- rule: Spawned worker
  desc: d
  condition: evt.type = execve and proc.name = sleep
  output: spawned %proc.pid
  priority: NOTICE
"""


class Collect:
    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def emit(self, alert: Alert) -> None:
        self.alerts.append(alert)

    def reopen(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_split_batch_routes_by_thread_group_and_broadcasts_lifecycle() -> None:
    """A syscall record goes to its tgid's worker only; a fork record to all, state-only except for the owner."""
    import struct

    def record(tgid: int, nr: int) -> bytes:
        body = bytearray(152)
        struct.pack_into("<I", body, 76, tgid)
        struct.pack_into("<i", body, 104, nr)
        return struct.pack("<II", len(body), 0) + bytes(body)
    chunk = record(7, 257) + record(8, -1)
    parts = split_batch(chunk, [8, 8 + 160], 3)
    # tgid 7 -> worker 1 only; the fork of tgid 8 -> everyone, judged by worker 2
    assert [len(p) for p in parts] == [5 + 152, 2 * (5 + 152), 5 + 152]
    assert parts[1][4] == 0 and parts[1][5 + 152 + 4] == 1 and parts[0][4] == 1 and parts[2][4] == 0


def test_sharded_alerts_once_and_in_process_order(tmp_path: Path) -> None:
    reason = ebpf_unavailable()
    if reason:
        pytest.skip(reason)
    from syswarden.sources.ebpf.source import EbpfSource

    work = tmp_path / "work"
    work.mkdir()
    for i in range(10):
        (work / f"f{i}").write_text("x")
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES.format(work=work))
    result = load_rules([str(rules)])
    assert not result.errors
    code = textwrap.dedent(f"""
        import os, subprocess
        kids = []
        for k in range(6):
            pid = os.fork()
            if pid == 0:
                for i in range(10):
                    os.close(os.open({str(work)!r} + f"/f{{i}}", os.O_RDONLY))
                os._exit(0)
            kids.append(pid)
        for pid in kids:
            os.waitpid(pid, 0)
        subprocess.run(["sleep", "0"])
    """)
    out = Collect()
    source = EbpfSource(SourceConfig(command=[sys.executable, "-c", code]))
    counts = ShardedRun(source, lambda: Engine(result.ruleset, rule_matching="all"), [out], workers=3).run()
    opens = [a for a in out.alerts if a.rule == "Open in work dir"]
    assert len(opens) == 60 and counts.alerts == len(out.alerts)
    by_pid: dict[int, list[str]] = {}
    for a in opens:
        by_pid.setdefault(a.output_fields["proc.pid"], []).append(a.output_fields["fd.name"])
    assert len(by_pid) == 6
    for names in by_pid.values():
        assert names == [str(work / f"f{i}") for i in range(10)]
    assert {a.output_fields["proc.pname"] for a in opens} == {Path(sys.executable).name[:15]}
    assert len([a for a in out.alerts if a.rule == "Spawned worker"]) == 1
