"""Data flows one way: each package imports only the stages before it (docs/architecture.md).

The allowed graph below is the architecture; a new import that crosses it fails here, so a later stage never
leaks into an earlier one (e.g. the rules engine importing a source, or the compiler importing the launcher).
Imports under ``if TYPE_CHECKING:`` are annotations only and do not count.
"""
from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "syswarden"
# doctree is the one reader of YAML/JSON documents (rules, policies, falco.yaml), input_file the one opener of a
# file a user names (regular files only, bounded): every stage may read with them.
BASE = {"errors", "spans", "escaping", "doctree", "input_file"}

ALLOWED: dict[str, set[str]] = {
    "spans": {"escaping"},
    "errors": {"spans"},
    "escaping": set(),
    "doctree": {"errors", "spans", "input_file"},
    "input_file": set(),
    "syscalls": BASE,
    "events": BASE | {"syscalls"},
    "kernel": BASE | {"syscalls"},
    # Linux audit's own language and records (auditctl rules, record lines, reassembly, ECS, reports): beside the
    # enforcement and auditing pipelines, below the sources that turn audit events into syswarden events. It reads
    # Falco's event and flag tables (events/) to translate audit rules into Falco rules.
    "audit": BASE | {"syscalls", "kernel", "events"},
    # enforcement: policy -> seccomp -> sandbox
    "policy": BASE | {"syscalls"},
    "seccomp": BASE | {"syscalls", "policy", "kernel"},
    "sandbox": BASE | {"syscalls", "policy", "seccomp", "kernel"},
    # learning: sources -> recorder -> policy (--widen runs a logged launch through sandbox; --from reads
    # captures through sources and state)
    "recorder": BASE | {"syscalls", "policy", "seccomp", "sandbox", "kernel", "events", "sources", "state"},
    # auditing: sources -> state -> rules -> outputs, wired by service.
    # sources may use state's /proc and cgroup parsers to seed their initial threads; state never imports sources.
    "state": BASE | {"events", "syscalls"},
    "sources": BASE | {"events", "syscalls", "kernel", "state", "audit"},
    "rules": BASE | {"events", "syscalls"},
    "outputs": BASE | {"rules"},
    "service": BASE | {"events", "sources", "state", "rules", "outputs"},
    # around the pipelines
    "cli": {"*"},
    "testing": {"*"},
    "__init__": {"*"},
    "__main__": {"cli"},
}


def _runtime_imports(tree: ast.AST) -> set[str]:
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {m.split(".")[1] for m in found if m.startswith("syswarden.")}


def _package_of(path: Path) -> str:
    rel = path.relative_to(SRC).parts
    return rel[0] if len(rel) > 1 else rel[0][:-3]


def test_every_package_is_in_the_graph() -> None:
    """Every top-level package or module of syswarden has a place in the allowed graph."""
    names = {_package_of(p) for p in SRC.rglob("*.py")}
    assert names <= set(ALLOWED), sorted(names - set(ALLOWED))


def test_imports_follow_the_flow() -> None:
    """No module imports a package its stage is not allowed to see."""
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        pkg = _package_of(path)
        allowed = ALLOWED[pkg]
        if "*" in allowed:
            continue
        for target in _runtime_imports(ast.parse(path.read_text())) - {pkg} - allowed:
            bad.append(f"{path.relative_to(SRC)} imports syswarden.{target}")
    assert not bad, "\n".join(bad)
