"""LoadResult: the errors and warnings of loading rules files, with Falco's codes, rendered three ways.

Each issue keeps Falco's stable code (``LOAD_ERR_COMPILE_CONDITION``, ``LOAD_UNUSED_MACRO`` ...), a message
that says what was expected, and the chain of locations it happened in (``rule 'X' (file:L:C)`` then
``condition expression (file:L:C)``), innermost last, as Falco's ``rule_loader::context`` does. A result
renders as a one-line summary per file, as verbose text with caret snippets, or as Falco's JSON.
"""
from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from syswarden.errors import RuleLoadError
from syswarden.escaping import escape_text
from syswarden.spans import SourceText, Span, render_snippet

if TYPE_CHECKING:
    from syswarden.rules.ruleset import Ruleset


class ErrorCode(enum.Enum):
    """Falco's error codes; the value is Falco's short description."""

    LOAD_ERR_FILE_READ = "File read error"
    LOAD_ERR_YAML_PARSE = "YAML parse error"
    LOAD_ERR_YAML_VALIDATE = "Error validating internal structure of YAML file"
    LOAD_ERR_COMPILE_CONDITION = "Error compiling condition"
    LOAD_ERR_COMPILE_OUTPUT = "Error compiling output"
    LOAD_ERR_VALIDATE = "Error validating rule/macro/list/exception objects"
    LOAD_ERR_EXTENSION = "Error in extension item"


class WarningCode(enum.Enum):
    """Falco's warning codes; the value is Falco's short description."""

    LOAD_UNKNOWN_SOURCE = "Unknown event source"
    LOAD_UNSAFE_NA_CHECK = "Unsafe <NA> comparison in condition"
    LOAD_NO_EVTTYPE = "Condition has no event-type restriction"
    LOAD_UNKNOWN_FILTER = "Unknown field or event-type in condition or output"
    LOAD_UNUSED_MACRO = "Unused macro"
    LOAD_UNUSED_LIST = "Unused list"
    LOAD_UNKNOWN_ITEM = "Unknown rules file item"
    LOAD_DEPRECATED_ITEM = "Used deprecated item"
    LOAD_WARNING_EXTENSION = "Warning in extension item"
    LOAD_APPEND_NO_VALUES = "Overriding/appending with no values"
    LOAD_EXCEPTION_NAME_NOT_UNIQUE = "Multiple exceptions defined with the same name"
    LOAD_INVALID_MACRO_NAME = "Invalid macro name"
    LOAD_INVALID_LIST_NAME = "Invalid list name"
    LOAD_COMPILE_CONDITION = "Warning in rule condition"
    LOAD_UNKNOWN_KEY = "Unknown key in item definition"


# The kinds of item an issue can be inside (the other locations say where in the item: a key, a value ...).
ITEM_TYPES = frozenset({"rule", "macro", "list", "exception"})


@dataclass(frozen=True, slots=True)
class Location:
    """One level of the chain: what kind of item (``rule``, ``condition expression`` ...), its name, where."""

    item_type: str
    item_name: str
    span: Span

    def __str__(self) -> str:
        name = f" '{self.item_name}'" if self.item_name else ""
        return f"{self.item_type}{name} ({self.span})"


@dataclass(frozen=True, slots=True)
class Issue:
    """One error or warning. ``locations`` runs outermost first; the last one is where it happened."""

    code: ErrorCode | WarningCode
    message: str
    locations: tuple[Location, ...] = ()
    origin: str = ""              # the file whose loading raised it (Falco gives each file its own result)

    @property
    def span(self) -> Span | None:
        return self.locations[-1].span if self.locations else None

    @property
    def item(self) -> Location | None:
        """The named rule, macro or list (or other item) the issue belongs to: the outermost named location."""
        return next((loc for loc in self.locations if loc.item_name), None)

    @property
    def items(self) -> tuple[Location, ...]:
        """The chain of items the issue is inside, outermost first: ``rule 'My Rule'`` then ``exception 'ex1'``
        for an error in a rule's exception, as Falco's context names both."""
        return tuple(loc for loc in self.locations if loc.item_type in ITEM_TYPES
                     and (loc.item_name or loc.item_type == "exception"))

    def one_line(self) -> str:
        """``file:L:C: rule 'X': exception 'Y': message`` -- the form the CLI prints for each issue."""
        span = self.span
        where = "" if span is None else f"{span}: " if span.line > 0 else f"{span.file}: "
        chain = self.items or ((self.item,) if self.item else ())
        owner = "".join(f"{loc.item_type} '{loc.item_name}': " for loc in chain)
        return f"{where}{owner}{self.message}"

    def to_json(self, sources: dict[str, SourceText]) -> dict[str, Any]:
        """Falco's ``as_json`` entry: code, codedesc, message, context (locations + snippet)."""
        span = self.span
        source = sources.get(span.file) if span else None
        return {
            "code": self.code.name,
            "codedesc": self.code.value,
            "message": self.message,
            "context": {
                "locations": [
                    {"item_type": loc.item_type, "item_name": loc.item_name,
                     "position": {"name": loc.span.file, "line": loc.span.line, "column": loc.span.col}}
                    for loc in self.locations
                ],
                "snippet": render_snippet(source, span),
            },
        }


