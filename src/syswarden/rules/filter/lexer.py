"""Tokens of the Falco filter language: a cursor over the condition text with one method per token kind.

The language is context-sensitive (``a.b`` is a field on the left of an operator and a bare string on the
right; ``(`` opens a group or a list), so, as in libsinsp, the parser asks for the token kind it expects at
each point instead of pre-tokenizing. Each ``lex_*`` method consumes its token and returns its text, or
returns None and consumes nothing. ``last`` is the text of the last token consumed (blanks excluded), which
is what "unexpected token after '...'" messages quote.

Quoted strings follow libsinsp ``filter/escaping.cpp``: escapes ``\\b \\f \\n \\r \\t \\\\ \\/``, ``\\xHH``
(one byte), ``\\"`` only inside double quotes and ``\\'`` only inside single quotes, ``\\<space>`` kept as a
backslash for old rules; anything else is an error. Unlike libsinsp, a string ending in an escaped backslash
(``"a\\\\"``) is closed correctly.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from syswarden.errors import FilterSyntaxError

BLANKS = " \t\b\r\n\f\v"
_IDENT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")

_RE_BLANKS = re.compile(r"[ \t\b\r\n\f\v]+")
RE_NOT_BLANK = re.compile(r"not[ \t\b\r\n\f\v]+")
RE_IDENTIFIER = re.compile(r"[a-zA-Z]+[a-zA-Z0-9_]*")
RE_FIELD_NAME = re.compile(r"[a-zA-Z]+[a-zA-Z0-9_]*(?:\.[a-zA-Z]+[a-zA-Z0-9_]*)+")
RE_FIELD_ARG_BARE = re.compile(r"[^\]\[\"' \t\b\r\n\f\v]+")
RE_HEX = re.compile(r"0[xX][0-9a-fA-F]+")
RE_NUMBER = re.compile(r"[+\-]?[0-9]+\.?[0-9]*(?:[eE][+\-][0-9]+)?")
RE_BARE_STR = re.compile(r"[^()\"' \t\b\r\n\f\v=,]+")

_SIMPLE_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "\\": "\\", "/": "/", " ": "\\"}

#: Raises a ``FilterSyntaxError`` for ``message`` at a text offset (the parser supplies file positions).
ErrorFactory = Callable[[str, int], FilterSyntaxError]


class Lexer:
    """A cursor over one condition string."""

    __slots__ = ("text", "pos", "last", "_error")

    def __init__(self, text: str, error: ErrorFactory) -> None:
        self.text = text
        self.pos = 0
        self.last = ""
        self._error = error

    def error(self, message: str, offset: int | None = None) -> FilterSyntaxError:
        """An error at ``offset`` (default: the cursor); an error past the last non-blank character points just
        after it, not at trailing newlines (YAML block scalars end with one)."""
        at = self.pos if offset is None else offset
        return self._error(message, min(at, len(self.text.rstrip(BLANKS))))

    @property
    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self, n: int = 1) -> str:
        return self.text[self.pos:self.pos + n]

    def lex_blank(self) -> bool:
        """Skip blanks; True when at least one was skipped. Does not change ``last``."""
        m = _RE_BLANKS.match(self.text, self.pos)
        if m is None:
            return False
        self.pos = m.end()
        return True

    def lex_str(self, token: str) -> str | None:
        """Consume exactly ``token``."""
        if self.text.startswith(token, self.pos):
            self.pos += len(token)
            self.last = token
            return token
        return None

    def lex_word(self, word: str) -> str | None:
        """Consume ``word`` only when it is not the prefix of a longer identifier."""
        end = self.pos + len(word)
        if self.text.startswith(word, self.pos) and (end >= len(self.text) or self.text[end] not in _IDENT_CHARS):
            self.pos = end
            self.last = word
            return word
        return None

    def lex_keyword_blank(self, word: str) -> str | None:
        """Consume ``word`` when followed by a blank (textual operators: ``contains``, ``glob`` ...)."""
        end = self.pos + len(word)
        if self.text.startswith(word, self.pos) and end < len(self.text) and self.text[end] in BLANKS:
            self.pos = end
            self.last = word
            return word
        return None

    def lex_regex(self, pattern: re.Pattern[str]) -> str | None:
        m = pattern.match(self.text, self.pos)
        if m is None:
            return None
        self.pos = m.end()
        self.last = m.group(0)
        return self.last

    def lex_one_of(self, words: Sequence[str], lex: Callable[[str], str | None]) -> str | None:
        for word in words:
            if lex(word) is not None:
                return word
        return None

    def lex_not(self) -> bool:
        """``not`` followed by blanks."""
        return self.lex_regex(RE_NOT_BLANK) is not None

    def lex_field_name(self) -> str | None:
        return self.lex_regex(RE_FIELD_NAME)

    def lex_identifier(self) -> str | None:
        return self.lex_regex(RE_IDENTIFIER)

    def lex_number(self) -> str | None:
        """A hex or decimal number, not followed by more of a bare string (``12ab`` is not a number)."""
        start = self.pos
        token = self.lex_regex(RE_HEX) or self.lex_regex(RE_NUMBER)
        if token is not None and not self.at_end and RE_BARE_STR.match(self.text, self.pos):
            self.pos = start
            return None
        return token

    def lex_bare_str(self) -> str | None:
        return self.lex_regex(RE_BARE_STR)

    def lex_field_arg_bare(self) -> str | None:
        return self.lex_regex(RE_FIELD_ARG_BARE)

    def lex_quoted_str(self) -> str | None:
        """A ``"..."`` or ``'...'`` string; returns the unescaped value."""
        if self.at_end or self.text[self.pos] not in "\"'":
            return None
        start = self.pos
        quote = self.text[start]
        out: list[str] = []
        i = start + 1
        text = self.text
        while i < len(text):
            ch = text[i]
            if ch == quote:
                self.pos = i + 1
                self.last = "".join(out)
                return self.last
            if ch == "\\":
                value, width = self._unescape(quote, i)
                out.append(value)
                i += width
                continue
            out.append(ch)
            i += 1
        raise self.error(f"unterminated {quote}-quoted string", start)

    def _unescape(self, quote: str, i: int) -> tuple[str, int]:
        """The character an escape at ``i`` stands for, and how many characters the escape spans."""
        if i + 1 >= len(self.text):
            raise self.error(f"unterminated {quote}-quoted string", i)
        ch = self.text[i + 1]
        if ch in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[ch], 2
        if ch == "x":
            return self._hex_escape(quote, i), 4
        if ch in "\"'":
            if ch != quote:
                other = "'" if ch == '"' else '"'
                raise self.error(f"invalid \\{ch} escape in {other}-quoted string", i)
            return ch, 2
        raise self.error(f"unsupported string escape sequence: \\{ch}", i)

    def _hex_escape(self, quote: str, i: int) -> str:
        """``\\xHH``: one byte; bytes above 0x7f become surrogate escapes so they encode back to that byte."""
        digits = self.text[i + 2:i + 4]
        if len(digits) < 2 or quote in digits:
            raise self.error("truncated hex char escape sequence", i)
        if any(c not in "0123456789abcdefABCDEF" for c in digits):
            raise self.error(f"invalid hex char escape sequence: {digits}", i)
        byte = int(digits, 16)
        return chr(byte) if byte < 0x80 else chr(0xDC00 + byte)


def escape_str(value: str) -> str:
    """``value`` as a double-quoted filter string that ``lex_quoted_str`` reads back unchanged."""
    out = ['"']
    for ch in value:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch in "\b\f\n\r\t":
            out.append("\\" + "bfnrt"["\b\f\n\r\t".index(ch)])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")          # other control characters stay visible and round-trip
        elif 0xDC80 <= ord(ch) <= 0xDCFF:
            out.append(f"\\x{ord(ch) - 0xDC00:02x}")  # a raw byte read from \xHH
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def is_bare(value: str) -> bool:
    """True when ``value`` can be written without quotes as a right-hand value."""
    return bool(value) and RE_BARE_STR.fullmatch(value) is not None
