"""syswarden: Linux runtime security in one tool.

Enforcement: policy (YAML / Docker-OCI JSON / flags) -> seccomp BPF (+ Landlock) -> ``syswarden run``.
Auditing: sources (eBPF, ptrace, scap, replay) -> state -> Falco-format rules -> outputs.
"""
from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
