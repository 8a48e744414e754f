"""The AppArmor subset: what Landlock can enforce is accepted and enforced; the rest is refused by line."""
from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syswarden.policy.formats import apparmor
from syswarden.policy.formats.apparmor import AppArmorError
from syswarden.policy.landlock import FsRight, spec_from_apparmor

DATA = Path(__file__).resolve().parent / "data"
FIELD = Path(__file__).resolve().parents[3] / ".." / "shared" / "field" / "000_16c9733efe9d2579.txt"
TCPDUMP = DATA / "usr.sbin.tcpdump"
BASE_PY = os.path.realpath(sys.executable)


def test_tcpdump_copy_matches_the_field_article() -> None:
    """The test copy is the article's profile with its HTML entities and mangled include tags undone."""
    if not FIELD.exists():
        pytest.skip("shared field articles not checked out next to the repo")
    text = FIELD.read_text()
    start = text.index("# From /etc/apparmor.d/usr.sbin.tcpdump")
    block = text[start:text.index("</code></pre>", start)]
    clean = html.unescape(block).replace("</abstractions>", "").replace("</tunables>", "")
    clean = re.sub(r"<(tunables|abstractions) /", r"<\1/", clean)
    assert [ln.strip() for ln in clean.splitlines() if ln.strip()] == \
        [ln.strip() for ln in TCPDUMP.read_text().splitlines() if ln.strip()]


def test_tcpdump_profile_is_refused_line_by_line() -> None:
    """Every rule Landlock cannot enforce is named with its line: includes, capabilities, raw/packet, audit deny."""
    profile = apparmor.parse(TCPDUMP.read_text(), "usr.sbin.tcpdump")
    refused = {r.span.line: r for r in profile.refusals}
    assert profile.name == "/usr/sbin/tcpdump"
    assert set(refused) == {6, 7, 8, 10, 11, 12, 13, 14, 15, 18, 19, 23, 24, 25, 26, 27, 28}
    assert "capabilities" in refused[10].why and refused[10].rule == "capability net_raw"
    assert "only TCP ports" in refused[14].why
    assert "deny rules" in refused[23].why and "audit" in refused[23].why
    assert "only exact files and '/dir/**' trees" in refused[19].why
    # What is left is exactly what Landlock can do: @{HOME}/** rw.
    assert [(f.path, f.access, f.tree) for f in profile.files] == [(os.environ.get("HOME", "/root"), {"r", "w"}, True)]


def test_load_raises_with_every_refusal() -> None:
    """--apparmor on the full tcpdump profile fails with an AppArmorError listing all refused rules."""
    with pytest.raises(AppArmorError) as info:
        apparmor.load(str(TCPDUMP))
    message = str(info.value)
    assert str(info.value.span) == f"{TCPDUMP}:6:3"
    assert "17 rule(s)" in message and f"{TCPDUMP}:14:3: 'network raw'" in message


@pytest.mark.parametrize("rule, why", [
    ("/tmp/* r,", "only exact files"),
    ("/tmp/{a,b} r,", "only exact files"),
    ("/usr/bin/ls px,", "exec transitions"),
    ("/usr/bin/ls Cx -> child,", "transitions"),
    ("/etc/hostname a,", "append-only"),
    ("/etc/hostname k,", "file locks"),
    ("owner /etc/hostname r,", "owner"),
    ("mount,", "'mount' rules"),
    ("network inet tcp ip=127.0.0.1 port=80,", "only TCP ports"),
    ("network udp,", "only TCP ports"),
    ("signal,", "'signal' rules"),
])
def test_unsupported_rules_are_refused(rule: str, why: str) -> None:
    """Each construct outside the subset is refused with a reason."""
    profile = apparmor.parse(f"profile p {{\n  {rule}\n}}\n", "p")
    assert len(profile.refusals) == 1 and why in profile.refusals[0].why
    assert profile.refusals[0].span.line == 2


def test_subset_maps_onto_landlock() -> None:
    """Exact files, trees, variables and TCP port rules become Landlock rules."""
    text = ("@{DATA} = /usr/share\nprofile p {\n  /etc/hostname r,\n  @{DATA}/** rix,\n  /usr/bin/** ix,\n"
            "  network bind inet tcp port=8080,\n  network connect tcp port=443,\n}\n")
    profile = apparmor.parse(text, "p")
    assert profile.refusals == []
    spec = spec_from_apparmor(profile)
    rules = {r.path: r.rights for r in spec.paths}
    assert rules == {"/etc/hostname": {FsRight.READ}, "/usr/share": {FsRight.READ, FsRight.EXECUTE},
                     "/usr/bin": {FsRight.EXECUTE}}
    assert spec.bind_ports == (8080,) and spec.connect_ports == (443,)


