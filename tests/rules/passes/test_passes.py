"""The AST passes on their own: macro resolution, list expansion and event-type inference."""
from __future__ import annotations

import pytest

from syswarden.rules.filter import ast
from syswarden.rules.filter.parser import parse
from syswarden.rules.filter.printer import to_text
from syswarden.rules.passes.errors import ListValueError, UndefinedListError, UndefinedMacroError
from syswarden.rules.passes.expand_lists import expand_definitions, expand_lists
from syswarden.rules.passes.infer_event_types import infer_event_types
from syswarden.rules.passes.resolve_macros import resolve_macros


def test_macros_substitute_recursively() -> None:
    """A macro body replaces its reference, and macros inside it are resolved too."""
    macros = {"a": parse("b or proc.name = x"), "b": parse("fd.num = 1")}
    expr, used = resolve_macros(parse("not a"), macros)
    assert to_text(expr) == "not (fd.num = 1 or proc.name = x)"
    assert used == {"a", "b"}


def test_undefined_macro_has_span() -> None:
    """The error points at the reference."""
    with pytest.raises(UndefinedMacroError) as info:
        resolve_macros(parse("a and\n  nope"), {"a": parse("b.c = 1")})
    assert info.value.span is not None and (info.value.span.line, info.value.span.col) == (2, 3)


def test_lists_expand_in_literals_and_operands() -> None:
    """Bare items naming lists expand (nested ones once, in definition order); quoted YAML items unquote with
    filter escapes."""
    lists, _ = expand_definitions({"inner": ["zsh"], "shells": ["bash", "inner"], "nets": ['"10.0.0.0/8"',
                                   "'a\\'b'"], "ports": [53]})
    expr, used = expand_lists(parse("proc.name in (shells, sh, 'shells') and fd.net in nets and fd.port in (ports)"),
                              lists)
    assert to_text(expr) == ('proc.name in ("bash", "zsh", "sh", "shells") and fd.net in ("10.0.0.0/8", "a\'b") '
                             'and fd.port in ("53")')
    assert used == {"shells", "nets", "ports"}


def test_one_item_list_as_single_value() -> None:
    """`proc.name = cat_binaries` reads the list's only item, as Falco's text substitution does."""
    expr, used = expand_lists(parse("proc.name = cat_binaries"), {"cat_binaries": ["cat"]})
    assert expr == ast.Check(ast.FieldRef("proc.name"), "=", ast.Value("cat", True)) and used == {"cat_binaries"}


def test_longer_list_as_single_value_is_an_error() -> None:
    """A list with several items cannot stand for one value (Falco fails to parse the pasted text)."""
    with pytest.raises(ListValueError, match="list 'shells' has 2 items where one value is expected"):
        expand_lists(parse("proc.name = shells"), {"shells": ["bash", "sh"]})


def test_non_list_single_value_is_untouched() -> None:
    """A bare value that names no list stays a string."""
    expr, used = expand_lists(parse("proc.name = shells"), {})
    assert expr == ast.Check(ast.FieldRef("proc.name"), "=", ast.Value("shells")) and not used


def test_undefined_list_operand() -> None:
    """`in name` without parentheses must name a list."""
    with pytest.raises(UndefinedListError, match="Undefined list 'nope'"):
        expand_lists(parse("proc.name in nope"), {})


def test_inference_with_modifiers_and_transforms_is_neutral() -> None:
    """Checks the inference cannot read (transformers, modifiers) allow every type."""
    assert infer_event_types(parse("tolower(evt.type) = open")) is None
    assert infer_event_types(parse("evt.type = oneof (open, close)")) is None
    assert infer_event_types(parse("evt.type in (open, close) and evt.type != close")) == {"open"}


def test_find_na_checks() -> None:
    """Comparisons with the literal <NA> are found, with their positions; other checks are not."""
    from syswarden.rules.passes.find_na_checks import find_na_checks

    expr = parse('proc.name = x or (not fd.name = "<NA>" and container.mount.dest[/proc*] in ("<NA>", "N/A"))')
    spans = find_na_checks(expr)
    assert [s.col for s in spans] == [23, 44]
    assert find_na_checks(parse("proc.name = NA and fd.name exists")) == ()
