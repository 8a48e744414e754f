"""doctree, the one reader of YAML and JSON documents (issue 13 §2), and its limits seen from every command.

The hostile files run through the real CLI in a child process with a 2 GiB address-space limit and a
timeout, which also measures the child's peak memory: before doctree, 100,000 ``[`` killed the process with
SIGSEGV, a 600-byte billion-laughs policy grew past 2 GB, ``/dev/zero`` ate memory and a FIFO hung.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from syswarden import doctree
from syswarden.errors import InputError, PolicySyntaxError
from syswarden.spans import SourceText

from tests.peak import PEAK_KB_EXPR

_RUN = """
import sys
from syswarden.cli.main import main
code = 0
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else 1
print(f"PEAK_KB={""" + PEAK_KB_EXPR + """}", file=sys.stderr)
sys.exit(code)
"""


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def syswarden(*args: str, timeout: float = 60) -> tuple[int, str, int]:
    """Run the CLI in a child; returns (exit code, stderr without the peak line, peak RSS in MB)."""
    run = subprocess.run([sys.executable, "-c", _RUN, *args], capture_output=True, text=True, timeout=timeout,
                         preexec_fn=_limit)
    lines = run.stderr.splitlines()
    peak = [int(line.split("=")[1]) for line in lines if line.startswith("PEAK_KB=")]
    assert run.returncode >= 0, f"killed by signal {-run.returncode}: {run.stderr[-500:]}"
    assert peak, run.stderr[-2000:]
    text = "\n".join(line for line in lines if not line.startswith("PEAK_KB=")) + run.stdout
    return run.returncode, text, peak[0] // 1024


def _laughs(levels: int = 9) -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi"[:levels - 1]):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\ndefault: allow\n"


@pytest.mark.parametrize("text", [
    "a: [" + "x, " * 100_000 + ":",                       # over the size PyYAML is asked to reword
    "rules:\n- args:\n  - {arg: 0, op: ne, value:}\n",    # libyaml refuses, PyYAML's own loader accepts
])
def test_yaml_errors_without_a_second_opinion_are_positioned(text: str) -> None:
    """libyaml's error stands where PyYAML's loader is not asked again or accepts the text (found by the policy
    fuzz test: an UnboundLocalError traceback before)."""
    with pytest.raises(PolicySyntaxError) as err:
        doctree.parse_yaml(SourceText("<policy>", text), PolicySyntaxError)
    assert str(err.value).startswith("<policy>:")


def test_hundred_thousand_brackets_are_a_positioned_error(tmp_path: Path) -> None:
    """Depth is checked on libyaml's event stream before anything deeper is built: no recursion to overflow."""
    rules = tmp_path / "deep.yaml"
    rules.write_text("- list: x\n  items: " + "[" * 100_000 + "\n")
    code, out, _ = syswarden("rules", "validate", str(rules))
    assert code == 2 and f"{rules}:2:264" in out and "levels of nesting" in out
    policy = tmp_path / "deep-policy.yaml"
    policy.write_text("default: allow\nrules: " + "[" * 100_000 + "\n")
    code, out, _ = syswarden("compile", str(policy))
    assert code == 2 and f"{policy}:2:263" in out and "levels of nesting" in out


def test_billion_laughs_stays_small(tmp_path: Path) -> None:
    """Aliases are shared nodes whose expanded size is counted: 9**9 lols are refused at the alias that crosses
    the cap, within a few tens of MB."""
    policy = tmp_path / "laughs.yaml"
    policy.write_text(_laughs())
    assert len(policy.read_bytes()) < 700
    code, out, peak = syswarden("compile", str(policy))
    # the position is the alias that crosses the cap
    assert code == 2 and "values once its aliases are expanded" in out and f"{policy}:6:26" in out
    assert peak < 200, f"{peak} MB"


def test_aliases_are_shared_not_copied() -> None:
    root = doctree.parse_yaml(SourceText("f.yaml", "a: &x [1, 2]\nb: *x\nc: *x\n"), InputError)
    assert root.value["b"] is root.value["a"] and root.value["c"] is root.value["a"]


@pytest.mark.parametrize("target", ["/dev/zero", "fifo", "dir"])
def test_special_files_are_refused_at_once(tmp_path: Path, target: str) -> None:
    """Only regular files are read: /dev/zero would never end, a FIFO would block, a directory is no document."""
    path = {"/dev/zero": Path("/dev/zero"), "fifo": tmp_path / "rules.fifo", "dir": tmp_path}[target]
    if target == "fifo":
        os.mkfifo(path)
    kind = {"/dev/zero": "a character device", "fifo": "a FIFO", "dir": "a directory"}[target]
    replay = tmp_path / "empty.jsonl"
    replay.write_text("")
    commands = [("compile", str(path)), ("monitor", "-c", str(path), "--replay", str(replay))]
    if target != "dir":                 # a directory of rules stands for its *.yaml files, as Falco's -r DIR
        commands.append(("rules", "validate", str(path)))
    for args in commands:
        code, out, _ = syswarden(*args, timeout=20)
        assert code == 2, (args, out)
        if target == "fifo" or (target == "/dev/zero" and args[0] != "monitor"):   # click refuses the others
            assert f"it is {kind}, not a regular file" in out, (args, out)


def test_size_cap(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"#" * 2048)
    with pytest.raises(InputError, match="larger than"):
        doctree.read_source(path, InputError, max_bytes=1024)


def test_invalid_utf8_is_positioned(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_bytes(b"- rule: ok\n- rule: r\xff\n")
    with pytest.raises(InputError) as info:
        doctree.read_source(path, InputError)
    assert info.value.span is not None and (info.value.span.line, info.value.span.col) == (2, 10)
    code, out, _ = syswarden("rules", "validate", str(path))
    assert code == 2 and f"{path}:2:10" in out and "invalid UTF-8" in out


@pytest.mark.parametrize("text,where,message", [
    ("a: " + "9" * 5000 + "\n", (1, 4), "more than 4300 digits"),
    ("a: 0x" + "f" * 4000 + "\n", (1, 4), "bits is not supported"),
    ("a: 1.0e+999\n", (1, 4), "out of the range of a 64-bit float"),
    ("a: !!python/object:os.system x\n", (1, 4), "unsupported YAML tag"),
])
def test_numbers_and_tags_beyond_limits(text: str, where: tuple[int, int], message: str) -> None:
    with pytest.raises(InputError, match=message) as info:
        doctree.parse_yaml(SourceText("f.yaml", text), InputError)
    assert info.value.span is not None and (info.value.span.line, info.value.span.col) == where


@pytest.mark.parametrize("text,message", [
    ('{"a": ' + "9" * 5000 + "}", "more than 4300 digits"),
    ('{"a": 1e999999}', "out of the range of a 64-bit float"),
    ("[" * 300 + "]" * 300, "levels of nesting"),
])
def test_json_limits(text: str, message: str) -> None:
    with pytest.raises(PolicySyntaxError, match=message) as info:
        doctree.parse_json(SourceText("p.json", text), PolicySyntaxError)
    assert info.value.span is not None and info.value.span.line == 1


def test_unclosed_quote_points_where_it_opened(tmp_path: Path) -> None:
    """libyaml notices at the end of the file; the error names the line where the quote opened, in every
    reader (policy, rules, falco.yaml)."""
    text = 'default: "allow\nrules: []\nflags: []\n'
    with pytest.raises(PolicySyntaxError) as info:
        doctree.parse_yaml(SourceText("p.yaml", text), PolicySyntaxError)
    assert str(info.value).startswith("p.yaml:1:10: malformed YAML: the quoted string opened here is never closed")
    rules = tmp_path / "r.yaml"
    rules.write_text('- rule: "unclosed\n  desc: d\n  condition: evt.type=open\n  output: o\n  priority: INFO\n')
    code, out, _ = syswarden("rules", "validate", str(rules))
    assert code == 2 and f"{rules}:1:9" in out and "never closed" in out


def test_block_scalar_content_span() -> None:
    """A block scalar's text starts on a later line than its indicator: ``content`` says where."""
    root = doctree.parse_yaml(SourceText("f.yaml", "c: >\n\n    hello\n    world\n"), InputError)
    node = root.value["c"]
    assert (node.span.line, node.span.col) == (1, 4) and node.text_span.line == 3 and node.text_span.col == 5


def test_duplicate_keys_by_reader() -> None:
    """Policies refuse a repeated key; rules keep the first (as before); falco.yaml the last."""
    text = SourceText("f.yaml", "a: 1\na: 2\n")
    with pytest.raises(InputError, match="duplicate key 'a'"):
        doctree.parse_yaml(text, InputError)
    assert doctree.parse_yaml(text, InputError, duplicates="first").value["a"].value == 1
    assert doctree.parse_yaml(text, InputError, duplicates="last").value["a"].value == 2


def test_json_and_yaml_agree_on_docker_profile() -> None:
    """The JSON reader gives the values json.loads gives, with positions."""
    path = Path(__file__).resolve().parents[1] / "src" / "syswarden" / "policy" / "profiles" / "data" / \
        "docker-default.json"
    source = doctree.read_source(path, InputError)

    def plain(node: doctree.Node) -> object:
        if isinstance(node.value, dict):
            return {k: plain(v) for k, v in node.value.items()}
        if isinstance(node.value, list):
            return [plain(v) for v in node.value]
        return node.value
    assert plain(doctree.parse_json(source, InputError)) == json.loads(source.text)
    assert plain(doctree.parse_yaml(source, InputError)) == json.loads(source.text)
