"""Canonical text of a filter AST: one space around keywords and operators, parentheses only where needed.

``parse(to_text(e)) == e`` for every tree the parser builds: a nested ``and`` inside an ``and`` (which only
comes from explicit parentheses) keeps its parentheses, ``not not x`` stays two ``Not`` nodes, and a value
that was quoted stays quoted, because quoting decides whether a list item may name a list.
"""
from __future__ import annotations

from syswarden.rules.filter import ast
from syswarden.rules.filter.lexer import RE_FIELD_ARG_BARE, escape_str, is_bare


def to_text(expr: ast.Expr) -> str:
    """The canonical condition text of ``expr``."""
    return _expr(expr)


def _expr(node: ast.Expr) -> str:
    if isinstance(node, ast.Or):
        return " or ".join(_child(c, ast.Or) for c in node.children)
    if isinstance(node, ast.And):
        return " and ".join(_child(c, ast.And) for c in node.children)
    if isinstance(node, ast.Not):
        inner = node.child
        if isinstance(inner, (ast.And, ast.Or)):
            return f"not ({_expr(inner)})"
        return f"not {_expr(inner)}"
    if isinstance(node, ast.MacroRef):
        return node.name
    return check_text(node)


def _child(node: ast.Expr, parent: type) -> str:
    """An operand of ``and``/``or``: parenthesized if it is an ``or`` (below ``and``) or the same kind."""
    text = _expr(node)
    if isinstance(node, ast.Or) or (isinstance(node, ast.And) and parent is ast.And):
        return f"({text})"
    return text


def check_text(node: ast.Check) -> str:
    """``lhs op rhs`` of one check."""
    lhs = operand_text(node.lhs)
    if node.rhs is None:
        return f"{lhs} {node.op}"
    op = f"{node.op} {node.modifier}" if node.modifier else node.op
    return f"{lhs} {op} {rhs_text(node.rhs)}"


def operand_text(node: ast.Operand) -> str:
    """A field (``proc.aname[2]``) or transformer (``tolower(proc.name)``)."""
    if isinstance(node, ast.Transform):
        return f"{node.name}({operand_text(node.operand)})"
    if node.arg is None:
        return node.name
    arg = node.arg if RE_FIELD_ARG_BARE.fullmatch(node.arg) else escape_str(node.arg)
    return f"{node.name}[{arg}]"


def rhs_text(node: ast.Rhs) -> str:
    """A value, list literal, list reference or right-hand transformer."""
    if isinstance(node, ast.Value):
        return value_text(node)
    if isinstance(node, ast.ListValue):
        return "(" + ", ".join(value_text(v) for v in node.items) + ")"
    if isinstance(node, ast.ListRef):
        return node.name
    return operand_text(node)


def value_text(node: ast.Value) -> str:
    """A value bare when it was bare and still reads back the same, quoted otherwise."""
    if not node.quoted and is_bare(node.text):
        return node.text
    return escape_str(node.text)
