"""Random filters for the differential: fields both tools know, values that occur in the capture."""
from __future__ import annotations

from pathlib import Path

from sysdig_diff import SEP, Sysdig

GEN_FIELDS = ("proc.name", "proc.pname", "evt.type", "evt.dir", "user.name", "fd.name", "fd.directory",
              "fd.filename", "proc.cmdline", "thread.tid", "proc.pid")
_NUMERIC = frozenset({"thread.tid", "proc.pid"})


def _quote(value: str) -> str | None:
    if not value or value == "<NA>" or any(c in value for c in "\"\\'") or not value.isprintable():
        return None
    return f'"{value}"'


def generate_expressions(sysdig: Sysdig, capture: Path, count: int, seed: int) -> list[str]:
    """Random filters over fields both tools know, built from values that occur in the capture."""
    import random

    rng = random.Random(seed)
    fmt = "*" + SEP.join(f"%{f}" for f in GEN_FIELDS)
    rows = [line.split(SEP) for line in (sysdig.run(capture, fmt) or [])]
    values: dict[str, list[str]] = {f: sorted({r[i] for r in rows if len(r) == len(GEN_FIELDS)} - {"<NA>", ""})
                                    for i, f in enumerate(GEN_FIELDS)}

    def atom() -> str | None:
        field = rng.choice(GEN_FIELDS)
        pool = values.get(field) or []
        if not pool:
            return f"{field} exists"
        v = rng.choice(pool)
        if field in _NUMERIC:
            op = rng.choice(["=", "!=", "<", ">=", "in"])
            return f"{field} in ({v}, {rng.choice(pool)})" if op == "in" else f"{field} {op} {v}"
        q = _quote(v)
        if q is None:
            return None
        cut = max(1, len(v) // 2)
        if field == "evt.type":
            # Falco validates event-type names (only =, != and in are meaningful on evt.type)
            pool = [p for p in pool if p.isidentifier()] or ["open"]
            v, other = rng.choice(pool), rng.choice(pool)
            return rng.choice([f"evt.type = {v}", f"evt.type != {v}", f"evt.type in ({v}, {other})"])
        choice = rng.choice(["=", "!=", "startswith", "endswith", "contains", "in", "exists", "glob"])
        if choice in ("=", "!="):
            return f"{field} {choice} {q}"
        if choice == "startswith":
            return f"{field} startswith {_quote(v[:cut]) or q}"
        if choice == "endswith":
            return f"{field} endswith {_quote(v[-cut:]) or q}"
        if choice == "contains":
            return f"{field} contains {_quote(v[cut // 2: cut // 2 + cut]) or q}"
        if choice == "glob":
            return f"{field} glob {_quote(v[:cut] + '*') or q}"
        if choice == "in":
            other = _quote(rng.choice(pool)) or q
            return f"{field} in ({q}, {other}, \"no-such-value\")"
        return f"{field} exists"

    def expr(depth: int) -> str | None:
        kind = rng.random()
        if depth <= 0 or kind < 0.4:
            return atom()
        a, b = expr(depth - 1), expr(depth - 1)
        if a is None or b is None:
            return a or b
        if kind < 0.55:
            return f"not ({a})"
        return f"({a}) {'and' if kind < 0.8 else 'or'} ({b})"

    out: list[str] = []
    seen: set[str] = set()
    while len(out) < count:
        e = expr(3)
        if e and e not in seen:
            seen.add(e)
            out.append(e)
    return out
