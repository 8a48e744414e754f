"""The filter parser: precedence, values, escapes, positions, depth and the exact errors for bad conditions."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from syswarden.errors import FilterSyntaxError
from syswarden.rules.filter import ast
from syswarden.rules.filter.parser import parse
from syswarden.spans import SourceText, Span

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared"
STOCK = SHARED / "anchors" / "falco"
STOCK_FILES = ("falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml")

F = ast.FieldRef
V = ast.Value
M = ast.MacroRef


def chk(field: str, op: str, value: str | None = None) -> ast.Check:
    return ast.Check(F(field), op, V(value) if value is not None else None)


def test_and_binds_tighter_than_or() -> None:
    """`a or b and c` groups as `a or (b and c)`."""
    assert parse("a or b and c") == ast.Or((M("a"), ast.And((M("b"), M("c")))))


def test_not_binds_tighter_than_and() -> None:
    """`not a and b` negates only `a`."""
    assert parse("not a and b") == ast.And((ast.Not(M("a")), M("b")))


def test_repeated_not_is_kept() -> None:
    """`not not a` keeps two negations (printing must give the same text back)."""
    assert parse("not not a") == ast.Not(ast.Not(M("a")))


def test_not_paren_without_blank() -> None:
    """`not(a or b)` is a negated group."""
    assert parse("not(a or b)") == ast.Not(ast.Or((M("a"), M("b"))))


def test_and_paren_without_blank() -> None:
    """`a and(b)` is accepted, as in libsinsp."""
    assert parse("a and(b)or(c)") == ast.Or((ast.And((M("a"), M("b"))), M("c")))


def test_parentheses_nest_and_keep_shape() -> None:
    """Explicit parentheses give nested nodes of the same kind."""
    assert parse("a and (b and c)") == ast.And((M("a"), ast.And((M("b"), M("c")))))


def test_symbolic_operator_needs_no_blank() -> None:
    """`evt.type=open` is a check without blanks."""
    assert parse("evt.type=open") == chk("evt.type", "=", "open")


@pytest.mark.parametrize("op", ["=", "==", "!=", "<", "<=", ">", ">="])
def test_symbolic_operators(op: str) -> None:
    """Every symbolic operator parses with a numeric value."""
    assert parse(f"fd.num {op} 3") == chk("fd.num", op, "3")


@pytest.mark.parametrize(
    "op", ["contains", "icontains", "bcontains", "startswith", "bstartswith", "endswith", "glob", "iglob", "regex"]
)
def test_textual_operators(op: str) -> None:
    """Every textual string operator parses with a bare value."""
    assert parse(f"fd.name {op} /etc") == chk("fd.name", op, "/etc")


def test_textual_operator_accepts_newline_after_it() -> None:
    """A line break after `contains` counts as the blank the operator needs."""
    assert parse("fd.name contains\n  /etc") == chk("fd.name", "contains", "/etc")


@pytest.mark.parametrize("op", ["in", "intersects", "pmatch"])
def test_list_operators(op: str) -> None:
    """List operators take a list literal, with or without a blank before it."""
    want = ast.Check(F("fd.name"), op, ast.ListValue((V("a"), V("b c", True))))
    assert parse(f"fd.name {op} (a, 'b c')") == want
    assert parse(f"fd.name {op}(a,'b c')") == want


def test_list_operator_with_list_name() -> None:
    """`proc.name in shell_binaries` references a list by name."""
    assert parse("proc.name in shell_binaries") == ast.Check(F("proc.name"), "in", ast.ListRef("shell_binaries"))


def test_empty_list_literal() -> None:
    """`()` is an empty list."""
    assert parse("proc.name in ()") == ast.Check(F("proc.name"), "in", ast.ListValue(()))


def test_exists() -> None:
    """`exists` is unary."""
    assert parse("proc.pname exists and a") == ast.And((chk("proc.pname", "exists"), M("a")))


def test_exists_prefix_is_not_an_operator() -> None:
    """`existsx` is not the `exists` operator."""
    with pytest.raises(FilterSyntaxError, match="expected a valid check operator"):
        parse("proc.name existsx")


def test_modifiers() -> None:
    """Falco 0.44's `startswith oneof (...)`."""
    got = parse("fd.name startswith allof (/a, /b)")
    assert got == ast.Check(F("fd.name"), "startswith", ast.ListValue((V("/a"), V("/b"))), "allof")


