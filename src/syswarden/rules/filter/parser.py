"""Parser for the Falco/sysdig filter language: condition text -> ``ast.Expr`` with spans.

Grammar (libsinsp ``filter/parser.h``, plus Falco 0.44's operator modifiers and ``regex``/``len``)::

    Expr        ::= OrExpr
    OrExpr      ::= AndExpr ( 'or' Blank AndExpr | 'or' '(' Expr ')' )*
    AndExpr     ::= NotExpr ( 'and' Blank NotExpr | 'and' '(' Expr ')' )*
    NotExpr     ::= ( 'not' Blank )* ( 'not(' Expr ')' | Check )
    Check       ::= '(' Expr ')'
                  | Operand Condition
                  | Identifier                                  (* a macro reference *)
    Operand     ::= Field | Transformer '(' Operand ')'
    Field       ::= FieldName ( '[' ( QuotedStr | FieldArgBare ) ']' )?
    Condition   ::= 'exists'
                  | NumOp ( Number | RhsTransform )
                  | StrOp ( StrValue | RhsTransform )
                  | StrOp Modifier ListValue
                  | ListOp ( ListValue | RhsTransform )
    RhsTransform::= 'val(' Field ')' | Transformer '(' Operand ')'
    ListValue   ::= '(' ( StrValue ( ',' StrValue )* )? ')' | Identifier     (* a list reference *)
    StrValue    ::= QuotedStr | BareStr
    NumOp       ::= '<=' | '<' | '>=' | '>'
    StrOp       ::= '==' | '=' | '!=' | ('glob' | 'iglob' | 'contains' | 'icontains' | 'bcontains'
                  | 'startswith' | 'bstartswith' | 'endswith' | 'regex') Blank
    ListOp      ::= 'intersects' | 'in' | 'pmatch'
    Modifier    ::= 'oneof' | 'anyof' | 'allof'
    Transformer ::= 'tolower' | 'toupper' | 'b64' | 'basename' | 'len'
    FieldName   ::= [a-zA-Z]+[a-zA-Z0-9_]* ( '.' [a-zA-Z]+[a-zA-Z0-9_]* )+
    Identifier  ::= [a-zA-Z]+[a-zA-Z0-9_]*
    Number      ::= 0[xX][0-9a-fA-F]+ | [+-]?[0-9]+\\.?[0-9]*([eE][+-][0-9]+)?
    BareStr     ::= [^()"'\\s=,]+
    FieldArgBare::= [^][\"'\\s]+
    QuotedStr   ::= '"' ... '"' | "'" ... "'"                  (* escapes: see lexer.py *)

``and``/``or`` bind left to right, ``not`` tighter than ``and`` tighter than ``or``. Recursion depth is capped at
1000 productions (Falco's setting), counted the way libsinsp counts it.
"""
from __future__ import annotations

import sys
from collections.abc import Callable

from syswarden.errors import FilterSyntaxError
from syswarden.rules.filter import ast
from syswarden.rules.filter.lexer import RE_IDENTIFIER, Lexer
from syswarden.rules.filter.positions import PositionMap
from syswarden.spans import SourceText, Span

MAX_DEPTH = 1000
_TRANSFORMER_LIST = ", ".join(f"'{t}'" for t in (ast.VAL, *ast.TRANSFORMERS))
_OPERATOR_LIST = ", ".join(f"'{o}'" for o in (*ast.UNARY_OPS, *ast.NUM_OPS, *ast.STR_OPS, *ast.LIST_OPS))
_TEXTUAL_STR_OPS = tuple(op for op in ast.STR_OPS if op.isalpha())
_SYMBOLIC_STR_OPS = tuple(op for op in ast.STR_OPS if not op.isalpha())


def parse(text: str, *, origin: Span | None = None, source: SourceText | None = None) -> ast.Expr:
    """Parse one condition.

    Args:
        text: the condition.
        origin: where the condition's first character sits in its file; error and node spans are then file
            positions.
        source: the whole file's text, used to map positions inside folded YAML block scalars and to
            quote the offending line in errors.

    Returns:
        The expression tree.

    Raises:
        FilterSyntaxError: with the span of the offending token and a message saying what was expected.
    """
    return _Parser(text, PositionMap(text, origin, source)).parse()


