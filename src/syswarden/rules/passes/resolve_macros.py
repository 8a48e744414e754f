"""Pass: replace every macro reference with the macro's (recursively resolved) expression.

Falco resolves macros on the AST too (``filter_macro_resolver``). Which macros a condition may see (only those
defined earlier, for a macro) is the loader's business: it passes the visible ones.

Each macro is resolved once and its result shared wherever it is used, walking the chain of references with an
explicit stack, so 5,000 macros each naming the previous one cost 5,000 steps and no Python recursion. What a
macro stands for is measured as it is built (nesting depth and node count with every use expanded): a chain
that nests deeper than the parser allows (``MAX_DEPTH``) or doubles itself into ``MAX_NODES`` nodes (``m1: m0 or
m0``, ``m2: m1 or m1`` ...) is refused at the reference that crosses the limit, instead of exhausting the
stack or the memory of every later pass.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from syswarden.rules.filter import ast
from syswarden.rules.passes.errors import MacroLoopError, MacroSizeError, UndefinedMacroError

MAX_DEPTH = 1000            # Falco's parser depth limit, kept after macros are substituted
MAX_NODES = 200_000         # checks and operators of one condition with every macro expanded


@dataclass(frozen=True, slots=True)
class _Resolved:
    expr: ast.Expr
    depth: int
    size: int


def resolve_macros(expr: ast.Expr, macros: Mapping[str, ast.Expr] | MacroResolver
                   ) -> tuple[ast.Expr, frozenset[str]]:
    """``expr`` with macros substituted, and the names of the macros used (directly or not); a
    ``MacroResolver`` may stand for the macros, to share its work across many conditions.

    Raises:
        UndefinedMacroError: a reference to a macro not in ``macros``, at the reference's span.
        MacroLoopError: a macro that (indirectly) references itself.
        MacroSizeError: the condition nests deeper than ``MAX_DEPTH`` or grows past ``MAX_NODES`` nodes.
    """
    resolver = macros if isinstance(macros, MacroResolver) else MacroResolver(macros)
    return resolver.resolve(expr), resolver.used(expr)


class MacroResolver:
    """Resolves macros on demand, each once; ``resolve`` may be called for many conditions."""

    def __init__(self, macros: Mapping[str, ast.Expr]) -> None:
        self.macros = macros
        self.done: dict[str, _Resolved] = {}
        self.refs: dict[str, tuple[ast.MacroRef, ...]] = {}

    def resolve(self, expr: ast.Expr) -> ast.Expr:
        for ref in macro_refs(expr):
            self._ensure(ref)
        return self._substitute(expr).expr

    def used(self, expr: ast.Expr) -> frozenset[str]:
        """Every macro ``expr`` reaches through references (after ``resolve``)."""
        seen: set[str] = set()
        todo = [ref.name for ref in macro_refs(expr)]
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo.extend(ref.name for ref in self._refs(name))
        return frozenset(seen)

    def _refs(self, name: str) -> tuple[ast.MacroRef, ...]:
        if name not in self.refs:
            self.refs[name] = tuple(macro_refs(self.macros[name]))
        return self.refs[name]

    def _ensure(self, root: ast.MacroRef) -> None:
        """Resolve ``root``'s macro and everything it needs, deepest first, with an explicit stack."""
        if root.name in self.done:
            return
        self._check_defined(root)
        frames: list[tuple[str, Iterator[ast.MacroRef]]] = [(root.name, iter(self._refs(root.name)))]
        on_path, on_path_set = [root.name], {root.name}
        while frames:
            name, pending = frames[-1]
            for ref in pending:
                if ref.name in self.done:
                    continue
                self._check_defined(ref)
                if ref.name in on_path_set:
                    chain = " -> ".join((*on_path[on_path.index(ref.name):], ref.name))
                    raise MacroLoopError(f"reference loop in macro '{ref.name}': {chain}", span=ref.span)
                frames.append((ref.name, iter(self._refs(ref.name))))
                on_path.append(ref.name)
                on_path_set.add(ref.name)
                break
            else:
                self.done[name] = self._substitute(self.macros[name])
                frames.pop()
                on_path_set.discard(on_path.pop())

    def _check_defined(self, ref: ast.MacroRef) -> None:
        if ref.name not in self.macros:
            raise UndefinedMacroError(f"Undefined macro '{ref.name}' used in filter.", span=ref.span)

    def _substitute(self, node: ast.Expr) -> _Resolved:
        """``node`` with every reference replaced by its (already resolved) macro; recursion follows the
        parsed text only, never into a macro, so it is bounded by the parser's depth limit."""
        if isinstance(node, ast.MacroRef):
            found = self.done.get(node.name)
            if found is None:           # a reference inside a condition not passed through resolve()
                self._ensure(node)
                found = self.done[node.name]
            return self._checked(found, node)
        if isinstance(node, ast.Not):
            child = self._substitute(node.child)
            return self._checked(_Resolved(ast.Not(child.expr, node.span), child.depth + 1, child.size + 1), node)
        if isinstance(node, (ast.And, ast.Or)):
            parts = [self._substitute(c) for c in node.children]
            built = type(node)(tuple(p.expr for p in parts), node.span)
            return self._checked(_Resolved(built, 1 + max(p.depth for p in parts), 1 + sum(p.size for p in parts)),
                                 node)
        return _Resolved(node, 1, 1)

    @staticmethod
    def _checked(result: _Resolved, at: ast.Expr) -> _Resolved:
        if result.depth > MAX_DEPTH:
            raise MacroSizeError(f"the condition nests deeper than {MAX_DEPTH} levels once its macros are "
                                 "substituted", span=at.span)
        if result.size > MAX_NODES:
            raise MacroSizeError(f"the condition grows past {MAX_NODES:,} checks and operators once its macros "
                                 "are substituted", span=at.span)
        return result


def macro_refs(expr: ast.Expr) -> Iterator[ast.MacroRef]:
    """The macro references in ``expr``, in text order, without recursion."""
    stack: list[ast.Expr] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.MacroRef):
            yield node
        elif isinstance(node, ast.Not):
            stack.append(node.child)
        elif isinstance(node, (ast.And, ast.Or)):
            stack.extend(reversed(node.children))
