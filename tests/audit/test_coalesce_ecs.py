"""Normalised documents: every event of go-libaudit's aucoalesce testdata coalesces to its golden document
(summary, user, process, file, socket, ECS category/type, tags, data, paths); Auditbeat's chown event becomes
Auditbeat's expected ECS document, field by field."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from syswarden.audit.coalesce import coalesce
from syswarden.audit.ecs import Resolver, document
from syswarden.audit.logs import read_events, read_records
from syswarden.audit.reassembly import AuditEvent
from syswarden.audit.records import parse_line
from tests.audit.conftest import anchors


def _cases() -> list[tuple[str, str, str, dict[str, Any]]]:
    out = []
    for path in sorted((anchors() / "go-libaudit" / "aucoalesce-testdata").glob("*.yaml")):
        tests = yaml.safe_load(path.read_text())["tests"]
        golden = json.loads((path.parent / path.name.replace(".yaml", ".json.golden")).read_text())
        expected = {g["test_name"]: g["event"] for g in golden}
        out.extend((path.name, name, text, expected[name]) for name, text in tests.items())
    return out


@pytest.mark.parametrize("file, name, text, expected", _cases(), ids=lambda v: v if isinstance(v, str)
                         and "\n" not in v else None)
def test_event_coalesces_to_the_golden_document(file: str, name: str, text: str, expected: dict) -> None:
    records = [parse_line(line) for line in text.splitlines() if line.strip()]
    event = AuditEvent(records[0].node, records[0].serial, records[0].sec, records[0].msec, records)
    assert coalesce(event) == expected


def test_all_aucoalesce_golden_files_are_used() -> None:
    assert len({c[0] for c in _cases()}) == 8 and len(_cases()) >= 45


def _paths(doc: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(doc, dict):
        out: dict[str, Any] = {}
        for key, value in doc.items():
            out.update(_paths(value, f"{prefix}.{key}" if prefix else key))
        return out
    return {prefix: doc}


def test_chown_event_is_auditbeats_ecs_document() -> None:
    """Auditbeat resolved ids on its test machine (1000 vagrant, 9999 bob, 0 root): the same tables here."""
    root = anchors() / "auditbeat"
    (event,) = list(read_events(read_records([str(root / "chown.log")])))
    users, groups = {"0": "root", "1000": "vagrant", "9999": "bob"}, {"0": "root", "1000": "vagrant"}
    ours = _paths(document(event, resolve=Resolver(users.get, groups.get)))
    expected = _paths(json.loads((root / "chown.log-expected.json").read_text())[0])
    assert {k: ours.get(k) for k in expected} == expected
    assert set(ours) - set(expected) == {"@timestamp"}
    for key in ("event.action", "event.category", "event.type", "process.title", "user.audit.name", "file.owner",
                "tags"):
        assert key in expected


def test_ecs_without_name_resolution_keeps_ids(tmp_path: Path) -> None:
    (event,) = list(read_events(read_records([str(anchors() / "auditbeat" / "chown.log")])))
    doc = document(event, original=False)
    assert doc["user"]["audit"] == {"id": "1000"} or doc["user"]["audit"]["id"] == "1000"
    assert "original" not in doc["event"]
