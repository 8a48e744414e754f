"""load(dump(p)) == p for the native YAML and Docker formats, over random policies (hypothesis)."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from syswarden.policy.formats import docker, native_yaml
from syswarden.policy.model import Policy

from .strategies import policies

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(policies())
def test_native_yaml_round_trip(policy: Policy) -> None:
    """Every policy survives native YAML dump and load unchanged, with no warnings."""
    again = native_yaml.load(native_yaml.dump(policy), filename=policy.source)
    assert again == policy
    assert again.warnings == ()


@SETTINGS
@given(policies(docker=True))
def test_docker_round_trip(policy: Policy) -> None:
    """Every policy Docker can express survives Docker dump and load unchanged."""
    again = docker.load(docker.dump(policy), filename=policy.source)
    assert again == policy
