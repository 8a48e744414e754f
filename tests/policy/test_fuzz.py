"""Mangled policy text fails only with PolicyError (never KeyError, TypeError, ...), with a position."""
from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syswarden.errors import PolicyError
from syswarden.policy.load import load_policy
from syswarden.syscalls.arch import Arch

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "policy"
SEEDS = [(GOLDEN / "native_identity.yaml").read_text(), (GOLDEN / "docker_identity.json").read_text()]
NOISE = st.sampled_from(list("{}[]:,\"' \n\t-#@|&0x1aZ\\") + ["null", "true", "errno(", "SCMP_ACT_", "- ", "\ufeff"])


@st.composite
def mangled(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        if draw(st.booleans()):
            text = text[:at] + draw(NOISE) + text[at:]
        else:
            text = text[:at] + text[at + draw(st.integers(1, 12)):]
    return text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mangled())
def test_mangled_policies_fail_cleanly(text: str) -> None:
    """Random insertions and deletions either still load or raise PolicyError carrying a span."""
    try:
        load_policy(text + "\n", native_arch=Arch.X86_64, kernel="6.1")
    except PolicyError as err:
        assert err.span is not None or "cannot read" in err.message or "kernel" in err.message
