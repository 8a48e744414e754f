"""The condition compiler: every operator, transformer, <NA> handling, macros, lists and event-type inference."""
from __future__ import annotations

import pytest

from syswarden.errors import RuleLoadError
from syswarden.events.event import Event, FdInfo, FdType, ThreadInfo
from syswarden.rules.compiler import compile_condition
from syswarden.rules.filter.parser import parse
from syswarden.rules.passes.expand_lists import expand_definitions
from syswarden.rules.passes.infer_event_types import UNIVERSE


def _event(**params: object) -> Event:
    parent = ThreadInfo(tid=100, pid=100, comm="sshd", exe="/usr/sbin/sshd", exepath="/usr/sbin/sshd",
                        parent=ThreadInfo(tid=1, pid=1, comm="systemd"))
    thread = ThreadInfo(tid=200, pid=200, comm="bash", exe="bash", exepath="/usr/bin/bash", args=["-c", "ls /etc"],
                        uid=0, euid=0, gid=0, egid=0, parent=parent, cwd="/root")
    fd = FdInfo(num=3, type=FdType.FILE, name="/etc/Shadow.conf")
    return Event(num=7, ts=1_700_000_000_000000001, type="openat", tid=200, thread=thread, fd=fd, res=3,
                 params={"fd": 3, "dirfd": -100, "name": "/etc/Shadow.conf", "flags": 0o2000000, "mode": 0, **params})


def _sock_event() -> Event:
    thread = ThreadInfo(tid=5, pid=5, comm="curl")
    fd = FdInfo(num=4, type=FdType.IPV4, name="10.1.2.3:40000->93.184.216.34:443", l4proto="tcp",
                sip="10.1.2.3", sport=40000, dip="93.184.216.34", dport=443, connected=True)
    return Event(num=9, ts=1, type="connect", tid=5, thread=thread, fd=fd, res=0, params={"fd": 4})


def matches(cond: str, event: Event | None = None, **kw: object) -> bool:
    return compile_condition(parse(cond), **kw).predicate(event or _event())  # type: ignore[arg-type]


@pytest.mark.parametrize(("cond", "want"), [
    ("proc.name = bash", True), ("proc.name == bash", True), ("proc.name = Bash", False),
    ("proc.name != bash", False), ("proc.name != zsh", True),
    ("fd.name contains Shadow", True), ("fd.name contains shadow", False),
    ("fd.name icontains SHADOW", True), ("fd.name startswith /etc/", True), ("fd.name startswith /usr", False),
    ("fd.name endswith .conf", True), ("fd.name glob '/etc/*.conf'", True), ("fd.name glob '/e?c/*'", True),
    ("fd.name glob '/etc/*.CONF'", False), ("fd.name iglob '/ETC/*.CONF'", True),
    ("fd.name regex '/etc/S[a-z]+\\\\.conf'", True), ("fd.name regex 'Shadow'", False),
    ("proc.name in (zsh, bash)", True), ("proc.name in (zsh)", False), ("proc.name intersects (bash)", True),
    ("fd.name pmatch (/etc)", True), ("fd.name pmatch (/et)", False), ("fd.name pmatch (/usr, /etc/)", True),
    ("fd.name pmatch (/*)", True), ("fd.name pmatch (/etc/S*.conf)", True), ("fd.name pmatch (//etc//)", True),
    ("fd.name pmatch (/etc/Shadow.conf/x)", False), ("fd.name pmatch (/)", True),
    ("fd.num = 3", True), ("fd.num > 2", True), ("fd.num >= 3", True), ("fd.num < 3", False),
    ("fd.num <= 3", True), ("fd.num = 0x3", True), ("fd.num in (1, 3)", True),
    ("proc.name > 1", True), ("proc.name < 1", False),
    ("proc.pname exists", True), ("k8s.ns.name exists", False),
    ("evt.is_open_read = true", True), ("evt.is_open_write = true", False), ("evt.failed = false", True),
    ("fd.name bcontains 2f657463", True), ("fd.name bstartswith 2f6574", True),
])
def test_operators(cond: str, want: bool) -> None:
    """Each operator decides as Falco's filter_compare does."""
    assert matches(cond) is want


@pytest.mark.parametrize(("cond", "want"), [
    ("tolower(fd.name) = /etc/shadow.conf", True), ("toupper(proc.name) = BASH", True),
    ("basename(proc.exepath) = bash", True), ("len(proc.name) = 4", True), ("len(proc.args) > 100", False),
    ("b64(proc.env[TOKEN]) = hello", True), ("proc.name = val(proc.exe)", True),
    ("proc.name = val(proc.pname)", False), ("proc.pname != val(proc.name)", True),
    ("tolower(toupper(proc.name)) = bash", True),
])
def test_transformers(cond: str, want: bool) -> None:
    """Transformers apply before comparing; val() compares two fields of the same event."""
    event = _event()
    assert event.thread is not None
    event.thread.env = ["TOKEN=aGVsbG8="]
    assert matches(cond, event) is want


