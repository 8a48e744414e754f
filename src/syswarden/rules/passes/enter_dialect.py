"""Pass: rules written for enter events (the pre-2023 dialect, ``evt.dir=>``) on sources that emit exits only.

Falco >= 0.42 and syswarden's live sources emit exit events only, and those carry the enter parameters too
(``socket``'s domain, ``open``'s flags ...). In Falco such a rule loads with a deprecation warning and can never
fire again, since ``evt.dir = <`` always holds. syswarden keeps these rules detecting: on a source that emits
exit events only, each exit event of a rule that reads ``evt.dir`` is also evaluated as its *enter view*, the
enter event it stands for, and the rule fires (once) when either view matches. The enter view differs from the
exit event exactly in what an enter event could not know: ``evt.dir`` is ``>``, and ``evt.res``,
``evt.rawres``, ``evt.failed`` and the other return-value fields are ``<NA>``. Fields of the fd a call
*created* (``fd.*`` after ``open``/``socket``) stay those of the new fd, which the old enter event did not
have; docs/rules.md lists this as a deliberate difference.

Captures with enter events (scap files from older drivers, hand-written replays) are evaluated literally.
"""
from __future__ import annotations

from dataclasses import replace

from syswarden.events.event import Event
from syswarden.rules.filter import ast

ENTER = ">"


def reads_direction(expr: ast.Expr) -> bool:
    """Whether the (macro- and list-expanded) condition reads ``evt.dir`` anywhere, on either side."""
    stack: list[object] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FieldRef):
            if node.name == "evt.dir":
                return True
        elif isinstance(node, ast.Not):
            stack.append(node.child)
        elif isinstance(node, (ast.And, ast.Or)):
            stack.extend(node.children)
        elif isinstance(node, ast.Check):
            stack += [node.lhs, node.rhs]
        elif isinstance(node, ast.Transform):
            stack.append(node.operand)
    return False


def enter_view(event: Event) -> Event:
    """The enter event an exit event stands for: same call, parameters and context; no return value yet."""
    return replace(event, dir=ENTER, res=None)