@pytest.mark.kernel
def test_reduced_tcpdump_profile_is_enforced(tmp_path: Path) -> None:
    """The enforceable part of the tcpdump profile (@{HOME}/** rw) plus system trees confines a real run."""
    home = tmp_path / "home"
    home.mkdir()
    kept = [ln for ln in TCPDUMP.read_text().splitlines()
            if not re.search(r"include <abstractions|capability|network|audit deny|usb/ r|@\{HOME\}/ r", ln)]
    extra = [f"  {d}/** rix," for d in ("/usr", "/lib", "/lib64", "/bin", sys.base_prefix) if os.path.exists(d)]
    kept.insert(kept.index("/usr/sbin/tcpdump {") + 1, "\n".join(extra))
    profile = tmp_path / "tcpdump.reduced"
    profile.write_text("\n".join(kept) + "\n")
    script = ("import os\nopen(os.path.join(os.environ['HOME'], 'capture.pcap'), 'w').write('x')\n"
              "try:\n    open('/etc/hostname').read()\nexcept PermissionError as e:\n    print('etc', e.errno)\n")
    env = {**os.environ, "HOME": str(home)}
    result = subprocess.run([sys.executable, "-m", "syswarden", "run", "-q", "--apparmor", str(profile), "--",
                             BASE_PY, "-S", "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "etc 13"
    assert (home / "capture.pcap").read_text() == "x"


def test_line_breaks_do_not_matter() -> None:
    """apparmor_parser reads statements, not lines: the tcpdump profile with every statement on one line gives
    the same name, files, ports and refusals (by rule text) as the file; a stray '}' is refused by position."""
    text = TCPDUMP.read_text()
    lines = [ln.split("#", 1)[0].strip() if not ln.strip().startswith("#include") else "" for ln in text.splitlines()]
    includes = "\n".join(ln.strip() for ln in text.splitlines() if ln.strip().startswith("#include"))
    one_line = includes + "\n" + " ".join(ln for ln in lines if ln) + "\n"
    as_file, compact = apparmor.parse(text, "f"), apparmor.parse(one_line, "f")
    assert compact.name == as_file.name and compact.files == as_file.files
    assert (compact.bind_ports, compact.connect_ports) == (as_file.bind_ports, as_file.connect_ports)
    assert [(r.rule, r.why) for r in compact.refusals] == [(r.rule, r.why) for r in as_file.refusals]
    assert {r.span.line for r in compact.refusals} <= set(range(1, includes.count("\n") + 3))   # includes, line
    stray = apparmor.parse("profile x { /etc/hostname r, } }\n", "s")
    assert [(str(r.span), r.why) for r in stray.refusals] == [("s:1:32", "'}' closes no block")]


@pytest.mark.kernel
def test_a_one_line_profile_is_enforced(tmp_path: Path) -> None:
    """``profile x { ... }`` on one line confines a real run as the same profile written over lines does."""
    trees = " ".join(f"{d}/** rix," for d in ("/usr", "/lib", "/lib64", "/bin", sys.base_prefix) if os.path.exists(d))
    profile = tmp_path / "one-line"
    profile.write_text(f"profile one {{ {trees} /etc/hostname r, }}\n")
    script = ("open('/etc/hostname').read()\n"
              "try:\n    open('/etc/passwd').read()\nexcept PermissionError as e:\n    print('passwd', e.errno)\n")
    result = subprocess.run([sys.executable, "-m", "syswarden", "run", "-q", "--apparmor", str(profile), "--",
                             BASE_PY, "-S", "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "passwd 13"


_TOKENS = ["profile", "x", "/usr/bin/x", "{", "}", ",", " ", "\n", "/etc/**", "/etc/hostname", "r", "rix", "w", "px",
           "network", "tcp", "port=80", "bind", "@{HOME}", "@{D}", "=", "+=", "#", "#include <tunables/global>",
           "flags=(complain)", "(", ")", "deny", "/a/{b,c}", "^hat", "->", "\u202e", "\udcff", "\x00"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_TOKENS), max_size=40))
def test_any_token_soup_is_read_or_refused_by_position(tokens: list[str]) -> None:
    """Bounded fuzz of the --apparmor front door: whatever the tokens, the profile is read (never an exception),
    each refusal at a position inside the text (load turns refusals into one AppArmorError)."""
    text = "".join(tokens)
    profile = apparmor.parse(text, "fuzz")
    lines = text.splitlines() or [""]
    for refusal in profile.refusals:
        assert 1 <= refusal.span.line <= len(lines) and 1 <= refusal.span.col <= len(lines[refusal.span.line - 1]) + 1
