"""Tests for cli/seccomp_cmds.py: `syswarden compile`, `disasm` and `check` as a user runs them."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from syswarden.seccomp.compiler import compile_policy
from syswarden.seccomp.disasm import disassemble
from syswarden.seccomp.insn import Program

from .helpers import ANCHORS

POLICY = """\
default: allow
arches: [x86_64, i386, x32]
rules:
  - syscalls: [ioctl]
    action: errno(EPERM)
    args:
      - {arg: 1, op: eq, value: 0x5412, width: 32}
"""


def sw(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "syswarden", *args], capture_output=True, timeout=60)


def test_compile_raw_then_disasm_round_trips(tmp_path: Path) -> None:
    """compile --format raw writes sock_filter records; disasm of them equals compile --format asm."""
    policy = tmp_path / "p.yaml"
    policy.write_text(POLICY)
    raw = tmp_path / "f.bpf"
    assert sw("compile", str(policy), "--format", "raw", "-o", str(raw)).returncode == 0
    program = Program.from_bytes(raw.read_bytes())
    asm = sw("compile", str(policy), "--format", "asm")
    assert asm.returncode == 0
    assert sw("disasm", str(raw)).stdout == asm.stdout == disassemble(program).encode()


def test_compile_json_and_c(tmp_path: Path) -> None:
    """json lists the instructions; c emits a sock_filter array of the same length."""
    policy = tmp_path / "p.yaml"
    policy.write_text(POLICY)
    doc = json.loads(sw("compile", str(policy), "--format", "json").stdout)
    c_src = sw("compile", str(policy), "--format", "c").stdout.decode()
    assert doc["arches"] == ["x86_64", "i386", "x32"]
    assert c_src.count("{ 0x") == len(doc["instructions"])
    assert f".len = {len(doc['instructions'])}" in c_src


def test_compile_arch_option_restricts_the_filter(tmp_path: Path) -> None:
    """--arch x86_64 drops the i386 section."""
    policy = tmp_path / "p.yaml"
    policy.write_text(POLICY)
    out = sw("compile", str(policy), "--arch", "x86_64").stdout.decode()
    assert "ARCH_I386" not in out and "ARCH_X86_64" in out


def test_check_prints_action_rule_and_path(tmp_path: Path) -> None:
    """check ioctl with TIOCSTI|1<<32 says ERRNO(1) by rule 1 (numbered as run numbers it) and lists the path."""
    policy = tmp_path / "p.yaml"
    policy.write_text(POLICY)
    proc = sw("check", str(policy), "ioctl", "--arg", "1=0x100005412", "--arch", "x86_64")
    out = proc.stdout.decode()
    assert proc.returncode == 0, proc.stderr
    assert "action:     ERRNO(1)" in out and "rule 1 [ioctl]" in out
    assert "A = args[1]" in out and "path (" in out


def test_check_docker_unshare() -> None:
    """The Docker profile denies unshare by default action."""
    proc = sw("check", str(ANCHORS / "docker-default.json"), "unshare", "--no-path")
    assert b"ERRNO(1)" in proc.stdout and b"default action" in proc.stdout


def test_bad_input_exits_2(tmp_path: Path) -> None:
    """Unknown syscall, bad --arg, bad --arch and a truncated filter file all exit 2 with a message."""
    policy = tmp_path / "p.yaml"
    policy.write_text(POLICY)
    bad = tmp_path / "bad.bpf"
    bad.write_bytes(b"\x00" * 12)
    for args in (("check", str(policy), "nosuchcall"), ("check", str(policy), "read", "--arg", "7=1"),
                 ("compile", str(policy), "--arch", "vax"), ("disasm", str(bad))):
        proc = sw(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stderr.strip()


def test_hostile_file_name_is_escaped(tmp_path: Path) -> None:
    """A control character in a file name is printed escaped, never raw."""
    bad = tmp_path / "evil\x1b[31mname.bpf"
    bad.write_bytes(b"\x00" * 3)
    proc = sw("disasm", str(bad))
    assert proc.returncode == 2
    assert b"\x1b" not in proc.stderr and b"\\u001b" in proc.stderr


def test_compiled_size_is_reported_on_stderr(tmp_path: Path) -> None:
    """compile reports the instruction count on stderr, matching the library."""
    from syswarden.policy.load import load_policy
    policy = tmp_path / "p.yaml"
    policy.write_text(POLICY)
    n = len(compile_policy(load_policy(policy)).program)
    assert f"{n} instructions".encode() in sw("compile", str(policy)).stderr


def test_builtin_profiles_by_name() -> None:
    """POLICY may be profile:NAME; an unknown profile name exits 2."""
    proc = sw("check", "profile:docker-default", "unshare", "--no-path")
    assert proc.returncode == 0 and b"ERRNO(1)" in proc.stdout
    assert sw("check", "profile:no-such-profile", "read").returncode == 2


def test_disasm_refuses_what_is_not_a_filter(tmp_path: Path) -> None:
    """An ELF binary, or 8-byte records the kernel would refuse, is an input error naming the file (exit 2, no
    traceback); a real filter still disassembles."""
    elf = tmp_path / "true.bin"
    elf.write_bytes(Path("/bin/true").read_bytes()[:4096])
    bad_jump = tmp_path / "badjump.bpf"
    bad_jump.write_bytes(bytes([0x05 | 0x00, 0x00, 0, 0, 0, 0, 0, 0]) + bytes([0x15, 0, 0, 0, 0, 0, 0, 0]))
    for path in (elf, bad_jump):
        result = sw("disasm", str(path))
        assert result.returncode == 2, result.stderr
        assert f"{path} is not a seccomp filter" in result.stderr.decode() and b"Traceback" not in result.stderr
    good = tmp_path / "good.bpf"
    assert sw("compile", "profile:strict-like", "--format", "raw", "-o", str(good)).returncode == 0
    assert sw("disasm", str(good)).returncode == 0
