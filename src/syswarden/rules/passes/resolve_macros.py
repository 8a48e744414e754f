"""Pass: replace every macro reference with the macro's (recursively resolved) expression.

Falco resolves macros on the AST too (``filter_macro_resolver``). Which macros a condition may see (only those
defined earlier, for a macro) is the loader's business: it passes the visible ones.
"""
from __future__ import annotations

from collections.abc import Mapping

from syswarden.rules.filter import ast
from syswarden.rules.passes.errors import MacroLoopError, UndefinedMacroError


def resolve_macros(expr: ast.Expr, macros: Mapping[str, ast.Expr]) -> tuple[ast.Expr, frozenset[str]]:
    """``expr`` with macros substituted, and the names of the macros used (directly or not).

    Raises:
        UndefinedMacroError: a reference to a macro not in ``macros``, at the reference's span.
        MacroLoopError: a macro that (indirectly) references itself.
    """
    used: set[str] = set()
    return _resolve(expr, macros, (), used), frozenset(used)


def _resolve(node: ast.Expr, macros: Mapping[str, ast.Expr], stack: tuple[str, ...], used: set[str]) -> ast.Expr:
    if isinstance(node, ast.MacroRef):
        if node.name not in macros:
            raise UndefinedMacroError(f"Undefined macro '{node.name}' used in filter.", span=node.span)
        if node.name in stack:
            chain = " -> ".join((*stack, node.name))
            raise MacroLoopError(f"reference loop in macro '{node.name}': {chain}", span=node.span)
        used.add(node.name)
        return _resolve(macros[node.name], macros, (*stack, node.name), used)
    if isinstance(node, ast.Not):
        return ast.Not(_resolve(node.child, macros, stack, used), node.span)
    if isinstance(node, ast.And):
        return ast.And(tuple(_resolve(c, macros, stack, used) for c in node.children), node.span)
    if isinstance(node, ast.Or):
        return ast.Or(tuple(_resolve(c, macros, stack, used) for c in node.children), node.span)
    return node
