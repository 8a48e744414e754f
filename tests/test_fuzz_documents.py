"""The document front door under fuzzing (issue 13): the stock rules and Docker's profiles, mutated byte by byte
and structure by structure, load or fail with a positioned error; never a traceback, never seconds of work or
hundreds of MB for a file of this size.

Byte mutations flip, insert and delete bytes (invalid UTF-8, brackets, anchors, aliases, tags, huge numbers);
structure mutations parse the document, change what a key holds (another type, a deep nesting, a shared
subtree that YAML writes as an alias, a 5,000-digit number) and write it back. Each example goes through the
file reader (``load_rules`` / ``load_policy`` with a path), as a user's file would.
"""
from __future__ import annotations

import json
import resource
import time
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syswarden.errors import PolicyError
from syswarden.policy.load import load_policy
from syswarden.rules.loader import load_rules
from syswarden.syscalls.arch import Arch

ROOT = Path(__file__).resolve().parents[1]
STOCK_RULES = ROOT / "src" / "syswarden" / "rules" / "data" / "falco_rules.yaml"
PROFILES = ROOT / "src" / "syswarden" / "policy" / "profiles" / "data"
DOCKER = (next(iter(sorted(PROFILES.glob("docker*.json"))), None)
          or Path("/work/shared/anchors/seccomp/docker-default.json"))
SEEDS = {"rules": STOCK_RULES.read_bytes(), "docker": DOCKER.read_bytes()}
NOISE = [b"[", b"]", b"{", b"}", b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00", b"'", b'"', b"\n", b": ", b"- ",
         b"&a ", b"*a", b"!!python/object:os.system ", b"!!binary ", b"9" * 5000, b"1.0e+999", b"0x", b"\t",
         b"? ", b"|", b">-\n", b"%YAML 1.1\n", b"---\n", b"...\n", b"\\", b"regex (a+)+ ", b"\xef\xbb\xbf"]
MAX_SECONDS = 10.0                 # per example, CPU time: a bomb would take minutes
MAX_GROWTH_KB = 400 * 1024         # peak RSS growth over the whole test


def _mutate_bytes(draw: st.DrawFn, data: bytes) -> bytes:
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["flip", "insert", "delete", "repeat"]))
        if op == "flip" and at < len(data):
            data = data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1:]
        elif op == "insert":
            data = data[:at] + draw(st.sampled_from(NOISE)) * draw(st.integers(1, 3)) + data[at:]
        elif op == "delete":
            data = data[:at] + data[at + draw(st.integers(1, 64)):]
        else:
            piece = data[at:at + draw(st.integers(1, 200))]
            data = data[:at] + piece * draw(st.integers(2, 5)) + data[at:]
    return data


def _hostile_value(draw: st.DrawFn, shared: Any) -> Any:
    kind = draw(st.sampled_from(["none", "int", "huge", "float", "deep", "shared", "str", "list", "map", "bad"]))
    return {
        "none": None, "int": draw(st.integers(-2**70, 2**70)), "huge": "HUGE_NUMBER", "float": 1e308,
        "deep": [[[[[[[[[[[["x"]]]]]]]]]]]], "shared": shared, "str": draw(st.text(max_size=40)),
        "list": [shared, shared, shared], "map": {"rule": shared, "condition": ["a"]}, "bad": "(a+)+ \\ %",
    }[kind]


def _mutate_structure(draw: st.DrawFn, doc: Any) -> Any:
    """Change what some keys hold; one object used in several places becomes a YAML alias when written."""
    shared: Any = ["evt.type", {"k": "v"}]
    items = doc if isinstance(doc, list) else [doc]
    for _ in range(draw(st.integers(1, 5))):
        targets = [x for x in items if isinstance(x, dict) and x]
        if not targets:
            break
        item = draw(st.sampled_from(targets))
        key = draw(st.sampled_from(sorted(item, key=str)))
        op = draw(st.sampled_from(["replace", "delete", "nest", "descend", "duplicate"]))
        if op == "replace":
            item[key] = _hostile_value(draw, shared)
        elif op == "delete":
            del item[key]
        elif op == "nest":
            item[key] = {"inner": item[key], "list": [item[key], shared]}
        elif op == "duplicate" and isinstance(doc, list):
            doc.insert(draw(st.integers(0, len(doc))), item)
        elif isinstance(item[key], (list, dict)):
            items = item[key] if isinstance(item[key], list) else [item[key]]
    return doc


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(sorted(SEEDS)))
    seed = SEEDS[kind]
    if draw(st.booleans()):
        return kind, _mutate_bytes(draw, seed)
    if kind == "rules":
        doc = _mutate_structure(draw, yaml.safe_load(seed))
        text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    else:
        text = json.dumps(_mutate_structure(draw, json.loads(seed)))
    # A number Python itself refuses to print (more than 4,300 digits), spliced in as text.
    return kind, text.replace('"HUGE_NUMBER"', "9" * 5000).replace("HUGE_NUMBER", "9" * 5000).encode()


def _check_rules(path: Path) -> None:
    result = load_rules([path])
    for issue in result.errors:
        assert issue.span is not None and issue.span.file == str(path), issue
    if result.errors:
        assert result.ruleset is None


def _check_policy(path: Path) -> None:
    try:
        load_policy(path, native_arch=Arch.X86_64, kernel="6.1")
    except PolicyError as err:
        assert err.span is not None or "cannot read" in err.message or "kernel" in err.message, err


BASELINE_KB = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


@settings(max_examples=160, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(documents())
def test_mutated_documents_load_or_fail_with_a_position(tmp_path_factory: Any, example: tuple[str, bytes]) -> None:
    kind, data = example
    path = tmp_path_factory.mktemp("fuzz") / ("rules.yaml" if kind == "rules" else "profile.json")
    path.write_bytes(data)
    start = time.process_time()
    (_check_rules if kind == "rules" else _check_policy)(path)
    assert time.process_time() - start < MAX_SECONDS
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - BASELINE_KB
    assert grown < MAX_GROWTH_KB, f"peak memory grew by {grown // 1024} MB"
