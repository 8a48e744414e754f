"""Errors the passes raise: all are ``RuleLoadError``s, so the loader reports them as Falco would."""
from __future__ import annotations

from syswarden.errors import RuleLoadError


class UndefinedMacroError(RuleLoadError):
    """A condition names a macro that does not exist (Falco: "Undefined macro 'foo' used in filter.")."""

    code = "undefined-macro"


class MacroLoopError(RuleLoadError):
    """Macros that reference each other in a loop."""

    code = "macro-loop"


class UndefinedListError(RuleLoadError):
    """``field in name`` where ``name`` is no list."""

    code = "undefined-list"


class InvalidCheckError(RuleLoadError):
    """An operator that does not fit the field, or a constant that does not parse as the field's type."""

    code = "invalid-check"


class ListValueError(RuleLoadError):
    """A list name used where one value is expected, for a list that does not have exactly one item."""

    code = "list-value"


class MacroSizeError(RuleLoadError):
    """A condition that nests too deep or grows too large once its macros are substituted."""

    code = "macro-size"


class ListSizeError(RuleLoadError):
    """A list that expands (through the earlier lists it names) past the loader's limit."""

    code = "list-size"

    def __init__(self, list_name: str, message: str) -> None:
        super().__init__(message)
        self.list_name = list_name
