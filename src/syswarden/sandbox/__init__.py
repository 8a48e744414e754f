"""Applying policies to processes: seccomp filters (``apply``), strict mode, Landlock, and the ``run`` launcher.

Self-sandboxing, the way Elasticsearch and Beats install a filter on themselves::

    from syswarden.policy.load import load_policy
    from syswarden.sandbox import apply
    apply(load_policy("policy.yaml"), all_threads=True)
"""
from __future__ import annotations

from syswarden.sandbox.apply import apply, enter_strict_mode, install_filter

__all__ = ["apply", "enter_strict_mode", "install_filter"]
