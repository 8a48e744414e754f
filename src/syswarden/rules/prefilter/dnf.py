"""A checked condition -> the union of boxes the kernel can test (a DNF over ``atoms.literal``).

``not`` is pushed down (De Morgan) to the checks, each check becomes TRUE, FALSE or a one-dimension box, ``and``
meets boxes and ``or`` unites them. The result holds every event the condition holds (each step errs wide).
``[]`` is FALSE, a list holding an unconstrained box is TRUE. A product that grows past ``CAP`` boxes is fitted
back by hull (``boxes.fit``), so the work stays bounded whatever the condition.
"""
from __future__ import annotations

from syswarden.events.prefilter import ANY_BOX, Box
from syswarden.rules.compiler import deep_recursion
from syswarden.rules.filter import ast
from syswarden.rules.prefilter.atoms import TypeContext, literal
from syswarden.rules.prefilter.boxes import fit, is_always, meet, simplify

CAP = 256
TRUE: list[Box] = [ANY_BOX]


def weaken(expr: ast.Expr, ctx: TypeContext) -> list[Box]:
    """The boxes whose union holds every event of ``ctx.event_type`` on which ``expr`` may hold."""
    try:
        with deep_recursion():          # as deep as the compiler goes on the same tree
            return _walk(expr, False, ctx)
    except RecursionError:
        return list(TRUE)               # deeper still: pass everything (sound)


def _walk(node: ast.Expr, negated: bool, ctx: TypeContext) -> list[Box]:
    if isinstance(node, ast.Not):
        return _walk(node.child, not negated, ctx)
    if isinstance(node, (ast.And, ast.Or)):
        if isinstance(node, ast.And) != negated:
            return _conjunction(node.children, negated, ctx)
        return _disjunction(node.children, negated, ctx)
    if isinstance(node, ast.Check):
        lit = literal(node, negated, ctx)
        if isinstance(lit, Box):
            return [lit]
        if isinstance(lit, tuple):
            return list(lit)
        return list(TRUE) if lit else []
    return list(TRUE)                     # an unresolved macro cannot reach here; if it did, it would pass all


def _conjunction(children: tuple[ast.Expr, ...], negated: bool, ctx: TypeContext) -> list[Box]:
    out = list(TRUE)
    for child in children:
        part = _walk(child, negated, ctx)
        if not part:
            return []
        if is_always(part):
            continue
        product = [m for a in out for b in part if (m := meet(a, b)) is not None]
        if not product:
            return []
        out = simplify(product) if len(product) <= CAP else fit(product, CAP)
    return out


def _disjunction(children: tuple[ast.Expr, ...], negated: bool, ctx: TypeContext) -> list[Box]:
    out: list[Box] = []
    for child in children:
        part = _walk(child, negated, ctx)
        if is_always(part):
            return list(TRUE)
        out += part
    return simplify(out) if len(out) <= CAP else fit(out, CAP)


__all__ = ["weaken", "TRUE", "CAP"]
