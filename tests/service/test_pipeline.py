"""The auditing pipeline: source choice, event types asked of the source, counters, failing outputs."""
from __future__ import annotations

from pathlib import Path

import pytest

from syswarden.errors import InputError, OutputError
from syswarden.rules.alert import Alert
from syswarden.rules import Engine, load_rules
from syswarden.events.event import Event, ThreadInfo
from syswarden.service.pipeline import Pipeline, Summary, choose_source, make_state, open_pipeline
from syswarden.service.selection import needed_event_types
from syswarden.state import REQUIRED_EVENT_TYPES
from syswarden.testing import CapturingOutput, ListSource

ROOT = Path(__file__).resolve().parents[2]
STOCK = ROOT / "src" / "syswarden" / "rules" / "data" / "falco_rules.yaml"
SHADOW = ROOT / "tests" / "rules" / "golden" / "read_sensitive_file_untrusted.jsonl"


@pytest.mark.parametrize("path,source,expected", [
    ("a.jsonl", None, "replay"), ("b.scap", None, "scap"), ("c.scap.gz", None, "scap"),
    (None, None, "ebpf"), (None, "ptrace", "ptrace"), ("d.jsonl", "scap", "scap"),
])
def test_choose_source(path, source, expected) -> None:
    """The source follows the recording's suffix, else eBPF live, unless --source says otherwise."""
    assert choose_source(path, source) == expected


def test_choose_source_rejects_unknown_suffix() -> None:
    """An unknown recording format is bad input."""
    with pytest.raises(InputError, match=r"expected a \.jsonl recording"):
        choose_source("x.pcap", None)


def test_needed_event_types_cover_rules_and_state() -> None:
    """The source is asked for the stock rules' event types plus what state needs, nothing else."""
    ruleset = load_rules([STOCK]).ruleset
    assert ruleset is not None
    types = needed_event_types(ruleset)
    assert types is not None
    assert {"execve", "openat", "connect", "ptrace", "symlinkat"} <= types
    assert REQUIRED_EVENT_TYPES <= types
    assert "read" not in types and "write" not in types


class Broken:
    """An output that always fails."""

    def emit(self, alert: Alert) -> None:
        raise OutputError("disk full")

    def reopen(self) -> None: ...

    def close(self) -> None: ...


def test_failing_output_is_counted_and_others_still_receive() -> None:
    """A broken output does not stop the run or the other outputs; the summary counts the failures."""
    ruleset = load_rules([STOCK]).ruleset
    assert ruleset is not None
    good = CapturingOutput()
    pipe = open_pipeline(ruleset, [Broken(), good], path=str(SHADOW))
    summary = pipe.run()
    assert summary.events == 1 and summary.alerts == 1 and summary.output_errors == 1
    assert good.rules() == ["Read sensitive file untrusted"] and good.closed == 1
    pipe.reopen_outputs()
    assert good.reopened == 1


def test_summary_escapes_rule_names() -> None:
    """Rule names from rules files are escaped in the summary."""
    s = Summary(events=1, alerts=1)
    s.by_rule["bad\nname"] += 1
    assert "bad\\nname" in s.render() and "bad\nname" not in s.render()


RULE = """
- rule: Signal sent
  desc: any kill, printed with the names the pipeline's own tables give
  condition: evt.type = kill
  output: "%user.name %user.homedir %group.name %proc.pname %proc.aname[2] %evt.arg.pid"
  priority: WARNING
"""


def _machine(user: str, group: str, parent: str, grandparent: str, victim: str) -> ListSource:
    """What a source on a machine where uid/gid 1000 are ``user``/``group`` delivers: its process table and
    account list, then bash (uid 1000, child of ``parent``) signalling the process ``victim``, twice."""
    threads = [ThreadInfo(tid=5, pid=5, ptid=1, comm=grandparent), ThreadInfo(tid=10, pid=10, ptid=5, comm=parent),
               ThreadInfo(tid=20, pid=20, ptid=10, comm="bash", uid=1000, euid=1000, gid=1000, egid=1000),
               ThreadInfo(tid=30, pid=30, ptid=1, comm=victim)]
    events = [Event(0, 0, "useradded", -1, {"uid": 1000, "gid": 1000, "name": user, "home": f"/home/{user}",
                                            "shell": "/bin/sh", "container_id": ""}, dir=">", state_only=True),
              Event(0, 0, "groupadded", -1, {"gid": 1000, "name": group, "container_id": ""}, dir=">",
                    state_only=True)]
    events += [Event(num, num, "kill", 20, {"pid": 30, "sig": 9, "res": 0}, res=0) for num in (1, 2)]
    return ListSource(events, threads)


