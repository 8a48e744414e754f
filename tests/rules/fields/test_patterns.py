"""regex and glob run on RE2 (issue 13): linear time on hostile values, Falco's POSIX syntax and its refusals."""
from __future__ import annotations

import ctypes

import pytest

from syswarden.errors import RuleLoadError
from syswarden.rules.compiler import compile_condition
from syswarden.rules.fields.patterns import CheckError, glob_matcher, regex_matcher
from syswarden.rules.filter.parser import parse
from syswarden.testing import event, thread


@pytest.mark.timeout(20)
def test_catastrophic_regex_is_linear() -> None:
    """``(a+)+`` on 'aaa...ab' backtracks 2**n steps in Python's re; RE2 answers at once (the test would hit its
    timeout otherwise). The same through a rule condition, on a hostile command line."""
    hostile = "a" * 50_000 + "b"
    assert regex_matcher("(a+)+")(hostile) is False
    assert regex_matcher("(a+)+b")(hostile) is True
    compiled = compile_condition(parse('proc.cmdline regex "(a+)+"'))
    sh = thread(100, comm="sh", exepath="/bin/sh", args=[hostile])
    assert compiled(event("execve", sh)) is False


@pytest.mark.parametrize("pattern", [r"\d+", r"(a)\1", r"(?=x)y", r"a\b", "(", "a{2,1}", "[z-a]"])
def test_patterns_re2_refuses_are_load_errors(pattern: str) -> None:
    """Falco compiles regex constants with RE2::POSIX and throws "invalid regex pattern: ..." when RE2 refuses:
    Perl classes, word boundaries, back-references and look-arounds are not POSIX egrep syntax."""
    with pytest.raises(CheckError, match=r"^invalid regex pattern: "):
        regex_matcher(pattern)
    with pytest.raises(RuleLoadError, match="invalid regex pattern"):
        escaped = pattern.replace("\\", "\\\\")          # the filter language's own escape for a backslash
        compile_condition(parse(f"fd.name regex '{escaped}'"))


@pytest.mark.parametrize("pattern,value,want", [
    ("/etc/.*", "/etc/shadow", True), ("/etc/.*", "x/etc/shadow", False),   # anchored at both ends
    ("[[:digit:]]+", "123", True), ("a|ab", "ab", True), ("é.", "éx", True),
])
def test_regex_semantics(pattern: str, value: str, want: bool) -> None:
    """Whole-value match, POSIX classes, alternation with leftmost-longest, UTF-8 text."""
    assert regex_matcher(pattern)(value) is want


@pytest.mark.timeout(20)
def test_glob_with_many_stars_is_linear_and_crosses_bad_bytes() -> None:
    """``*a*a*...*b`` backtracks polynomially in a backtracking matcher; RE2 is linear. A file name with a byte
    that is not UTF-8 (kept as a surrogate) is still crossed by ``*``, as fnmatch(3) crosses any byte."""
    pattern = "*a" * 30 + "*b"
    value = "a" * 20_000
    assert glob_matcher(pattern)(value) is False
    libc = ctypes.CDLL("libc.so.6")
    libc.fnmatch.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]
    raw = b"/tmp/x\xffy"
    name = raw.decode("utf-8", "surrogateescape")
    for pat in ("/tmp/*", "/tmp/x?y", "/tmp/*y", "/tmp/[!a]*"):
        assert glob_matcher(pat)(name) is (libc.fnmatch(pat.encode(), raw, 0) == 0), pat


def test_iglob_folds_case() -> None:
    assert glob_matcher("/ETC/*", casefold=True)("/etc/passwd") is True
    assert glob_matcher("/ETC/*")("/etc/passwd") is False
