"""Symbolic argument constants agree with the kernel's UAPI headers and Python's socket/mmap modules."""
from __future__ import annotations

import mmap
import re
import socket
from pathlib import Path

import pytest

from syswarden.policy.constants import CONSTANTS, evaluate

HEADERS = Path("/usr/include/linux")


def header_defines(name: str) -> dict[str, int]:
    path = HEADERS / name
    if not path.is_file():
        pytest.skip(f"{path} not installed (linux-libc-dev)")
    out = {}
    text = path.read_text()
    for m in re.finditer(r"^#define\s+(\w+)\s+(0x[0-9a-fA-F]+|\d+)\b", text, re.M):
        out[m.group(1)] = int(m.group(2), 0)
    for m in re.finditer(r"^\s+(\w+)\s*=\s*(0x[0-9a-fA-F]+|\d+)\s*,", text, re.M):     # enum members
        out[m.group(1)] = int(m.group(2), 0)
    return out


@pytest.mark.parametrize("header", ["sched.h", "prctl.h", "personality.h"])
def test_constants_match_uapi_headers(header: str) -> None:
    """Every constant a header defines has the header's value (newer ones may be missing from old headers)."""
    defines = header_defines(header)
    shared = {k for k in CONSTANTS if k in defines}
    assert shared
    assert {k: CONSTANTS[k] for k in shared} == {k: defines[k] for k in shared}


def test_constants_match_python() -> None:
    """Address families and protections equal Python's socket and mmap values."""
    for name, value in CONSTANTS.items():
        if name.startswith("AF_") and hasattr(socket, name):
            assert int(getattr(socket, name)) == value, name
        if name.startswith("PROT_") and hasattr(mmap, name):
            assert getattr(mmap, name) == value, name


def test_evaluate_ors_parts() -> None:
    """Names and numbers OR together; an unknown name makes the whole value unknown."""
    assert evaluate("CLONE_NEWUSER | 0x1") == 0x10000001
    assert evaluate("AF_INET") == 2
    assert evaluate("CLONE_NEWUSER|O_RDONLY") is None
    assert evaluate("12abc") is None