def test_modifier_on_wrong_operator() -> None:
    """Numeric operators take no modifier."""
    with pytest.raises(FilterSyntaxError, match="expected a number value"):
        parse("fd.num > oneof (1)")


def test_field_arguments() -> None:
    """Index, name and quoted arguments."""
    assert parse("proc.aname[2]=sh").lhs == F("proc.aname", "2")  # type: ignore[union-attr]
    assert parse("evt.arg[1]=x").lhs == F("evt.arg", "1")  # type: ignore[union-attr]
    got = parse('container.mount.dest["/var/run/docker.sock"] exists')
    assert got.lhs == F("container.mount.dest", "/var/run/docker.sock")  # type: ignore[union-attr]
    assert parse("container.mount.dest[/proc*] exists").lhs == F("container.mount.dest", "/proc*")  # type: ignore[union-attr]


def test_dotted_argument_field() -> None:
    """`evt.arg.flags` is one field name."""
    assert parse("evt.arg.flags contains O_TRUNC") == chk("evt.arg.flags", "contains", "O_TRUNC")


def test_transformers_both_sides() -> None:
    """Nested transformers on the left, `val()` on the right."""
    got = parse("toupper(basename(proc.exe)) = val(proc.name)")
    lhs = ast.Transform("toupper", ast.Transform("basename", F("proc.exe")))
    assert got == ast.Check(lhs, "=", ast.Transform("val", F("proc.name")))


def test_len_transformer_numeric() -> None:
    """`len(proc.args) > 3`."""
    assert parse("len(proc.args) > 3") == ast.Check(ast.Transform("len", F("proc.args")), ">", V("3"))


def test_numbers() -> None:
    """Hex, signed and float numbers are single values."""
    for text in ("0x1F", "-1", "+2", "1.5", "3e+2"):
        assert parse(f"evt.rawres > {text}") == chk("evt.rawres", ">", text)


def test_bare_string_stops_at_delimiters() -> None:
    """A bare string ends at blanks, parentheses, commas, quotes and `=`."""
    assert parse("(proc.name=a.b/c-d:e)") == chk("proc.name", "=", "a.b/c-d:e")


def test_quoted_escapes() -> None:
    """Falco's escapes decode; the matching quote may be escaped."""
    got = parse(r'proc.name = "a\"b\\c\n\t\/"')
    assert got == ast.Check(F("proc.name"), "=", V('a"b\\c\n\t/', True))
    assert parse(r"proc.name = 'it\'s'") == ast.Check(F("proc.name"), "=", V("it's", True))


def test_hex_escapes() -> None:
    """`\\xHH` is one byte (libsinsp >= 0.20); bytes above 0x7f survive as surrogate escapes."""
    got = parse(r'proc.name = "\x41\x1b\xff"')
    assert got == ast.Check(F("proc.name"), "=", V("A\x1b\udcff", True))
    assert "A\x1b\udcff".encode("utf-8", "surrogateescape") == b"A\x1b\xff"


def test_escaped_backslash_before_closing_quote() -> None:
    """`"a\\\\"` ends after the escaped backslash (libsinsp misreads this)."""
    assert parse(r'proc.name = "a\\" and b') == ast.And((ast.Check(F("proc.name"), "=", V("a\\", True)), M("b")))


def test_backslash_space_is_kept_as_backslash() -> None:
    """libsinsp's compatibility quirk: `\\ ` in a quoted string reads as one backslash."""
    assert parse(r'proc.name = "a\ b"') == ast.Check(F("proc.name"), "=", V("a\\b", True))


