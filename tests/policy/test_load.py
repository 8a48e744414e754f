"""load_policy: format detection, the reference profiles, and the malformed policies in tests/data/bad/policy."""
from __future__ import annotations

from pathlib import Path

import pytest

from syswarden.errors import PolicyError, PolicySyntaxError
from syswarden.policy.load import detect, dump_policy, format_name, load_policy, parse
from syswarden.policy.model import ActionKind
from syswarden.syscalls.arch import Arch

BAD = Path(__file__).resolve().parents[1] / "data" / "bad" / "policy"
BAD_CASES = sorted(p for p in BAD.iterdir() if p.suffix in (".yaml", ".json"))


def test_there_are_enough_bad_cases() -> None:
    """At least 15 malformed policies, each with its expected error."""
    assert len(BAD_CASES) >= 15
    assert all(p.with_suffix(p.suffix + ".expected").is_file() for p in BAD_CASES)


@pytest.mark.parametrize("path", BAD_CASES, ids=lambda p: p.name)
def test_bad_policy_reports_position_and_expectation(path: Path) -> None:
    """Each malformed policy raises a PolicyError whose class, file:line:col and message are as expected."""
    expected = path.with_suffix(path.suffix + ".expected").read_text().strip()
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    got = f"{type(info.value).__name__}: {info.value}".replace(str(path.parent) + "/", "")
    assert got == expected
    assert info.value.span is not None and info.value.span.line > 0
    assert info.value.detail().count("\n") >= 1     # the snippet with its caret follows the message


def test_detects_each_format(anchors: Path) -> None:
    """Docker JSON, go-seccomp-bpf YAML and native YAML are told apart by their keys."""
    assert detect(parse((anchors / "docker-default.json").read_text(), "d.json")) == "docker"
    go = anchors / "go-seccomp-bpf" / "sandbox-example-seccomp.yml"
    assert detect(parse(go.read_text(), "g.yml")) == "go-seccomp"
    assert detect(parse("default: allow\n", "n.yaml")) == "yaml"
    assert format_name("OCI") == "docker"
    with pytest.raises(PolicyError, match="unknown policy format 'xml'"):
        format_name("xml")


@pytest.mark.parametrize("name", ["docker-default.json", "podman-default.json",
                                  "podman-default-containers-common-2025-08.json",
                                  "docker-fixture-conditional_include.json", "docker-fixture-example.json",
                                  "docker-fixture-default-old-format.json",
                                  "go-seccomp-bpf/sandbox-example-seccomp.yml",
                                  "go-seccomp-bpf/beats-default-policy-linux-amd64.yml"])
def test_reference_profiles_load_and_convert(anchors: Path, name: str) -> None:
    """Every reference profile loads, and converts to native YAML and back unchanged."""
    policy = load_policy(anchors / name, native_arch=Arch.X86_64)
    assert policy.rules
    again = load_policy(dump_policy(policy, "yaml"), fmt="yaml")
    assert again.rules == policy.rules and again.default_action == policy.default_action


def test_text_and_path_give_the_same_policy(tmp_path: Path) -> None:
    """A policy passed as text equals the one read from a file (source aside)."""
    text = "default: errno(EPERM)\narches: [x86_64]\nrules:\n  - {syscalls: [read], action: allow}\n"
    path = tmp_path / "p.yaml"
    path.write_text(text)
    from_file, from_text = load_policy(path), load_policy(text)
    assert from_file.source == str(path) and from_text.source == "<policy>"
    assert from_file.rules == from_text.rules


def test_one_line_policy_text() -> None:
    """A one-line YAML mapping that names no file is read as policy text."""
    assert load_policy("default: log").default_action.kind is ActionKind.LOG


def test_missing_file_is_a_policy_error(tmp_path: Path) -> None:
    """An unreadable file is reported as a PolicyError naming it."""
    with pytest.raises(PolicyError, match=r"cannot read policy file .*nope\.yaml"):
        load_policy(tmp_path / "nope.yaml")


def test_fmt_overrides_detection() -> None:
    """fmt='docker' makes a YAML-written Docker profile load as Docker."""
    policy = load_policy("defaultAction: SCMP_ACT_LOG\nsyscalls: []\n", fmt="docker", native_arch=Arch.AARCH64)
    assert policy.default_action.kind is ActionKind.LOG and policy.arches == (Arch.AARCH64,)
    with pytest.raises(PolicySyntaxError):
        load_policy("defaultAction: SCMP_ACT_LOG\n", fmt="yaml")


def test_oci_runtime_config_section(tmp_path: Path) -> None:
    """An OCI config.json is read through its linux.seccomp section, with positions in the whole file."""
    config = tmp_path / "config.json"
    config.write_text('{\n  "ociVersion": "1.2.0",\n  "process": {"args": ["sh"]},\n  "linux": {\n'
                      '    "seccomp": {\n      "defaultAction": "SCMP_ACT_ERRNO",\n      "architectures": '
                      '["SCMP_ARCH_X86_64"],\n      "syscalls": [{"names": ["read"], "action": "SCMP_ACT_BOGUS"}]\n'
                      '    }\n  }\n}\n')
    with pytest.raises(PolicySyntaxError, match=r"config.json:8:\d+: unknown action 'SCMP_ACT_BOGUS'"):
        load_policy(config)
    config.write_text(config.read_text().replace("SCMP_ACT_BOGUS", "SCMP_ACT_ALLOW"))
    policy = load_policy(config)
    assert policy.arches == (Arch.X86_64,) and policy.rules[0].names == ("read",)
