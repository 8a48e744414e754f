"""syswarden: Linux runtime security in one tool.

Enforcement: policy (YAML / Docker-OCI JSON / flags) -> seccomp BPF (+ Landlock) -> ``syswarden run``.
Auditing: sources (eBPF, ptrace, scap, replay) -> state -> Falco-format rules -> outputs.

The public names below load lazily, so ``import syswarden`` (and the CLI's start-up) stays cheap.
"""
from __future__ import annotations

TYPE_CHECKING = False   # typing.TYPE_CHECKING, without importing typing at start-up
if TYPE_CHECKING:
    from typing import Any

__version__ = "0.1.0"

# public name -> "module:attribute"; pinned by tests/test_public_api.py
_EXPORTS: dict[str, str] = {
    # shared models and errors
    "Event": "syswarden.events.event:Event",
    "ThreadInfo": "syswarden.events.event:ThreadInfo",
    "FdInfo": "syswarden.events.event:FdInfo",
    "Policy": "syswarden.policy.model:Policy",
    "SyswardenError": "syswarden.errors:SyswardenError",
    # enforcement
    "load_policy": "syswarden.policy.load:load_policy",
    "dump_policy": "syswarden.policy.load:dump_policy",
    "compile_policy": "syswarden.seccomp.compiler:compile_policy",
    "run_filter": "syswarden.seccomp.emulator:run",
    # auditing
    "load_rules": "syswarden.rules:load_rules",
    "Engine": "syswarden.rules:Engine",
    "State": "syswarden.state:State",
}

__all__ = ["__version__", *sorted(_EXPORTS)]  # noqa: PLE0604 - strings: the lazy exports' names


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'syswarden' has no attribute {name!r}")
    import importlib
    module_name, attr = target.split(":")
    value = getattr(importlib.import_module(module_name), attr)
    globals()[name] = value
    return value
