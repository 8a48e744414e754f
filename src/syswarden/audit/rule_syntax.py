"""Rules-file text -> positioned options, line by line, as auditctl reads ``audit.rules`` and augenrules fragments.

A line is split on blanks; ``\\ `` is a blank inside a word and ``\\\\`` a backslash (auditctl's escapes).
We also take a word in single or double quotes as one word (go-libaudit and auditbeat do; auditctl would keep
the quote characters, so no real rules file relies on that). A line whose first word starts with ``#`` is a
comment. Options follow getopt: ``-k KEY`` or ``-kKEY``, ``--long VALUE`` or ``--long=VALUE``.
"""
from __future__ import annotations

from dataclasses import dataclass

from syswarden.audit.rule_model import AuditRuleError
from syswarden.spans import SourceText, Span

MAX_LINE = 65536
# Options that take a value, and those that do not (auditctl's getopt string).
VALUE_OPTIONS = frozenset("CefrbaAdSFmRwWkpq")
FLAG_OPTIONS = frozenset("hicslDvt")
LONG_OPTIONS = {"loginuid-immutable": False, "backlog_wait_time": True, "reset-lost": False,
                "reset_backlog_wait_time_actual": False, "signal": True}


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    col: int          # 1-based column of the word's first character


@dataclass(frozen=True, slots=True)
class Option:
    """One option of a line: ``name`` is the letter (``F``) or the long name; ``value`` and where it starts."""

    name: str
    value: str | None
    col: int
    value_col: int

    @property
    def display(self) -> str:
        return f"--{self.name}" if len(self.name) > 1 else f"-{self.name}"


def split_words(line: str, name: str, lineno: int) -> list[Word]:
    """The words of one line; an unterminated quote or a control character is an error at its column."""
    words: list[Word] = []
    buf: list[str] = []
    start = 0
    i, n = 0, len(line)
    in_word = False
    while i < n:
        ch = line[i]
        if ch in " \t":
            if in_word:
                words.append(Word("".join(buf), start + 1))
                buf, in_word = [], False
            i += 1
            continue
        if not in_word:
            start, in_word = i, True
        if ch < " " or ch == "\x7f":
            raise AuditRuleError(f"control character {ch!r} in the line; rules files are plain text",
                                 span=Span(name, lineno, i + 1))
        if ch == "\\" and i + 1 < n and line[i + 1] in " \\":
            buf.append(line[i + 1])
            i += 2
            continue
        if ch in "\"'":
            end = line.find(ch, i + 1)
            if end < 0:
                raise AuditRuleError(f"unterminated {ch} quote; expected a closing {ch} before the end of the line",
                                     span=Span(name, lineno, i + 1))
            buf.append(line[i + 1:end])
            i = end + 1
            continue
        buf.append(ch)
        i += 1
    if in_word:
        words.append(Word("".join(buf), start + 1))
    return words


def options(words: list[Word], name: str, lineno: int) -> list[Option]:
    """getopt over the words of a line. A word that is not an option (or an option's value) is an error."""
    out: list[Option] = []
    i = 0
    while i < len(words):
        word = words[i]
        text = word.text
        if text.startswith("--") and len(text) > 2:
            key, eq, value = text[2:].partition("=")
            if key not in LONG_OPTIONS:
                raise AuditRuleError(f"unknown option --{key}; expected one of: "
                                     + ", ".join(f"--{k}" for k in LONG_OPTIONS), span=Span(name, lineno, word.col))
            if LONG_OPTIONS[key]:
                if eq:
                    out.append(Option(key, value, word.col, word.col + len(key) + 3))
                elif i + 1 < len(words):
                    i += 1
                    out.append(Option(key, words[i].text, word.col, words[i].col))
                else:
                    raise AuditRuleError(f"option --{key} needs a value", span=Span(name, lineno, word.col))
            elif eq:
                raise AuditRuleError(f"option --{key} takes no value", span=Span(name, lineno, word.col))
            else:
                out.append(Option(key, None, word.col, word.col))
            i += 1
            continue
        if not text.startswith("-") or len(text) < 2:
            raise AuditRuleError(f"{text!r} is not an option; expected an option such as -a, -w, -S, -F or -k "
                                 "(a value with blanks needs quotes or '\\ ')", span=Span(name, lineno, word.col))
        j = 1
        while j < len(text):
            letter = text[j]
            col = word.col + j - 1
            if letter in VALUE_OPTIONS:
                if j + 1 < len(text):
                    out.append(Option(letter, text[j + 1:], col, word.col + j + 1))
                elif i + 1 < len(words):
                    i += 1
                    out.append(Option(letter, words[i].text, col, words[i].col))
                else:
                    raise AuditRuleError(f"option -{letter} needs a value", span=Span(name, lineno, col))
                break
            if letter not in FLAG_OPTIONS:
                raise AuditRuleError(f"unknown option -{letter}", span=Span(name, lineno, col))
            out.append(Option(letter, None, col, col))
            j += 1
        i += 1
    return out


def logical_lines(text: str, name: str, source: SourceText | None = None) -> list[tuple[int, str]]:
    """(line number, text) of every line that is not blank or a comment."""
    out = []
    for lineno, raw in enumerate(text.split("\n"), 1):
        line = raw[:-1] if raw.endswith("\r") else raw
        if len(line) > MAX_LINE:
            raise AuditRuleError(f"line is {len(line)} characters long; at most {MAX_LINE} are read",
                                 span=Span(name, lineno, 1), source=source)
        stripped = line.lstrip(" \t")
        if not stripped or stripped.startswith("#"):
            continue
        out.append((lineno, line))
    return out