BAD = [
    # (condition, column, exact message)
    ("", 1, "filter input string is empty"),
    ("evt.type=execve foo", 17, "unexpected token after 'execve', expecting 'or', 'and'"),
    ("a and", 6, "expected an expression after 'and'"),
    ("a or", 5, "expected an expression after 'or'"),
    ("(a and b", 9, "expected a ')' token closing the '(' at <condition>:1:1"),
    ("()", 2, "expected an expression inside '(' ')'"),
    ("proc.name contains", 19, "expected a string value after 'contains'"),
    ("proc.name =", 12,
     ("expected a string value or a field with a valid transformer: "
      "'val', 'tolower', 'toupper', 'b64', 'basename', 'len'")),
    ("proc.name = 'abc", 13, "unterminated '-quoted string"),
    ("proc.name = 'a\\\"b'", 15, "invalid \\\" escape in '-quoted string"),
    ('proc.name = "a\\\'b"', 15, "invalid \\' escape in \"-quoted string"),
    ('proc.name = "a\\qb"', 15, "unsupported string escape sequence: \\q"),
    ('proc.name = "a\\x4"', 15, "truncated hex char escape sequence"),
    ('proc.name = "a\\xzz"', 15, "invalid hex char escape sequence: zz"),
    ("fd.num >= abc", 11,
     ("expected a number value or a field with a valid transformer: "
      "'val', 'tolower', 'toupper', 'b64', 'basename', 'len'")),
    ("proc.name in", 13,
     ("expected a list, an identifier, or a field with a valid transformer: "
      "'val', 'tolower', 'toupper', 'b64', 'basename', 'len'")),
    ("proc.name in (a,", 17, "expected a string value after ','"),
    ("proc.name in (a b)", 17, "expected a ')' token"),
    ("proc.aname[2 = x", 13, "expected a ']' token"),
    ("proc.aname[] = x", 12, "expected a valid field argument: a quoted string or a bare string"),
    ("tolower(proc.name = x", 19, "expected a ')' token closing the transformer"),
    ("tolower(x) = y", 9,
     "expected a field or a nested valid transformer: 'val', 'tolower', 'toupper', 'b64', 'basename', 'len'"),
    ("proc.name = val(x)", 17, "expected a field within 'val' transformer"),
    ("proc.name in oneof (a)", 14, "a list operator does not take the 'oneof' modifier"),
    ("a and )", 7, "expected a '(' token, a field check, or an identifier"),
    ("proc.name ~ x", 11,
     ("expected a valid check operator: one of 'exists', '<=', '<', '>=', '>', '==', '=', '!=', 'glob', 'iglob', "
      "'contains', 'icontains', 'bcontains', 'startswith', 'bstartswith', 'endswith', 'regex', 'intersects', 'in', "
      "'pmatch'")),
    ("not", 4, "expected an expression after 'not'"),
    ("proc.name = a)", 14, "unexpected token after 'a', expecting 'or', 'and'"),
    ("1 = 2", 1, "expected a '(' token, a field check, or an identifier"),
    ("proc.name = (a)", 13,
     ("expected a string value or a field with a valid transformer: "
      "'val', 'tolower', 'toupper', 'b64', 'basename', 'len'")),
    ("a andb", 3, "unexpected token after 'a', expecting 'or', 'and'"),
    ("fd.name startswith oneof (a,", 29, "expected a string value after ','"),
]


@pytest.mark.parametrize(("text", "col", "message"), BAD, ids=[b[0] or "<empty>" for b in BAD])
def test_malformed_conditions(text: str, col: int, message: str) -> None:
    """Each malformed condition fails with its exact message at its exact column."""
    with pytest.raises(FilterSyntaxError) as info:
        parse(text)
    assert info.value.message == message
    assert info.value.span is not None and (info.value.span.line, info.value.span.col) == (1, col)


