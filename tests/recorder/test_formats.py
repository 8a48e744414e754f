"""What ``syswarden record`` writes: Docker/OCI JSON that passes the OCI runtime-spec schema and our Docker
loader, and YAML a person keeps in a repo (sorted, grouped by kind of access, call counts as comments) that
loads back to the same policy."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from syswarden.policy.formats.native_yaml import load
from syswarden.policy.load import load_policy
from syswarden.recorder.build import GROUP_ORDER, OTHER, group_of
from tests.recorder.conftest import Programs, record

pytestmark = pytest.mark.kernel

SPEC = Path(__file__).resolve().parents[3] / "shared" / "anchors" / "seccomp" / "oci-runtime-spec"
if not SPEC.exists():
    SPEC = Path("/work/shared/anchors/seccomp/oci-runtime-spec")


def _oci_validator():  # type: ignore[no-untyped-def]
    jsonschema = pytest.importorskip("jsonschema")
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4
    if not SPEC.exists():
        pytest.skip("shared/anchors/seccomp/oci-runtime-spec is not here")
    docs = {name: json.loads((SPEC / name).read_text()) for name in ("defs.json", "defs-linux.json",
                                                                     "config-linux.json")}
    registry = Registry().with_resources((name, Resource.from_contents(doc, default_specification=DRAFT4))
                                         for name, doc in docs.items())
    schema = {"$ref": "config-linux.json#/linux/properties/seccomp"}
    return jsonschema.Draft4Validator(schema, registry=registry)


def test_docker_profile_passes_the_oci_schema_and_our_loader(programs: Programs, tmp_path: Path) -> None:
    validator = _oci_validator()
    profile, _ = record(tmp_path, [str(programs.forks32), str(programs.child32)], "--args", fmt="docker")
    data = json.loads(profile.read_text())
    errors = sorted(e.message for e in validator.iter_errors(data))
    assert not errors, errors
    # the schema is not blind: a broken profile fails it
    assert list(validator.iter_errors({**data, "defaultAction": "SCMP_ACT_NOPE"}))
    policy = load_policy(str(profile))
    assert policy.default_action.kind.name == "ERRNO" and policy.default_action.data == 1
    names = {n for r in policy.rules for n in r.names}
    assert {"execve", "clone", "wait4", "mmap2", "set_thread_area"} <= names
    assert any(r.args for r in policy.rules), "--args conditions are in the Docker profile"


def test_yaml_is_sorted_grouped_and_counted(tmp_path: Path) -> None:
    policy_file, recorded = record(tmp_path, ["ls", "-l", "/usr"], "--summary")
    text = policy_file.read_text()
    assert text.startswith("# Recorded by `syswarden record`\n#   from: ls -l /usr\n")
    policy = load(text)
    groups = [r.comment for r in policy.rules]
    ranks = [GROUP_ORDER.index(g) if g in GROUP_ORDER else len(GROUP_ORDER) for g in groups]
    assert ranks == sorted(ranks) and len(set(groups)) == len(groups)
    for rule in policy.rules:
        assert list(rule.names) == sorted(rule.names)
        assert all(group_of(n) == rule.comment for n in rule.names) or rule.comment == OTHER
    # one comment per name, and the counts are the --summary's
    summary = {m.group(3): int(m.group(1)) for m in re.finditer(r"^\s*[\d.]+\s+(\d+)\s+(\d*)\s+(\w+)$",
                                                                 recorded.stderr, re.M) if m.group(3) != "total"}
    counted = {m.group(1): int(m.group(2)) for m in re.finditer(r"^  - (\w+)\s+# (\d+) calls?", text, re.M)}
    assert counted == summary
    assert "openat" in counted and counted["openat"] > 1


def test_hostile_command_line_stays_in_its_comment(tmp_path: Path) -> None:
    """argv is the user's, but a newline in it must not end the comment and add policy lines."""
    policy_file, _ = record(tmp_path, ["sh", "-c", "true", "x\ndefault: allow\n# "])
    text = policy_file.read_text()
    assert "\ndefault: allow" not in text
    assert load(text).default_action.kind.name == "ERRNO"
