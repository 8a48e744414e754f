"""Rules loading in linear time and bounded memory, whatever the file (issue 13 §3).

Before: positions rescanned the file per condition (2,000 trivial rules 6 s, 8,000 more than 60 s), mapped
conditions with a table of ~200 bytes per character, expanded lists exponentially and through forward
references, and recursed once per chained list or macro (RecursionError at 5,000).
"""
from __future__ import annotations

import time
import tracemalloc

from syswarden.rules.filter.positions import PositionMap
from syswarden.rules.loader import load_texts
from syswarden.rules.loader.result import ErrorCode
from syswarden.spans import SourceText, Span

RULE = "- rule: r{i}\n  desc: d\n  condition: evt.type = open and proc.name = p{i}\n  output: o %proc.name\n" \
       "  priority: WARNING\n"


def _rules(n: int) -> SourceText:
    return SourceText(f"r{n}.yaml", "".join(RULE.format(i=i) for i in range(n)))


def _cpu(n: int) -> float:
    text = _rules(n)
    start = time.process_time()
    result = load_texts([text])
    spent = time.process_time() - start
    assert result.ruleset is not None and len(result.ruleset.rules) == n
    return spent


def test_loading_is_linear_in_rules() -> None:
    """Four times the rules cost about four times the CPU (a quadratic loader costs sixteen)."""
    _cpu(200)                                           # warm the imports and caches
    small, large = _cpu(1000), _cpu(4000)
    assert large < 8 * small, (small, large)


def test_position_map_costs_per_folded_line_not_per_character() -> None:
    """Mapping an offset of a 400,000-character folded condition keeps a table per folded line, not per
    character (the old table took ~200 bytes a character: 80 MB here)."""
    lines = ["    proc.name = a and fd.name = b and"] * 10_000
    file_text = "- macro: m\n  condition: >\n" + "\n".join(lines) + "\n    evt.num > 0\n"
    value = " ".join(line.strip() for line in lines) + " evt.num > 0"
    source = SourceText("f.yaml", file_text)
    tracemalloc.start()
    positions = PositionMap(value, Span("f.yaml", 3, 5), source)
    last = positions.span(value.index("evt.num"))
    first = positions.span(0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert (first.line, first.col) == (3, 5)
    assert (last.line, last.col) == (3 + len(lines), 5)
    assert peak < 4 << 20, peak


def test_doubling_lists_stop_at_the_cap_with_the_list_named() -> None:
    """Sixty lists that each hold the previous one twice would hold 2**60 items; the loader stops at its cap and
    names the list that crossed it."""
    text = "- list: l0\n  items: [a, b]\n" + "".join(
        f"- list: l{j}\n  items: [l{j - 1}, l{j - 1}]\n" for j in range(1, 60)) + \
        "- rule: r\n  desc: d\n  condition: evt.type=open and proc.name in (l59)\n  output: o\n  priority: INFO\n"
    start = time.process_time()
    result = load_texts([SourceText("lists.yaml", text)])
    assert time.process_time() - start < 10
    err = result.errors[0]
    assert err.code is ErrorCode.LOAD_ERR_VALIDATE and "expands to more than" in err.message
    assert err.item is not None and err.item.item_type == "list" and err.span is not None and err.span.line > 0


def test_forward_list_references_are_not_expanded() -> None:
    """A list names only lists defined before it, as in Falco: ``l0: [l1, l1]`` keeps 'l1' as text, so sixty
    such lines cost nothing (they never finished before)."""
    text = "".join(f"- list: l{j}\n  items: [l{j + 1}, l{j + 1}]\n" for j in range(60)) + \
        "- rule: r\n  desc: d\n  condition: evt.type=open and proc.name in (l0)\n  output: o\n  priority: INFO\n"
    result = load_texts([SourceText("forward.yaml", text)])
    assert result.ruleset is not None
    assert result.ruleset.rules[0].predicate is not None


def test_five_thousand_chained_lists_and_macros_load() -> None:
    """No recursion per link: each list and macro is expanded once, with an explicit stack."""
    lists = "- list: c0\n  items: [a]\n" + "".join(f"- list: c{j}\n  items: [c{j - 1}]\n" for j in range(1, 5000))
    macros = "- macro: m0\n  condition: proc.name in (c4999)\n" + "".join(
        f"- macro: m{j}\n  condition: m{j - 1}\n" for j in range(1, 5000))
    rule = "- rule: r\n  desc: d\n  condition: evt.type=open and m4999\n  output: o\n  priority: INFO\n"
    result = load_texts([SourceText("chain.yaml", lists + macros + rule)])
    assert not result.errors, [e.one_line() for e in result.errors]


def test_macros_that_double_or_nest_too_deep_are_positioned_errors() -> None:
    doubling = "- macro: m0\n  condition: proc.name=a\n" + "".join(
        f"- macro: m{j}\n  condition: m{j - 1} or m{j - 1}\n" for j in range(1, 40))
    deep = "- macro: d0\n  condition: proc.name=a\n" + "".join(
        f"- macro: d{j}\n  condition: (d{j - 1} and proc.name=b)\n" for j in range(1, 1500))
    for macros, last, message in ((doubling, "m39", "grows past"), (deep, "d1499", "nests deeper")):
        rule = f"- rule: r\n  desc: d\n  condition: evt.type=open and {last}\n  output: o\n  priority: INFO\n"
        result = load_texts([SourceText("m.yaml", macros + rule)])
        err = result.errors[0]
        assert err.code is ErrorCode.LOAD_ERR_COMPILE_CONDITION and message in err.message, err
        assert err.span is not None and err.span.line > 0


def test_deeply_nested_exception_values_are_positioned() -> None:
    text = ("- rule: r\n  desc: d\n  condition: evt.type=open\n  output: o\n  priority: INFO\n  exceptions:\n"
            "  - name: ex1\n    fields: [proc.name]\n    values: " + "[" * 3000 + "]" * 3000 + "\n")
    err = load_texts([SourceText("exc.yaml", text)]).errors[0]
    assert err.code is ErrorCode.LOAD_ERR_YAML_PARSE and "levels of nesting" in err.message
    assert err.span is not None and err.span.line == 9