@dataclass(slots=True)
class LoadResult:
    """The outcome of loading one or more rules files; ``ruleset`` is set only when there are no errors."""

    names: list[str] = field(default_factory=list)
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    sources: dict[str, SourceText] = field(default_factory=dict)
    ruleset: Ruleset | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)   # (rule name, why it was not loaded)
    defined: dict[str, dict[str, set[str]]] = field(default_factory=dict)  # file -> kind -> names it defines

    @property
    def successful(self) -> bool:
        return not self.errors

    def raise_for_errors(self) -> Ruleset:
        """The loaded ruleset; when loading failed, a ``RuleLoadError`` listing every error with its code,
        position and caret snippet (escaped: rules files are input)."""
        if self.ruleset is None:
            raise RuleLoadError("rules could not be loaded:\n" + "\n".join(self._error_block(e) for e in self.errors))
        return self.ruleset

    def _error_block(self, issue: Issue) -> str:
        """``CODE: file:L:C: rule 'X': message`` and the offending line with a caret."""
        span = issue.span
        snippet = render_snippet(self.sources.get(span.file), span) if span else ""
        text = f"{issue.code.name}: {issue.one_line()}" + (f"\n{snippet}" if snippet else "")
        return "\n".join(escape_text(line) for line in text.split("\n"))

    def issues_for(self, name: str) -> tuple[list[Issue], list[Issue]]:
        """The errors and warnings located in file ``name``."""
        def mine(issue: Issue) -> bool:
            if issue.origin:
                return issue.origin == name
            return issue.span is not None and issue.span.file == name
        return [e for e in self.errors if mine(e)], [w for w in self.warnings if mine(w)]

    def as_summary(self) -> str:
        """Falco's short form: ``<file>: Ok`` or ``<file>: Invalid`` with the error codes and counts."""
        lines = []
        for name in self.names:
            errs, warns = self.issues_for(name)
            lines.append(f"{name}: {'Invalid' if errs else 'Ok'}" + (", with warnings" if warns and not errs else ""))
            if errs:
                lines.append(f" {len(errs)} errors: [{', '.join(_code_label(e) for e in errs)}]")
            if warns:
                lines.append(f" {len(warns)} warnings: [{', '.join(_code_label(w) for w in warns)}]")
        return "\n".join(lines)

    def as_verbose(self) -> str:
        """Every issue with its chain of locations and a caret snippet, grouped by file."""
        out: list[str] = []
        for name in self.names:
            errs, warns = self.issues_for(name)
            out.append(f"{name}: {'Invalid' if errs else 'Ok'}")
            for title, issues in (("Errors", errs), ("Warnings", warns)):
                if issues:
                    out.append(f"{len(issues)} {title}:")
                    out.extend(self._verbose_issue(i) for i in issues)
        return "\n".join(out)

    def _verbose_issue(self, issue: Issue) -> str:
        lines = [f"{'  ' * depth}{loc}" for depth, loc in enumerate(issue.locations)]
        snippet = render_snippet(self.sources.get(issue.span.file), issue.span) if issue.span else ""
        if snippet:
            lines += ["------", snippet, "------"]
        lines.append(f"{issue.code.name} ({issue.code.value}): {issue.message}")
        return "\n".join(lines)

    def as_json(self) -> str:
        """Falco's JSON form: one object per file with ``name, successful, errors, warnings``."""
        docs = []
        for name in self.names:
            errs, warns = self.issues_for(name)
            docs.append({
                "name": name,
                "successful": not errs,
                "errors": [e.to_json(self.sources) for e in errs],
                "warnings": [w.to_json(self.sources) for w in warns],
            })
        return json.dumps({"falco_load_results": docs}, indent=2)


def _code_label(issue: Issue) -> str:
    return f"{issue.code.name} ({issue.code.value})"


class LoadIssue(Exception):
    """Raised inside the loader to abort the current file with one error; turned into an ``Issue``."""

    def __init__(self, code: ErrorCode, message: str, locations: tuple[Location, ...]) -> None:
        super().__init__(message)
        self.issue = Issue(code, message, locations)
