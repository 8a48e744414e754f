"""Differential against sysdig 0.29 on the real captures: same matching events for the same filters."""
from __future__ import annotations

import shutil

import pytest
from generated_filters import generate_expressions
from sysdig_diff import (CAPTURES, DIFF_CAPTURES, OUTPUT_FIELDS, Sysdig, compare_capture, compare_fields,
                         compile_all, stock_expressions, syswarden_matches)


@pytest.fixture(scope="session")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> Sysdig:
    if shutil.which("sysdig") is None:
        pytest.skip("sysdig is not installed (it is the oracle)")
    return Sysdig(tmp_path_factory.mktemp("sysdig-answers"))


@pytest.fixture(scope="session")
def stock_filters() -> dict:
    ok, _ = compile_all([e.text for e in stock_expressions()])
    return ok


# six captures keep the first (uncached) run near 50 s: files and exec, generic syscalls, an HTTP client over
# IPv6 with DNS, an IPv6 server and client, container opens. (All 12 small captures pass: ~100 s.)
STOCK_CAPTURES = ["falco_cat_write.scap", "falco_syscall.scap", "libs_curl_google.scap", "libs_test_ipv6_client.scap",
                  "libs_single_ipv6_conn.scap", "falco_open-multiple-files.scap"]


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


# Captures where state's fd table still differs from sysdig's in ways not yet reconciled (docs: "open items").
FIELD_GAPS = {
    "falco_psp_run_as_user_0_container.scap": "fd table: a read< whose fd (0, /dev/pts/5) only sysdig resolves; "
                                              "fd.cport of unix sockets (as libs_sample)",
    "libs_curl_google.scap": "fd table: UDP socket orientation after connect, unix socket names on close",
    # sysdig 0.29 prints 0; current libsinsp (sinsp_filtercheck_fd.cpp TYPE_CLIENTPORT) answers only for IP
    # sockets, so <NA>, which syswarden follows
    "libs_sample.scap": "fd.cport of unix sockets is 0 in sysdig 0.29, <NA> in current libsinsp and syswarden",
}


def _field_params() -> list[object]:
    return [pytest.param(c, marks=[pytest.mark.xfail(reason=FIELD_GAPS[c], strict=True)] if c in FIELD_GAPS else [])
            for c in DIFF_CAPTURES]


@pytest.mark.parametrize("capture", _field_params())
def test_field_output_strings_match_sysdig(capture: str, oracle: Sysdig) -> None:
    """%field output strings (34 fields) equal sysdig -p's on every visible event, but documented differences."""
    path = CAPTURES / capture
    if not path.is_file():
        pytest.skip(f"{capture} not available")
    mismatches, compared = compare_fields(oracle, path)
    assert compared > 0
    unexplained = [m for m in mismatches if m.explained_by() is None]
    assert not unexplained, f"{len(unexplained)} of {compared * len(OUTPUT_FIELDS)} values differ:\n" + \
        "\n".join(str(m) for m in unexplained[:15])


GENERATED_CAPTURES = ["falco_cat_write.scap", "libs_curl_google.scap", "falco_open-multiple-files.scap",
                      "libs_single_ipv6_conn.scap", "falco_psp_write_tmp_test.scap"]


@pytest.mark.parametrize("capture", GENERATED_CAPTURES)
def test_generated_filters_match_like_sysdig(capture: str, oracle: Sysdig) -> None:
    """120 random filters (=, !=, startswith, endswith, contains, in, exists, glob, <, >=; and/or/not) over fields
    both tools know, with values taken from the capture, match the same events in syswarden and sysdig."""
    path = CAPTURES / capture
    if not path.is_file():
        pytest.skip(f"{capture} not available")
    texts = generate_expressions(oracle, path, 120, seed=sum(map(ord, capture)))
    filters, rejected = compile_all(texts)
    assert not rejected, rejected
    mismatches, sysdig_rejected, runs = compare_capture(oracle, path, syswarden_matches(path, filters))
    assert not sysdig_rejected and runs > 0
    unexplained = [m for m in mismatches if m.explained_by() is None]
    assert not unexplained, (f"{len(unexplained)} of {len(texts)} differ:\n"
                             + "\n".join(str(m) for m in unexplained[:10]))