@pytest.mark.parametrize("cond", [
    "k8s.ns.name = x", "k8s.ns.name != x", "k8s.ns.name contains x", "k8s.ns.name in (x)",
    "container.image.repository != x",
])
def test_missing_value_fails_every_check(cond: str) -> None:
    """A check on <NA> is false for every operator, `!=` included (Falco and sysdig agree)."""
    assert matches(cond) is False


def test_not_of_missing_is_true() -> None:
    """`not` inverts the false result of a check on <NA>."""
    assert matches("not k8s.ns.name = x") is True


def test_no_thread_state_means_missing() -> None:
    """Without thread state, process fields are <NA> and checks on them fail."""
    bare = Event(num=1, ts=0, type="close", tid=9)
    assert matches("proc.name != x", bare) is False
    assert matches("not proc.name exists", bare) is True


def test_ancestor_without_index_matches_any() -> None:
    """proc.aname without an index matches any ancestor; with one, exactly that level."""
    assert matches("proc.aname = systemd")
    assert matches("proc.aname[1] = sshd")
    assert not matches("proc.aname[1] = systemd")
    assert matches("proc.aname[0] = bash")
    assert not matches("proc.aname = bash")
    assert not matches("proc.aname[5] exists")


def test_cidr_and_ip_fields() -> None:
    """fd.net/fd.snet test CIDR membership, fd.ip matches either end."""
    ev = _sock_event()
    assert matches("fd.net in (10.0.0.0/8)", ev)
    assert matches("fd.snet in (\"93.184.0.0/16\")", ev)
    assert not matches("fd.snet in (10.0.0.0/8, 192.168.0.0/16)", ev)
    assert matches("fd.cnet = 10.1.0.0/16", ev)
    assert matches("fd.ip = 93.184.216.34", ev)
    assert matches("fd.sip = 93.184.216.34 and fd.sport = 443 and fd.cport = 40000", ev)
    assert matches("fd.lport = 40000 and fd.rport = 443 and fd.rip = 93.184.216.34", ev)
    assert matches("fd.port in (443)", ev)
    assert not matches("fd.net = 192.168.0.0/16", ev)


def test_modifiers() -> None:
    """`anyof` needs a match, `oneof` exactly one (libsinsp matches_one_rhs), `allof` all of them."""
    assert matches("fd.name startswith anyof (/usr, /etc)")
    assert matches("fd.name startswith oneof (/usr, /etc)")
    assert not matches("fd.name startswith oneof (/etc, /etc/S)")
    assert matches("fd.name startswith anyof (/etc, /etc/S)")
    assert matches("fd.name != allof (/a, /b)")
    assert not matches("fd.name != allof (/a, /etc/Shadow.conf)")
    assert not matches("fd.name startswith allof (/usr, /etc)")
    assert matches("fd.name contains allof (etc, Shadow)")


def test_macros_and_lists() -> None:
    """Macros resolve recursively; lists expand in list literals and as bare operands, quoted items unquote."""
    macros = {"m1": parse("proc.name in (shells)"), "m2": parse("m1 and fd.name startswith /etc")}
    lists = {"shells": ["zsh", "bash"], "quoted": ['"/etc/Shadow.conf"'], "nums": [1, 3]}
    compiled = compile_condition(parse("m2 and fd.name in (quoted) and fd.num in nums"), macros=macros, lists=lists)
    assert compiled.predicate(_event())
    assert compiled.macros_used == {"m1", "m2"}
    assert compiled.lists_used == {"shells", "quoted", "nums"}
    assert compiled.fields == {"proc.name", "fd.name", "fd.num"}


def test_quoted_item_is_not_a_list_name() -> None:
    """`in ("shells")` is the string, not the list."""
    assert not matches('proc.name in ("shells")', lists={"shells": ["bash"]})


def test_undefined_macro() -> None:
    """Falco's message, at the reference's position."""
    with pytest.raises(RuleLoadError) as info:
        compile_condition(parse("proc.name = x and foo"))
    assert info.value.message == "Undefined macro 'foo' used in filter."
    assert info.value.span is not None and info.value.span.col == 19


def test_macro_loop() -> None:
    """A macro that references itself is an error, not a recursion crash."""
    with pytest.raises(RuleLoadError, match="reference loop"):
        compile_condition(parse("a"), macros={"a": parse("b"), "b": parse("a")})


def test_unknown_field_suggests() -> None:
    """An unknown field names the closest real ones."""
    with pytest.raises(RuleLoadError) as info:
        compile_condition(parse("evt.type = open and proc.nmae = x"))
    assert "did you mean 'proc.name'" in info.value.message
    assert "nonexistent field proc.nmae" in info.value.message
    assert info.value.span is not None and info.value.span.col == 21


