"""The subset of AppArmor profiles that Landlock can enforce: allow rules on exact files and ``/dir/**`` trees
with ``r w x ix l``, and TCP port rules. Everything else is refused, naming its line and rule, so nobody
believes a rule is enforced when it is not (policy stage; ``policy.landlock.spec_from_apparmor`` maps the result
onto Landlock rights).

Grammar of the accepted subset (after apparmor.d(5); ``#`` starts a comment unless it is ``#include``)::

    file      := { preamble } profile
    preamble  := "include" "<tunables/global>" | "@{" NAME "}" ("=" | "+=") VALUE { VALUE }
    profile   := [ "profile" NAME ] ATTACHMENT [ "flags=(enforce)" ] "{" { rule } "}"
    rule      := [ "allow" ] [ "file" ] PATH ACCESS ","          PATH = /exact/file | /dir/**
               | "network" [ "bind" | "connect" ] [ "inet" | "inet6" ] [ "tcp" | "stream" ] [ "port=" N ] ","
    ACCESS    := letters from r w x ix l

Refused (each with file:line:col): ``deny``, ``audit``, ``owner``, single-level or partial globs (``*``, ``?``,
``[..]``, ``{..}``, ``/dir/``), exec transitions (``px cx ux`` ...), ``a m k``, ``capability``, non-TCP or
address-qualified ``network`` rules, ``#include`` of anything but tunables, child profiles and hats, and
every other rule kind (mount, signal, ptrace, dbus, unix, ...).

Variables: ``@{PROC}`` = /proc, ``@{sys}`` = /sys, ``@{run}`` = /run, and ``@{HOME}`` = the caller's
``$HOME`` (AppArmor's tunables mean every home, ``/home/*/ /root/``; Landlock needs concrete trees, so we
take the narrower one). Profiles may define more with ``@{NAME} = value``.
With no ``network`` rule at all, AppArmor denies networking; Landlock can only deny TCP bind and connect,
which it then does (other socket types stay allowed, and the result says so).
"""
from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field

from syswarden import doctree
from syswarden.errors import PolicyError
from syswarden.spans import SourceText, Span

# The access letters Landlock can honour; ``ix`` is recorded as ``x`` (Landlock keeps the domain across exec,
# which is what inheriting means).
ACCESS_LETTERS = frozenset("rwxl")
WHY_ACCESS = {
    "a": "append-only cannot be expressed (Landlock's write right is a superset)",
    "m": "Landlock does not mediate mmap(PROT_EXEC)",
    "k": "Landlock does not mediate file locks",
}
OTHER_KINDS = ("mount", "remount", "umount", "pivot_root", "ptrace", "signal", "dbus", "unix", "mqueue", "userns",
               "io_uring", "change_profile", "set", "rlimit", "all", "link", "file")
QUALIFIERS = {
    "deny": "deny rules cannot be expressed: Landlock only allows",
    "audit": "audit rules cannot be expressed: Landlock logs denials, never allowed accesses",
    "owner": "owner conditions cannot be expressed: Landlock does not check file ownership",
    "priority": "rule priorities cannot be expressed",
}
_GLOB = re.compile(r"[*?\[\]{}]")
_VAR = re.compile(r"@\{(\w+)\}")


class AppArmorError(PolicyError):
    """Rules of an AppArmor profile that Landlock cannot enforce (all of them, one per line)."""

    code = "apparmor-unsupported"


@dataclass(frozen=True, slots=True)
class Refusal:
    span: Span
    rule: str
    why: str

    def __str__(self) -> str:
        return f"{self.span}: '{self.rule}': {self.why}"


@dataclass(frozen=True, slots=True)
class FileAllow:
    """An accepted file rule: ``access`` letters (r, w, x, l) on ``path`` (a file, or a tree when ``tree``)."""

    path: str
    access: frozenset[str]
    tree: bool
    span: Span | None = field(default=None, compare=False)