class _Parser:
    """One parse of one condition; each grammar production is one method."""

    def __init__(self, text: str, positions: PositionMap) -> None:
        self._positions = positions
        self._lx = Lexer(text, self._make_error)
        self._depth = 0

    def _make_error(self, message: str, offset: int) -> FilterSyntaxError:
        return FilterSyntaxError(message, span=self._positions.span(offset), source=self._positions.source)

    def _span(self, start: int) -> Span:
        return self._positions.span(start, self._lx.pos)

    def _enter(self) -> None:
        self._depth += 1
        if self._depth >= MAX_DEPTH:
            raise self._lx.error(f"exceeded max depth limit of {MAX_DEPTH}")

    def parse(self) -> ast.Expr:
        if not self._lx.text.strip():
            raise self._lx.error("filter input string is empty")
        limit = sys.getrecursionlimit()
        # Each depth unit is about two Python frames; raise the interpreter's limit so the cap is ours.
        sys.setrecursionlimit(max(limit, 4 * MAX_DEPTH + 200))
        try:
            expr = self._parse_or()
        finally:
            sys.setrecursionlimit(limit)
        if not self._lx.at_end:
            raise self._lx.error(f"unexpected token after '{self._lx.last}', expecting 'or', 'and'")
        return expr

    def _parse_or(self) -> ast.Expr:
        self._enter()
        self._lx.lex_blank()
        start = self._lx.pos
        children = [self._parse_and()]
        self._lx.lex_blank()
        while self._lx.lex_word("or"):
            children.append(self._parse_keyword_operand("or", self._parse_and))
            self._lx.lex_blank()
        self._depth -= 1
        return children[0] if len(children) == 1 else ast.Or(tuple(children), self._span(start))

    def _parse_and(self) -> ast.Expr:
        self._enter()
        self._lx.lex_blank()
        start = self._lx.pos
        children = [self._parse_not()]
        self._lx.lex_blank()
        while self._lx.lex_word("and"):
            children.append(self._parse_keyword_operand("and", self._parse_not))
            self._lx.lex_blank()
        self._depth -= 1
        return children[0] if len(children) == 1 else ast.And(tuple(children), self._span(start))

    def _parse_keyword_operand(self, keyword: str, production: Callable[[], ast.Expr]) -> ast.Expr:
        """What follows ``and``/``or``: a blank then the next operand, or directly a parenthesized group."""
        if self._lx.lex_blank() or self._lx.at_end:
            if self._lx.at_end:
                raise self._lx.error(f"expected an expression after '{keyword}'")
            return production()
        if self._lx.lex_str("("):
            return self._parse_embedded_remainder()
        raise self._lx.error(f"expected blank or '(' after '{keyword}'")

    def _parse_not(self) -> ast.Expr:
        self._enter()
        self._lx.lex_blank()
        nots: list[int] = []
        while True:
            at = self._lx.pos
            if self._lx.lex_not():
                nots.append(at)
                self._enter()       # each `not` nests a node, so it counts toward the depth cap
            elif self._lx.lex_str("not("):
                nots.append(at)
                self._enter()
                child = self._parse_embedded_remainder()
                break
            elif self._lx.text[self._lx.pos:].rstrip() == "not":
                raise self._lx.error("expected an expression after 'not'", len(self._lx.text.rstrip()))
            else:
                child = self._parse_check()
                break
        for at in reversed(nots):
            child = ast.Not(child, self._positions.span(at, self._lx.pos))
        self._depth -= 1 + len(nots)
        return child

    def _parse_embedded_remainder(self) -> ast.Expr:
        """The rest of ``( Expr )`` after the opening parenthesis."""
        self._enter()
        open_at = self._lx.pos - 1
        self._lx.lex_blank()
        if self._lx.peek() == ")":
            raise self._lx.error("expected an expression inside '(' ')'")
        child = self._parse_or()
        self._lx.lex_blank()
        if not self._lx.lex_str(")"):
            if self._lx.at_end:
                raise self._lx.error(f"expected a ')' token closing the '(' at {self._positions.span(open_at)}")
            raise self._lx.error("expected a ')' token")
        self._depth -= 1
        return child

    def _parse_check(self) -> ast.Expr:
        self._enter()
        self._lx.lex_blank()
        start = self._lx.pos
        if self._lx.lex_str("("):
            result = self._parse_embedded_remainder()
        elif self._lx.lex_field_name() is not None:
            lhs: ast.Operand = self._parse_field_remainder(self._lx.last, start)
            result = self._parse_condition(lhs, start)
        elif (name := self._lex_transformer(ast.TRANSFORMERS)) is not None:
            lhs = self._parse_transformer_remainder(name, start)
            result = self._parse_condition(lhs, start)
        elif self._lx.lex_identifier() is not None:
            result = ast.MacroRef(self._lx.last, self._span(start))
        elif self._lx.at_end:
            raise self._lx.error("unexpected end of condition: expected a '(' token, a field check, or an identifier")
        else:
            raise self._lx.error("expected a '(' token, a field check, or an identifier")
        self._depth -= 1
        return result

    def _lex_transformer(self, names: tuple[str, ...]) -> str | None:
        for name in names:
            if self._lx.lex_str(name + "("):
                self._lx.last = name
                return name
        return None

    def _parse_field_remainder(self, name: str, start: int) -> ast.FieldRef:
        self._enter()
        arg = None
        if self._lx.lex_str("["):
            arg = self._lx.lex_quoted_str()
            if arg is None:
                arg = self._lx.lex_field_arg_bare()
            if arg is None:
                raise self._lx.error("expected a valid field argument: a quoted string or a bare string")
            if not self._lx.lex_str("]"):
                raise self._lx.error("expected a ']' token")
        self._depth -= 1
        return ast.FieldRef(name, arg, self._span(start))

    def _parse_transformer_remainder(self, name: str, start: int) -> ast.Transform:
        """``Transformer '(' Operand ')'`` after ``name(`` was consumed."""
        self._enter()
        self._lx.lex_blank()
        arg_start = self._lx.pos
        operand: ast.Operand
        if (inner := self._lex_transformer(ast.TRANSFORMERS)) is not None:
            operand = self._parse_transformer_remainder(inner, arg_start)
        elif self._lx.lex_field_name() is not None:
            operand = self._parse_field_remainder(self._lx.last, arg_start)
        else:
            raise self._lx.error(f"expected a field or a nested valid transformer: {_TRANSFORMER_LIST}")
        self._lx.lex_blank()
        if not self._lx.lex_str(")"):
            raise self._lx.error("expected a ')' token closing the transformer")
        self._depth -= 1
        return ast.Transform(name, operand, self._span(start))

    def _parse_condition(self, lhs: ast.Operand, start: int) -> ast.Check:
        self._enter()
        self._lx.lex_blank()
        op_at = self._lx.pos
        if self._lx.lex_word("exists"):
            self._depth -= 1
            return ast.Check(lhs, "exists", None, None, self._span(start))
        modifier = None
        if (op := self._lx.lex_one_of(ast.NUM_OPS, self._lx.lex_str)) is not None:
            rhs: ast.Rhs = self._parse_num_value()
        elif (op := self._lex_str_op()) is not None:
            modifier = self._lex_modifier(op)
            rhs = self._parse_list_value() if modifier else self._parse_str_value()
        elif (op := self._lx.lex_one_of(ast.LIST_OPS, self._lx.lex_word)) is not None:
            rhs = self._parse_list_value()
        elif self._lx.at_end:
            raise self._lx.error(
                f"unexpected end of condition: expected a valid check operator: one of {_OPERATOR_LIST}")
        elif self._lx.text[op_at:].strip() in _TEXTUAL_STR_OPS:
            raise self._lx.error(f"expected a string value after '{self._lx.text[op_at:].strip()}'", len(self._lx.text))
        else:
            raise self._lx.error(f"expected a valid check operator: one of {_OPERATOR_LIST}", op_at)
        self._depth -= 1
        return ast.Check(lhs, op, rhs, modifier, self._span(start))

    def _lex_str_op(self) -> str | None:
        return self._lx.lex_one_of(_SYMBOLIC_STR_OPS, self._lx.lex_str) or self._lx.lex_one_of(
            _TEXTUAL_STR_OPS, self._lx.lex_keyword_blank
        )

    def _lex_modifier(self, op: str) -> str | None:
        """``oneof``/``anyof``/``allof`` when a list follows (as libsinsp decides: a blank, then ``(`` or a list
        name that is not ``and``/``or``/``not``); otherwise the word is just a bare string value."""
        self._lx.lex_blank()
        start, last = self._lx.pos, self._lx.last
        for word in ast.MODIFIERS:
            if self._lx.lex_keyword_blank(word):
                self._lx.lex_blank()
                if self._list_follows():
                    if op not in ast.MODIFIABLE_OPS:
                        raise self._lx.error(f"operator '{op}' does not support the '{word}' modifier", start)
                    return word
                break
        self._lx.pos, self._lx.last = start, last
        return None

    def _list_follows(self) -> bool:
        if self._lx.peek() == "(":
            return True
        match = RE_IDENTIFIER.match(self._lx.text, self._lx.pos)
        return match is not None and match.group(0) not in ("and", "or", "not")

    def _parse_num_value(self) -> ast.Rhs:
        self._enter()
        self._lx.lex_blank()
        start = self._lx.pos
        result: ast.Rhs | None = self._try_parse_rhs_transform()
        if result is None and self._lx.lex_number() is not None:
            result = ast.Value(self._lx.last, False, self._span(start))
        if result is None:
            raise self._lx.error(f"expected a number value or a field with a valid transformer: {_TRANSFORMER_LIST}")
        self._depth -= 1
        return result

    def _parse_str_value(self) -> ast.Rhs:
        self._enter()
        self._lx.lex_blank()
        start = self._lx.pos
        result: ast.Rhs | None = self._try_parse_rhs_transform()
        if result is None:
            result = self._lex_plain_value(start)
        if result is None:
            raise self._lx.error(
                f"expected a string value or a field with a valid transformer: {_TRANSFORMER_LIST}"
            )
        self._depth -= 1
        return result

    def _lex_plain_value(self, start: int) -> ast.Value | None:
        if (text := self._lx.lex_quoted_str()) is not None:
            return ast.Value(text, True, self._span(start))
        if (text := self._lx.lex_bare_str()) is not None:
            return ast.Value(text, False, self._span(start))
        return None

    def _parse_list_value(self) -> ast.Rhs:
        self._enter()
        self._lx.lex_blank()
        start = self._lx.pos
        result: ast.Rhs | None
        if self._lx.lex_str("("):
            result = ast.ListValue(self._parse_list_items(), self._span(start))
        elif (result := self._try_parse_rhs_transform()) is None:
            ident_at = self._lx.pos
            if self._lx.lex_identifier() in ast.MODIFIERS:
                raise self._lx.error(f"a list operator does not take the '{self._lx.last}' modifier", ident_at)
            if self._lx.pos == ident_at:
                raise self._lx.error(
                    f"expected a list, an identifier, or a field with a valid transformer: {_TRANSFORMER_LIST}"
                )
            result = ast.ListRef(self._lx.last, self._span(start))
        self._depth -= 1
        return result

    def _parse_list_items(self) -> tuple[ast.Value, ...]:
        """``StrValue (',' StrValue)* ')'`` after the opening parenthesis (the list may be empty)."""
        items: list[ast.Value] = []
        self._lx.lex_blank()
        first = self._lex_plain_value(self._lx.pos)
        if first is not None:
            items.append(first)
            self._lx.lex_blank()
            while self._lx.lex_str(","):
                self._lx.lex_blank()
                item = self._lex_plain_value(self._lx.pos)
                if item is None:
                    raise self._lx.error("expected a string value after ','")
                items.append(item)
                self._lx.lex_blank()
        if not self._lx.lex_str(")"):
            raise self._lx.error("expected a ')' token" if items else "expected a string value or ')' in list")
        return tuple(items)

    def _try_parse_rhs_transform(self) -> ast.Transform | None:
        start = self._lx.pos
        if self._lex_transformer((ast.VAL,)) is not None:
            self._lx.lex_blank()
            field_at = self._lx.pos
            if self._lx.lex_field_name() is None:
                raise self._lx.error("expected a field within 'val' transformer")
            operand = self._parse_field_remainder(self._lx.last, field_at)
            self._lx.lex_blank()
            if not self._lx.lex_str(")"):
                raise self._lx.error("expected a ')' token closing the transformer")
            return ast.Transform(ast.VAL, operand, self._span(start))
        if (name := self._lex_transformer(ast.TRANSFORMERS)) is not None:
            return self._parse_transformer_remainder(name, start)
        return None
