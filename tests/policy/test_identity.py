"""Identity files: a canonical policy in each format is written back byte for byte after loading."""
from __future__ import annotations

from pathlib import Path

from syswarden.policy.formats import docker, native_yaml

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "policy"


def test_native_yaml_identity() -> None:
    """native_identity.yaml == dump(load(native_identity.yaml)), and it exercises every action kind."""
    text = (GOLDEN / "native_identity.yaml").read_text()
    policy = native_yaml.load(text, filename="native_identity.yaml")
    assert native_yaml.dump(policy) == text
    assert {r.action.kind for r in policy.rules} | {policy.default_action.kind, policy.bad_arch_action.kind} == \
        {k for k in type(policy.default_action.kind)}


def test_docker_identity() -> None:
    """docker_identity.json == dump(load(docker_identity.json)); a profile using every action kind."""
    text = (GOLDEN / "docker_identity.json").read_text()
    assert docker.dump(docker.load(text, filename="docker_identity.json")) == text
