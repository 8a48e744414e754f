"""The strings the active rules compare paths and process names with: the generated streams draw from them, so
rules fire often (tests/rules/prefilter/streams.py)."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from syswarden.rules.filter import ast
from syswarden.rules.prefilter.atoms import field_of
from syswarden.rules.ruleset import Ruleset

_PATHISH = ("fd.name", "fd.nameraw", "evt.arg", "evt.rawarg")


@dataclass
class Vocab:
    names: list[str] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    suffixes: list[str] = field(default_factory=list)
    dirs: list[str] = field(default_factory=list)
    comms: list[str] = field(default_factory=list)
    buffers: list[bytes] = field(default_factory=list)     # what evt.buffer / evt.arg.data are compared with


def vocabulary(ruleset: Ruleset, *, dirs: Iterable[str] = (), comms: Iterable[str] = ()) -> Vocab:
    """The strings the active rules test paths and process names against, plus ``dirs`` and ``comms``."""
    v = Vocab(dirs=list(dirs), comms=list(comms))
    for rule in ruleset.active:
        stack: list[object] = [rule.expr]
        while stack:
            node = stack.pop()
            if isinstance(node, (ast.And, ast.Or)):
                stack.extend(node.children)
            elif isinstance(node, ast.Not):
                stack.append(node.child)
            elif isinstance(node, ast.Check) and isinstance(node.rhs, (ast.Value, ast.ListValue)):
                _learn(v, node)
    for bucket in (v.names, v.prefixes, v.suffixes, v.dirs, v.comms):
        bucket[:] = sorted(set(bucket))
    v.buffers = sorted(set(v.buffers))
    return v


_BUFFERS = ("evt.buffer", "evt.arg.data", "evt.rawarg.data")


def _as_bytes(op: str, text: str) -> bytes:
    """The bytes a buffer check looks for (``bcontains``/``bstartswith`` take hex)."""
    if op.startswith("b"):
        try:
            return bytes.fromhex(text)
        except ValueError:
            return b""
    return text.encode("utf-8", "surrogateescape")


def _learn(v: Vocab, check: ast.Check) -> None:
    name, _arg = field_of(check)
    rhs = check.rhs
    values = [x.text for x in rhs.items] if isinstance(rhs, ast.ListValue) else [rhs.text]  # type: ignore[union-attr]
    if name in _BUFFERS or (name in ("evt.arg", "evt.rawarg") and (_arg == "data" or (_arg or "").isdigit())):
        v.buffers += [_as_bytes(check.op, x) for x in values if x]
    elif name in ("proc.name", "proc.pname", "proc.aname", "proc.exe"):
        v.comms += [x for x in values if x and "/" not in x]
    elif name == "fd.directory":
        v.dirs += [x for x in values if x.startswith("/")]
    elif name == "fd.filename":
        v.suffixes += ["/" + x for x in values if x]
    elif name in _PATHISH:
        if check.op in ("startswith", "pmatch", "glob"):
            v.prefixes += [x.split("*")[0] for x in values if x]
        elif check.op == "endswith":
            v.suffixes += [x for x in values if x]
        elif check.op in ("contains", "icontains"):
            v.suffixes += [x + "x" for x in values if x]
        else:
            v.names += [x for x in values if x]


__all__ = ["Vocab", "vocabulary"]