def test_error_in_folded_block_scalar_points_into_file() -> None:
    """An error on the third line of a `>` block scalar is reported at that file line and column."""
    text = "- rule: r\n  condition: >\n    evt.type = open\n    and proc.name = sh\n    and fd.name = )\n"
    value = yaml.safe_load(text)[0]["condition"]
    with pytest.raises(FilterSyntaxError) as info:
        parse(value, origin=Span("r.yaml", 3, 5), source=SourceText("r.yaml", text))
    span = info.value.span
    assert span is not None and (span.file, span.line, span.col) == ("r.yaml", 5, 19)
    assert info.value.detail().splitlines()[1:3] == ["    and fd.name = )", " " * 18 + "^"]


def test_error_in_literal_block_without_source_uses_origin_column() -> None:
    """Without the file text, later lines of a condition keep the origin's column (right for `|` blocks)."""
    with pytest.raises(FilterSyntaxError) as info:
        parse("a and\nb c", origin=Span("r.yaml", 10, 7))
    span = info.value.span
    assert span is not None and (span.line, span.col) == (11, 9)


def test_node_spans_are_file_positions() -> None:
    """Nodes carry the file position of their first character."""
    text = "- macro: m\n  condition: proc.name = sh and fd.num > 2\n"
    got = parse("proc.name = sh and fd.num > 2", origin=Span("m.yaml", 2, 14), source=SourceText("m.yaml", text))
    assert isinstance(got, ast.And)
    assert (got.children[1].span.line, got.children[1].span.col) == (2, 33)


def test_depth_limit() -> None:
    """Deep nesting fails with Falco's depth message instead of exhausting the interpreter."""
    with pytest.raises(FilterSyntaxError, match="exceeded max depth limit of 1000"):
        parse("(" * 400 + "a" + ")" * 400)


def test_moderate_depth_is_fine() -> None:
    """150 nested parentheses parse (Falco accepts them with its limit of 1000)."""
    assert parse("(" * 150 + "a" + ")" * 150) == M("a")


def _stock_conditions() -> list[tuple[str, str, str]]:
    out = []
    for name in STOCK_FILES:
        for item in yaml.safe_load((STOCK / name).read_text()):
            if "condition" in item:
                out.append((name, item.get("rule") or item.get("macro"), item["condition"]))
    return out


@pytest.mark.skipif(not STOCK.is_dir(), reason="shared Falco anchors not present")
def test_every_stock_condition_parses() -> None:
    """Every macro and rule condition in the three stock rules files parses with zero errors."""
    conditions = _stock_conditions()
    failures = []
    for file, name, cond in conditions:
        try:
            parse(cond)
        except FilterSyntaxError as exc:
            failures.append(f"{file} {name}: {exc}")
    assert len(conditions) > 400
    assert failures == []


def _identity_lines() -> list[str]:
    path = Path(__file__).resolve().parents[2] / "golden" / "filter_identity.txt"
    return [ln for ln in path.read_text().splitlines() if ln and not ln.startswith("#")]


def _mutate_blanks(text: str, blank: str) -> str:
    """Every blank outside quotes replaced by ``blank`` (libsinsp's accept-helper mutation)."""
    out, quote = [], ""
    for ch in text:
        if quote:
            quote = "" if ch == quote and out[-1] != "\\" else quote
        elif ch in "\"'":
            quote = ch
        elif ch == " ":
            ch = blank
        out.append(ch)
    return "".join(out)


@pytest.mark.parametrize("blank", ["\n", "\t", "  \n    ", "\r\n"])
def test_blank_mutations_parse_the_same(blank: str) -> None:
    """Newlines, tabs and runs of blanks anywhere a space is allowed give the same tree, also around the text."""
    for line in _identity_lines():
        assert parse(blank + _mutate_blanks(line, blank) + blank) == parse(line), line


def test_modifier_word_without_list_is_a_value() -> None:
    """`oneof` is a modifier only when a list follows; otherwise it is a bare string (libsinsp's rule)."""
    assert parse("proc.name = oneof") == chk("proc.name", "=", "oneof")
    assert parse("proc.name = anyof and x") == ast.And((chk("proc.name", "=", "anyof"), M("x")))
    assert parse("proc.name contains oneof lst") == ast.Check(F("proc.name"), "contains", ast.ListRef("lst"), "oneof")
