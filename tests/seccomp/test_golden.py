"""Golden files for seccomp/compiler.py + disasm.py: tests/golden/seccomp/*.txt hold a policy excerpt, a line
with ``;``, and the exact disassembly. Regenerate with SYSWARDEN_REGEN_GOLDEN=1 (then review the diff)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from syswarden.seccomp.compiler import compile_policy
from syswarden.seccomp.disasm import disassemble
from syswarden.syscalls.arch import Arch

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "seccomp"
CASES = sorted(GOLDEN.glob("*.txt"))


def _split(text: str) -> tuple[str, str]:
    policy, sep, listing = text.partition("\n;\n")
    assert sep, "a golden file needs a line with ';' between the policy and the disassembly"
    return policy + "\n", listing


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_disassembly_matches_golden(path: Path) -> None:
    """The compiled filter's listing equals the stored one, byte for byte."""
    load = pytest.importorskip("syswarden.policy.load")
    policy_text, expected = _split(path.read_text())
    policy = load.load_policy(policy_text, fmt="yaml")
    got = disassemble(compile_policy(policy).program, Arch.X86_64)
    if os.environ.get("SYSWARDEN_REGEN_GOLDEN"):
        path.write_text(policy_text + ";\n" + got)
        pytest.skip("regenerated")
    assert got == expected


def test_there_are_golden_cases() -> None:
    """The golden directory is not empty (a missing checkout would otherwise pass silently)."""
    assert len(CASES) >= 6