@pytest.mark.parametrize(("cond", "reason"), [
    ("fd.num = abc", "expected a number, got 'abc'"),
    ("fd.num contains 3", "operator 'contains' is not supported for fields of type int64"),
    ("evt.failed = yes", "expected 'true' or 'false', got 'yes'"),
    ("fd.net = 10.0.0.300/8", "expected a network such as 10.0.0.0/8"),
    ("fd.name regex '('", "invalid regex pattern: missing "),
    ("fd.name bcontains xyz", "expected an even number of hex digits"),
    ("proc.aname[x] = a", "expects a numeric index argument"),
    ("proc.name[1] = a", "does not take an argument"),
])
def test_invalid_checks(cond: str, reason: str) -> None:
    """Type errors are caught at compile time with the reason."""
    with pytest.raises(RuleLoadError, match=reason.replace("(", "\\(").replace(".", "\\.")):
        compile_condition(parse(cond))


@pytest.mark.parametrize(("cond", "want"), [
    ("evt.type = open", {"open"}),
    ("evt.type in (open, openat) and proc.name = x", {"open", "openat"}),
    ("evt.type in (open, openat) and evt.type = openat", {"openat"}),
    ("evt.type = open or evt.type = execve", {"open", "execve"}),
    ("evt.type = open or proc.name = x", None),
    ("proc.name = x", None),
    ("not proc.name = x", None),
    ("evt.num = 0", set()),
    ("evt.num = 0 and evt.type = open", set()),
    ("not (evt.type != open)", {"open"}),
    ("not (evt.type != open or evt.type != execve)", set()),
])
def test_event_type_inference(cond: str, want: set[str] | None) -> None:
    """and intersects, or unites, not is pushed down, never-true is empty, None means every type."""
    got = compile_condition(parse(cond)).evttypes
    assert got == (frozenset(want) if want is not None else None)


def test_negated_event_type_is_complement() -> None:
    """`evt.type != switch` is every type but switch."""
    got = compile_condition(parse("evt.type != switch")).evttypes
    assert got is not None and "switch" not in got and got == UNIVERSE - {"switch"}


def test_predicate_matches_evttype_inference() -> None:
    """An event whose type is outside the inferred set never matches."""
    compiled = compile_condition(parse("(evt.type = openat or evt.type = open) and fd.num = 3"))
    assert compiled.evttypes == {"open", "openat"}
    ev = _event()
    assert compiled.predicate(ev)
    ev.type = "read"
    assert not compiled.predicate(ev)


@pytest.mark.parametrize(("cond", "want"), [
    ("evt.rawarg.flags > 0", True), ("evt.rawarg.flags = 0", False), ("evt.rawarg.dirfd < 0", True),
    ("evt.rawarg.name startswith /etc", True), ("evt.rawarg.flags = 0x80000", True),
    ("evt.rawarg.nope exists", False), ("evt.arg.flags contains O_CLOEXEC", True),
])
def test_rawarg_compares_numbers_as_numbers(cond: str, want: bool) -> None:
    """evt.rawarg keeps parameter types: numeric constants compare numerically, others as text."""
    assert matches(cond) is want


def test_unknown_event_type() -> None:
    """evt.type compared with a name that is no event or syscall fails with Falco's message, plus the closest
    names (issue 13: a typo like 'opneat' gets a suggestion)."""
    with pytest.raises(RuleLoadError) as info:
        compile_condition(parse("evt.type in (open, opne)"))
    assert info.value.message.startswith("unknown event type opne, did you mean 'open'")
    assert info.value.span is not None and info.value.span.col == 20


def test_generic_syscall_event_type_is_known() -> None:
    """Syscalls without a dedicated Falco event (madvise) are valid evt.type values."""
    assert compile_condition(parse("evt.type = madvise")).evttypes == {"madvise"}


def test_list_forward_reference_stays_literal() -> None:
    """A list's items are final: a name in them is expanded by the loader only when that list came earlier
    (issue 13), so a forward reference or a loop is left as text and reported as what it is."""
    lists, _ = expand_definitions({"list_a": ["list_b"], "list_b": ["list_a"]})
    assert lists == {"list_a": ["list_b"], "list_b": ["list_b"]}
    with pytest.raises(RuleLoadError, match="unknown event type list_b"):
        compile_condition(parse("evt.type in (list_a)"), lists=lists)


def test_glob_agrees_with_libc_fnmatch() -> None:
    """glob is fnmatch(3) without flags, as libsinsp calls it: checked against glibc on random patterns."""
    import ctypes
    import random

    from syswarden.rules.fields.patterns import glob_matcher

    libc = ctypes.CDLL("libc.so.6")
    libc.fnmatch.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]
    rng = random.Random(11)
    alphabet = "ab]-[!^*?\\x/("
    patterns = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 7))) for _ in range(600)]
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6))) for _ in range(120)]
    patterns += ["/home/*/.ssh/*", "[b-a]", "[!b-a]x", "a\\*b", "[]]", "[\\]]", "*\\"]
    for pattern in patterns:
        matches = glob_matcher(pattern)
        for text in texts:
            want = libc.fnmatch(pattern.encode(), text.encode(), 0) == 0
            assert matches(text) is want, (pattern, text)
