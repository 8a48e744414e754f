"""A whole rules file: read it (bounded), parse every line with ``rule_parse``, honour its error mode.

auditctl stops at the first bad line, unless the file said ``-i`` (report the line and go on: the line is
skipped with a warning) or ``-c`` (go on to report every error, then fail). Warnings are kept with their spans.
"""
from __future__ import annotations

import os

from syswarden.audit.rule_model import AuditRuleError, Command, ErrorMode, RulesFile, RuleWarning
from syswarden.audit.rule_parse import DEPRECATED_WATCH, IsDir, LineParser
from syswarden.audit.rule_syntax import logical_lines, options, split_words
from syswarden.input_file import read_regular
from syswarden.spans import SourceText
from syswarden.syscalls.arch import Arch

MAX_FILE = 16 << 20


def parse_rules(text: str, name: str = "<rules>", *, native: Arch | None = None, is_dir: IsDir | None = None,
                allow_immutable: bool = False, strict_names: bool = True) -> RulesFile:
    """Parse and check a whole rules text; the first error raises ``AuditRuleError`` at its position.

    ``native`` is the machine's ABI (what ``b64`` and names without an arch mean); ``is_dir`` tells whether a
    watched path is a directory now (auditctl's ``stat``: ``-w`` on a directory becomes a ``dir`` watch).
    ``strict_names=False`` (checking a file for another machine) turns unknown user and group names into
    warnings; such rules keep the name and must not be loaded."""
    native = native or Arch.native()
    check_dir = is_dir or os.path.isdir
    commands: list[Command] = []
    warnings: list[RuleWarning] = []
    errors: list[AuditRuleError] = []
    mode = ""
    source = SourceText(name, text)
    for lineno, line in logical_lines(text, name, source):
        try:
            words = split_words(line, name, lineno)
            if not words or words[0].text.startswith("#"):
                continue
            state = LineParser(name, lineno, line, native, check_dir, allow_immutable, strict_names)
            state.run(options(words, name, lineno))
        except AuditRuleError as exc:
            exc.source = exc.source or source       # so the error can quote the line
            if mode == "ignore":                    # the file said -i: auditctl reports the line and goes on
                warnings.append(RuleWarning(f"line skipped (-i): {exc.message}", exc.span))
                continue
            if mode != "continue":
                raise
            errors.append(exc)
            continue
        commands.extend(state.commands)
        warnings.extend(state.warnings)
        mode = next((c.mode for c in reversed(state.commands) if isinstance(c, ErrorMode)), mode)
    if errors:
        if len(errors) > 1:
            errors[0].with_context(f"and {len(errors) - 1} more errors (the file said -c)")
        raise errors[0]
    return RulesFile(name, tuple(commands), tuple(_merge_deprecations(warnings)), source)


def _merge_deprecations(warnings: list[RuleWarning]) -> list[RuleWarning]:
    """One "-w is deprecated" note per file (at its first use), not one per watch."""
    watches = [w for w in warnings if w.message.startswith(DEPRECATED_WATCH)]
    if len(watches) <= 1:
        return warnings
    merged = RuleWarning(f"{watches[0].message} ({len(watches)} -w lines)", watches[0].span)
    return [merged if w is watches[0] else w for w in warnings if w is watches[0] or w not in watches]


def read_rules_file(path: str, **kwargs: object) -> RulesFile:
    """Read and parse a rules file (at most 16 MiB; bytes that are not UTF-8 are kept as they are)."""
    data = read_regular(path, AuditRuleError, what="audit rules file", max_bytes=MAX_FILE)
    return parse_rules(data.decode("utf-8", "surrogateescape"), path, **kwargs)  # type: ignore[arg-type]