def test_two_pipelines_in_one_process_keep_their_own_tables(tmp_path: Path) -> None:
    """Two sources from machines that name uid 1000 differently, run interleaved through two pipelines (one shared
    engine): each alert names users, groups, ancestors and pid parameters from its own pipeline's state."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULE)
    ruleset = load_rules([rules]).ruleset
    assert ruleset is not None
    engine = Engine(ruleset, hostname="h")
    pipes, outs = [], []
    for machine in (("alice", "staff", "sshd", "systemd", "nginx"), ("bob", "wheel", "cron", "init", "redis")):
        out = CapturingOutput()
        pipes.append(Pipeline(_machine(*machine), engine, [out], state=make_state()))
        outs.append(out)
    streams = []
    for pipe in pipes:
        pipe.state.seed(pipe.source.initial_threads())
        streams.append(iter(pipe.source.events()))
    for _ in range(4):                              # one event of each recording in turn
        for pipe, stream in zip(pipes, streams):
            pipe.step(next(stream))
    assert [a.output for a in outs[0].alerts] == ["alice /home/alice staff sshd systemd nginx"] * 2
    assert [a.output for a in outs[1].alerts] == ["bob /home/bob wheel cron init redis"] * 2


def test_replay_names_users_from_the_recordings_account_events(tmp_path: Path) -> None:
    """A JSONL recording's useradded events reach state even when no rule asks for them, so user.name is the
    traced machine's name for the uid, not whatever this machine calls it (or <NA>)."""
    recording = tmp_path / "accounts.jsonl"
    recording.write_text("\n".join([
        '{"syswarden_replay": 1, "hostname": "traced"}',
        ('{"kind": "thread", "tid": 700, "pid": 700, "ptid": 1, "comm": "cat", "exe": "cat", "exepath": "/bin/cat",'
         ' "args": [], "cwd": "/", "uid": 4242, "gid": 4242, "loginuid": -1, "tty": 0, "start_ts": 0,'
         ' "container_id": ""}'),
        ('{"kind": "event", "num": 1, "ts": 1, "tid": -1, "type": "useradded", "dir": ">", "params": {"uid": 4242,'
         ' "gid": 4242, "name": "ghost", "home": "/home/ghost", "shell": "/bin/sh", "container_id": ""}}'),
        ('{"kind": "event", "num": 2, "ts": 2, "tid": 700, "type": "openat", "dir": "<", "res": 3, "params": {"fd": 3,'
         ' "dirfd": -100, "name": "/etc/shadow", "flags": 0, "mode": 0, "dev": 0, "ino": 0}}'),
    ]) + "\n")
    rules = tmp_path / "r.yaml"
    rules.write_text("- rule: Open\n  desc: d\n  condition: evt.type=openat\n  output: by %user.name\n"
                     "  priority: WARNING\n")
    ruleset = load_rules([rules]).ruleset
    assert ruleset is not None and "useradded" not in ruleset.event_types()
    out = CapturingOutput()
    open_pipeline(ruleset, [out], path=str(recording)).run()
    assert [a.output for a in out.alerts] == ["by ghost"]


def test_open_pipeline_copies_the_callers_config_and_builds_the_engine() -> None:
    """The caller's SourceConfig is left as given; the source gets a copy with the path and the selection, and
    the engine built inside judges the ruleset it was given."""
    from syswarden.sources.base import SourceConfig

    ruleset = load_rules([STOCK]).ruleset
    assert ruleset is not None
    base = SourceConfig(options={"on_error": "raise"})
    pipe = open_pipeline(ruleset, [CapturingOutput()], path=str(SHADOW), config=base)
    assert base.path is None and base.event_types is None
    assert pipe.source.config.path == str(SHADOW) and pipe.source.config.event_types == needed_event_types(ruleset)
    assert pipe.source.config.options == {"on_error": "raise"} and pipe.engine.ruleset is ruleset
    pipe.run()


@pytest.mark.parametrize("given,expected", [(None, "golden-host"), ("falco-set", "falco-set")])
def test_alert_hostname_is_decided_once(given: str | None, expected: str) -> None:
    """Alerts carry the hostname the caller gives (FALCO_HOSTNAME), else the recording's own machine."""
    ruleset = load_rules([STOCK]).ruleset
    assert ruleset is not None
    out = CapturingOutput()
    open_pipeline(ruleset, [out], path=str(SHADOW), hostname=given).run()
    assert [a.hostname for a in out.alerts] == [expected]
