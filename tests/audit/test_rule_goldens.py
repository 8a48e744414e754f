"""The encoder against real auditctl: every rule line of go-libaudit's goldens encodes to the bytes the kernel
listed after auditctl loaded that line (``*.rules.golden.yml``, x86_64 kernels 5.13 and 6.5; the one aarch64
golden holds only watches, whose encoding does not depend on the ABI, and is checked too).

The goldens were made in a temporary tree where a path ending in ``/`` was created as a directory and every
other path as a file (go-libaudit ``rule/gen_testdata_test.go``), so ``-w`` on those directories became ``dir``
watches; the test gives the parser the same answer. The kernel pads netlink payloads to 4 bytes;
``rule_data.yml`` was written by go-libaudit's own encoder and is not padded.
"""
from __future__ import annotations

import re

import pytest
import yaml

from syswarden.audit.rule_encode import decode, encode, padded
from syswarden.audit.rules_file import parse_rules
from syswarden.syscalls.arch import Arch
from tests.audit.conftest import anchors

_HEADER = re.compile(r"^# Linux .* (x86_64|aarch64)", re.M)


def _cases() -> list[tuple[str, str, bytes, bool]]:
    root = anchors() / "go-libaudit" / "rule-testdata"
    out = []
    for path in sorted(root.glob("*.yml")):
        text = path.read_text()
        data = yaml.safe_load(text)
        machine = _HEADER.search(text)
        for rule in data["rules"]:
            out.append((path.name, rule["flags"], rule["bytes"], machine is not None))
    return out


def _directories(path: str) -> bool:
    # The generator made directories of the paths written with a trailing slash.
    return path.endswith(("/etc/sudoers.d", "/var/log/audit"))


@pytest.mark.parametrize("name, line, golden, from_kernel", _cases(),
                         ids=lambda v: v[:60] if isinstance(v, str) else "")
def test_rule_line_encodes_to_the_golden_bytes(name: str, line: str, golden: bytes, from_kernel: bool) -> None:
    parsed = parse_rules(line, name, native=Arch.X86_64, is_dir=_directories)
    assert len(parsed.rules) == 1
    raw = encode(parsed.rules[0])
    expected = padded(raw) if from_kernel else raw
    assert expected == golden, f"{line}\nours: {decode(raw)}\ngold: {decode(golden)}"


def test_every_golden_file_was_used() -> None:
    cases = _cases()
    assert len(cases) >= 120
    assert {c[0] for c in cases} >= {"30-stig.rules.golden.yml", "41-containers.rules.golden.yml",
                                     "43-module-load.rules.golden.yml", "rule_data.yml"}


@pytest.mark.parametrize("name, line, golden, from_kernel", _cases()[::7])
def test_decode_is_the_inverse_of_encode(name: str, line: str, golden: bytes, from_kernel: bool) -> None:
    rule = decode(golden)
    assert padded(encode(rule)) == padded(golden)