@dataclass(slots=True)
class AppArmorProfile:
    """What was read: the profile name, the enforceable rules, refusals and warnings.

    ``bind_ports``/``connect_ports`` None means that TCP operation is not restricted (a ``network tcp`` rule).
    """

    name: str = ""
    files: tuple[FileAllow, ...] = ()
    bind_ports: tuple[int, ...] | None = None
    connect_ports: tuple[int, ...] | None = None
    refusals: list[Refusal] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def default_variables() -> dict[str, list[str]]:
    home = os.environ.get("HOME", "/root")
    return {"PROC": ["/proc"], "sys": ["/sys"], "run": ["/run"], "HOME": [home], "HOMEDIRS": [os.path.dirname(home)]}


@dataclass(slots=True)
class _Statement:
    text: str
    span: Span


def _statements(source: SourceText) -> list[_Statement]:
    """Split into statements, as apparmor_parser does, whatever the line breaks: a rule ends with ',', a block
    opens with a '{' that starts a word (``profile x /bin/x {``; a '{' inside a word is a glob's alternation, whose
    commas stay in the rule, and ``@{`` a variable) and closes with '}'; a variable definition ends at its line's
    end; ``#include`` takes its line. Comments are dropped; spans point at the statement's first character. So
    ``profile x /bin/x { /etc/** r, }`` on one line reads as the same three statements as on three."""
    out: list[_Statement] = []
    buf, start = "", None
    for number, line in enumerate(source.text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#include") or stripped.startswith("include "):
            out.append(_Statement(stripped, Span(source.name, number, line.index(stripped[0]) + 1)))
            continue
        code = line.split("#", 1)[0]
        glob = 0                                   # depth of glob alternations ``{a,b}`` open on this line
        lead = len(code) - len(code.lstrip()) if buf else 0    # a continuation's indentation is not the rule's
        for index, char in enumerate(code[lead:], start=lead):
            if start is None:
                if char.isspace():
                    continue
                start = Span(source.name, number, index + 1)
            before = code[index - 1] if index else " "
            if char == "{" and (before.isspace() or before == ")") and not glob:
                out.append(_Statement(f"{buf.strip()} {{".strip(), start))
                buf, start = "", None
            elif char == "}" and not glob:
                if buf.strip():
                    out.append(_Statement(buf.strip(), start))
                out.append(_Statement("}", Span(source.name, number, index + 1)))
                buf, start = "", None
            elif char == "," and not glob:
                out.append(_Statement(f"{buf.strip()},", start))
                buf, start = "", None
            else:
                glob += 1 if char == "{" else -1 if char == "}" else 0
                buf += char
        if buf.strip() and re.match(r"@\{\w+\}\s*\+?=", buf.strip()) and start is not None:
            out.append(_Statement(buf.strip(), start))
            buf, start = "", None
        elif buf:
            buf += " "                             # a statement continued on the next line
    if buf.strip() and start is not None:
        out.append(_Statement(buf.strip(), start))
    return out


class _Parser:
    def __init__(self, source: SourceText) -> None:
        self.source = source
        self.vars = default_variables()
        self.result = AppArmorProfile()
        self.files: list[FileAllow] = []
        self.bind: list[int] = []
        self.connect: list[int] = []
        self.tcp_all = False
        self.depth = 0

    def refuse(self, st: _Statement, why: str) -> None:
        self.result.refusals.append(Refusal(st.span, st.text.rstrip(","), why))

    def parse(self) -> AppArmorProfile:
        for st in _statements(self.source):
            self.statement(st)
        # AppArmor denies what no network rule allows; of that, Landlock can deny TCP bind/connect only.
        bind = None if self.tcp_all else tuple(self.bind)
        connect = None if self.tcp_all else tuple(self.connect)
        if not self.tcp_all:
            self.result.warnings.append("TCP bind/connect are denied except on the ports the profile names; "
                                        "Landlock cannot deny UDP, raw or other sockets")
        self.result.files, self.result.bind_ports, self.result.connect_ports = tuple(self.files), bind, connect
        return self.result

    def statement(self, st: _Statement) -> None:
        text = st.text
        if text.startswith("#include") or text.startswith("include "):
            return self.include(st)
        if re.match(r"@\{\w+\}\s*\+?=", text):
            return self.variable(st)
        if text.endswith("{"):
            return self.open_profile(st)
        if text == "}":
            if self.depth == 0:
                return self.refuse(st, "'}' closes no block")
            self.depth -= 1
            return None
        if self.depth == 0:
            return self.refuse(st, "expected a rule inside a profile block")
        return self.rule(st)

    def include(self, st: _Statement) -> None:
        target = st.text.split(None, 1)[1].strip() if " " in st.text else ""
        target = target.replace(" ", "")
        if target in ("<tunables/global>", "<tunables/home>", "<tunables/proc>"):
            return
        self.refuse(st, "includes are not followed (the abstractions are mostly globs and capabilities "
                        "Landlock cannot express); inline the file rules you need")

    def variable(self, st: _Statement) -> None:
        m = re.match(r"@\{(\w+)\}\s*(\+?=)\s*(.*)$", st.text.rstrip(","))
        if not m:
            return self.refuse(st, "expected '@{NAME} = value ...'")
        values = shlex.split(m.group(3))
        self.vars[m.group(1)] = (self.vars.get(m.group(1), []) if m.group(2) == "+=" else []) + values
        return None

    def open_profile(self, st: _Statement) -> None:
        words = st.text[:-1].split()
        if self.depth > 0 or (words and words[0].startswith("^")):
            self.depth += 1
            return self.refuse(st, "child profiles and hats need exec transitions, which Landlock cannot make")
        self.depth += 1
        if words and words[0] == "profile":
            words = words[1:]
        flags = [w for w in words if w.startswith("flags=")]
        if flags and flags[0].replace(" ", "") not in ("flags=(enforce)",):
            self.refuse(st, f"profile {flags[0]} is not enforceable as written (only enforce mode)")
        self.result.name = next((w for w in words if not w.startswith("flags=")), "")
        return None

    def rule(self, st: _Statement) -> None:
        words = st.text.rstrip(",").split()
        if not words:
            return None
        found = []
        while words and (words[0] in QUALIFIERS or words[0].startswith("priority=")):
            found.append(QUALIFIERS[words[0].split("=")[0]])
            words = words[1:]
        if found:
            return self.refuse(st, "; ".join(found))
        if words[0] == "allow":
            words = words[1:]
        if words and words[0] == "file" and len(words) > 1:
            words = words[1:]
        if not words:
            return self.refuse(st, "a bare 'file' rule allows all file access; Landlock needs paths")
        head = words[0]
        if head == "capability":
            return self.refuse(st, "capabilities are not a Landlock matter (drop them from the bounding set)")
        if head == "network":
            return self.network(st, words[1:])
        if head in OTHER_KINDS:
            return self.refuse(st, f"'{head}' rules cannot be expressed with Landlock")
        if head.startswith("/") or head.startswith("@{") or head.startswith('"'):
            return self.file_rule(st, words)
        if re.fullmatch(r"[rwaxilmkpcuPCU]+", head) and len(words) > 1:
            return self.file_rule(st, [words[1], head, *words[2:]])
        return self.refuse(st, f"unknown or unsupported rule kind '{head}'")

    def file_rule(self, st: _Statement, words: list[str]) -> None:
        if len(words) < 2:
            return self.refuse(st, "expected PATH ACCESS")
        if "->" in words:
            return self.refuse(st, "exec transitions ('->') cannot be expressed with Landlock")
        rights = self.access(st, words[1])
        if rights is None:
            return None
        for path in self.expand(words[0].strip('"')):
            self.path_rule(st, path, rights)
        return None

    def access(self, st: _Statement, text: str) -> frozenset[str] | None:
        rights: set[str] = set()
        rest = text
        if re.search(r"[pcuPCU]x", rest):
            self.refuse(st, "exec transitions (px, cx, ux, ...) cannot be expressed: Landlock keeps the domain "
                            "across exec")
            return None
        rest = rest.replace("ix", "")
        if "ix" in text:
            rights.add("x")
        for letter in rest:
            if letter in WHY_ACCESS:
                self.refuse(st, f"access '{letter}': {WHY_ACCESS[letter]}")
                return None
            if letter not in ACCESS_LETTERS:
                self.refuse(st, f"unknown access '{letter}' (expected r, w, x, ix, l)")
                return None
            rights.add(letter)
        return frozenset(rights)

    def expand(self, path: str) -> list[str]:
        paths = [path]
        for _ in range(8):  # nested variables, bounded
            if not any(_VAR.search(p) for p in paths):
                break
            paths = [new for p in paths for new in self._expand_one(p)]
        return [re.sub(r"/+", "/", p) for p in paths]

    def _expand_one(self, path: str) -> list[str]:
        m = _VAR.search(path)
        if not m:
            return [path]
        values = self.vars.get(m.group(1), [m.group(0)])
        return [path[:m.start()] + v + path[m.end():] for v in values]

    def path_rule(self, st: _Statement, path: str, rights: frozenset[str]) -> None:
        if _VAR.search(path):
            return self.refuse(st, f"undefined variable in {path!r}")
        tree = path.endswith("/**")
        base = path[:-3] or "/" if tree else path
        if _GLOB.search(base) or path.endswith("/"):
            return self.refuse(st, f"{path!r}: only exact files and '/dir/**' trees can be expressed (Landlock "
                                   "rules cover a whole hierarchy, without globs)")
        if not os.path.exists(base):
            self.result.warnings.append(f"{st.span}: {base!r} does not exist; nothing is allowed there")
            return None
        if not tree and os.path.isdir(base):
            return self.refuse(st, f"{path!r} is a directory: write '{path.rstrip('/')}/**' for the tree "
                                   "(Landlock cannot allow a directory without what is beneath)")
        self.files.append(FileAllow(base, rights, tree, st.span))
        return None

    def network(self, st: _Statement, words: list[str]) -> None:
        access = [w for w in words if w in ("bind", "connect")]
        rest = [w for w in words if w not in access]
        ports = [w for w in rest if w.startswith("port=")]
        kinds = [w for w in rest if not w.startswith("port=")]
        bad = [w for w in kinds if w not in ("inet", "inet6", "tcp", "stream")]
        if bad or not any(k in ("tcp", "stream") for k in kinds):
            return self.refuse(st, "Landlock controls only TCP ports (bind, connect); "
                                   f"{' '.join(bad or kinds) or 'all networking'} cannot be expressed")
        if not ports:
            if access:
                return self.refuse(st, "per-operation TCP rules without a port cannot be expressed")
            self.tcp_all = True  # all TCP allowed: leave TCP unhandled
            return None
        try:
            port = int(ports[0].split("=", 1)[1])
        except ValueError:
            return self.refuse(st, "expected port=NUMBER")
        for op in access or ["bind", "connect"]:
            (self.bind if op == "bind" else self.connect).append(port)
        return None


def parse(text: str, filename: str = "<apparmor>") -> AppArmorProfile:
    """Read a profile; refusals are collected, not raised (see ``load_landlock`` for the strict form)."""
    return _Parser(SourceText(filename, text)).parse()


def load(path: str) -> AppArmorProfile:
    """``--apparmor PROFILE``: the enforceable profile, or an ``AppArmorError`` listing every refused rule.

    Raises:
        AppArmorError: some rules cannot be enforced (each named with file:line:col).
        PolicyError: the file cannot be read.
    """
    text = doctree.read_source(path, PolicyError, what="AppArmor profile").text
    profile = parse(text, path)
    if profile.refusals:
        source = SourceText(path, text)
        lines = "\n".join(f"  {r}" for r in profile.refusals)
        raise AppArmorError(f"{len(profile.refusals)} rule(s) of AppArmor profile '{profile.name}' cannot be "
                            f"enforced with Landlock:\n{lines}", span=profile.refusals[0].span, source=source)
    return profile
