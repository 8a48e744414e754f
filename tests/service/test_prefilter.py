"""The kernel prefilter of a run: rules' and state's needs put together, decided in select_events only for live
runs judging rules, and what --explain-filter shows of it."""
from __future__ import annotations

from pathlib import Path

from syswarden.events.event import Event, ThreadInfo
from syswarden.events.prefilter import MAX_BOXES, Prefilter, RetSign
from syswarden.rules import load_rules, load_texts
from syswarden.rules.compiler import compile_condition
from syswarden.rules.filter.parser import parse
from syswarden.rules.ruleset import Ruleset
from syswarden.service.prefilter import ANY_TYPE, explain_rows, kernel_prefilter
from syswarden.service.selection import needed_event_types, select_events
from syswarden.sources.base import SourceConfig
from syswarden.spans import SourceText
from syswarden.state.prefilter_needs import DIRECTORY_FDS

STOCK = Path(__file__).resolve().parents[2] / "src" / "syswarden" / "rules" / "data" / "falco_rules.yaml"


def _rules(text: str) -> Ruleset:
    result = load_texts([SourceText("r.yaml", text)])
    assert result.ruleset is not None, result.as_verbose()
    return result.ruleset


def _rule(name: str, condition: str, output: str = "x %proc.name") -> str:
    return f"- rule: {name}\n  desc: d\n  condition: {condition}\n  output: \"{output}\"\n  priority: WARNING\n"


def _prefilter(ruleset: Ruleset) -> Prefilter:
    return kernel_prefilter(ruleset, needed_event_types(ruleset))


def _passes(pf: Prefilter, name: str, flags: int, *, comm: str = "cat", is_dir: bool = False) -> bool:
    """Whether a successful openat of ``name`` by ``comm`` passes (the probe read the returned inode's type)."""
    event = Event(1, 1, "openat", 9, {"fd": 3, "dirfd": -100, "name": name, "flags": flags}, res=3)
    return pf.passes(pf.view(event, ThreadInfo(tid=9, pid=9, comm=comm), returns_dir=is_dir))


def test_stock_rules() -> None:
    ruleset = load_rules([STOCK]).ruleset
    assert ruleset is not None
    pf = _prefilter(ruleset)
    openat = pf.filters["openat"]
    assert openat.path_param == "name" and 1 < len(openat.boxes) <= MAX_BOXES
    assert any(b.returns_dir and DIRECTORY_FDS in b.origins for b in openat.boxes)
    assert pf.fd_gated >= {"close", "dup2"} and "execve" in pf.open_types
    # what the busy process does is dropped; an attack is not
    assert not _passes(pf, "/var/tmp/pf/data.bin", 0o2000000)
    assert _passes(pf, "/etc/shadow", 0)                           # Read sensitive file untrusted
    assert not _passes(pf, "/etc/shadow", 0, comm="sshd")           # sshd is trusted to read it
    assert _passes(pf, "/etc", 0, is_dir=True)                 # state: a directory fd
    assert _passes(pf, "shadow", 0)                                 # relative: cannot tell


def test_a_rule_reading_file_fds_keeps_every_successful_open() -> None:
    pf = _prefilter(_rules(_rule("w", "evt.type = write and fd.name startswith /etc/")))
    reasons = [o for b in pf.filters["openat"].boxes if b.ret is RetSign.OK and not b.returns_dir
               for o in b.origins]
    assert "rule 'w' reads fd state on write" in reasons
    assert _passes(pf, "/var/tmp/x", 1)
    # ... unless its condition holds for sockets only
    pf = _prefilter(_rules(_rule("w", "evt.type = write and fd.typechar = 4 and fd.name contains x")))
    assert not _passes(pf, "/var/tmp/x", 1)
    # an output field counts too: the alert would show another name
    pf = _prefilter(_rules(_rule("c", "evt.type = fchmod and proc.name = x", "fd=%evt.arg.fd")))
    assert _passes(pf, "/var/tmp/x", 1)


def test_rules_reading_directory_fds_join_the_directory_need() -> None:
    """The directory box names the rules reading the state of directory fds (unlinkat's fd.name is its dirfd's;
    evt.args renders openat's dirfd), so a source that names relative paths itself keeps it for them."""
    pf = _prefilter(_rules(_rule("u", "evt.type = unlinkat and fd.name startswith /etc") +
                           _rule("a", "evt.type = openat and fd.name = /x", "%evt.args")))
    (box,) = [b for b in pf.filters["openat"].boxes if b.returns_dir]
    assert box.origins[0] == DIRECTORY_FDS and set(box.origins[1:]) == {
        "rule 'u' reads directory fd state on unlinkat", "rule 'a' reads directory fd state on openat"}
    assert not any(b.ret is RetSign.OK and not b.returns_dir for b in pf.filters["openat"].boxes)


def test_fd_gating_only_where_no_rule_fires_on_an_unknown_fd() -> None:
    assert "close" in _prefilter(_rules(_rule("c", "evt.type = close and fd.name = /etc/shadow"))).fd_gated
    assert "close" not in _prefilter(_rules(_rule("c", "evt.type = close and proc.name = x"))).fd_gated
    assert "close" not in _prefilter(_rules(_rule("c", "evt.type = close and not fd.name = /x"))).fd_gated


def test_a_rule_matching_any_type() -> None:
    pf = _prefilter(_rules(_rule("nc", "proc.name = nc")))
    assert pf.event_types is None and "rule 'nc' may match any event type" in pf.open_types[ANY_TYPE]
    assert _passes(pf, "/var/tmp/x", 1, comm="nc")
    assert not _passes(pf, "/var/tmp/x", 1, comm="cat")


def test_rules_that_weaken_to_always_are_named_with_what_the_kernel_cannot_test() -> None:
    pf = _prefilter(_rules(_rule("c", "evt.type = openat and proc.cmdline contains curl")))
    assert "openat" not in pf.filters
    (reason,) = pf.open_types["openat"]
    assert reason == "rule 'c' kills prefiltering of openat; cannot test: proc.cmdline contains curl"


def test_select_events_decides_it_for_live_rule_runs_only() -> None:
    ruleset = _rules(_rule("r", "evt.type = openat and fd.name = /etc/shadow"))
    assert select_events(SourceConfig(), ruleset).prefilter is not None
    assert select_events(SourceConfig(), ruleset, kernel_filter=False).prefilter is None
    assert select_events(SourceConfig(path="x.scap"), ruleset).prefilter is None
    assert select_events(SourceConfig(), compile_condition(parse("evt.type = openat"))).prefilter is None


def test_explain_rows() -> None:
    rows = explain_rows(_prefilter(_rules(_rule("sh", "evt.type = openat and fd.name in (/etc/shadow) and "
                                                "evt.is_open_read = true and not proc.name in (sshd)"))))
    assert ["openat", "O_RDONLY|O_RDWR name:{name /etc/shadow} comm not in {sshd}", "sh"] in rows
    assert any(r[0] == "close" and "only fds user space knows" in r[1] for r in rows)
    assert any(r[0] == "procexit" and r[1] == "every event" for r in rows)
