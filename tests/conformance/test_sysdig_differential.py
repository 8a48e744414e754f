"""Differential against sysdig 0.29 on the real captures: same matching events for the same filters."""
from __future__ import annotations

import shutil

import pytest
from sysdig_diff import (CAPTURES, DIFF_CAPTURES, Sysdig, compare_capture, compile_all, stock_expressions,
                         syswarden_matches)


@pytest.fixture(scope="session")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> Sysdig:
    if shutil.which("sysdig") is None:
        pytest.skip("sysdig is not installed (it is the oracle)")
    return Sysdig(tmp_path_factory.mktemp("sysdig-answers"))


@pytest.fixture(scope="session")
def stock_filters() -> dict:
    ok, rejected = compile_all([e.text for e in stock_expressions()])
    return ok


# two captures keep the first, uncached run within budget: a file/exec workload and an IPv6 network client
STOCK_CAPTURES = ["falco_cat_write.scap", "libs_test_ipv6_client.scap"]


@pytest.mark.parametrize("capture", STOCK_CAPTURES)
def test_stock_conditions_match_like_sysdig(capture: str, oracle: Sysdig, stock_filters: dict) -> None:
    """Every stock macro/rule condition and sub-expression matches the same events as in sysdig."""
    path = CAPTURES / capture
    if not path.is_file():
        pytest.skip(f"{capture} not available")
    replay = syswarden_matches(path, stock_filters)
    mismatches, rejected, runs = compare_capture(oracle, path, replay)
    assert runs > 0 and len(rejected) < len(stock_filters) // 10, rejected[:5]
    unexplained = [m for m in mismatches if m.explained_by() is None]
    assert not unexplained, f"{len(unexplained)} of {len(stock_filters)} differ:\n" + "\n".join(
        str(m) for m in unexplained[:15])
