"""Whether a policy argument is the policy text itself or a file name (``load_policy("default: allow")``).

A module of its own, importing nothing: ``syswarden run``'s cached launch asks it too (inline policy text is
not cached), and must not load the policy loaders to do so.
"""
from __future__ import annotations

import os


def looks_like_text(value: str) -> bool:
    """A string is policy text when it has a newline, starts with a brace, or is ``key: value`` and no file."""
    if "\n" in value or value.lstrip().startswith("{"):
        return True
    return ": " in value and not os.path.exists(value)
