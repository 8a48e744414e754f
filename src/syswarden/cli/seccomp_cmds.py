"""``syswarden compile``, ``syswarden disasm`` and ``syswarden check``: the seccomp compiler on the command
line (compile a policy to BPF, read a compiled filter back, and ask what a policy does with one syscall)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from syswarden.errors import CompileError, InputError
from syswarden.escaping import escape_text
from syswarden.cli.options import parse_arch
from syswarden.policy.load import load_policy_file
from syswarden.policy.model import Policy
from syswarden.seccomp.compiler import CompiledFilter, compile_policy
from syswarden.seccomp.disasm import disassemble, lines
from syswarden.seccomp.emulator import check_program
from syswarden.seccomp.explain import explain, syscall_number
from syswarden.input_file import read_regular
from syswarden.seccomp.insn import BPF_MAXINSNS, SOCK_FILTER_BYTES, Program
from syswarden.syscalls.arch import Arch


def _arch(value: str) -> Arch:
    arch = parse_arch(value)
    assert arch is not None
    return arch


def _load(path: Path, acting: str) -> Policy:
    """The seccomp policy in ``path`` (or ``profile:NAME``). A built-in profile's warnings are not printed: they
    are about our own data (names newer than some arch's table), pinned by the profile tests, not news to the
    user. A ``landlock:`` section is checked, and a note says ``acting`` only concerns the seccomp part."""
    if str(path).startswith("profile:"):
        from syswarden.policy import profiles
        policy, spec = profiles.load(str(path)[len("profile:"):]), None
    else:
        policy, spec = load_policy_file(path)
    if spec is not None:
        click.echo(f"syswarden: note: {acting} the seccomp part of {escape_text(str(path))}; its landlock: section "
                   f"is checked and left to `syswarden run`, which enforces it", err=True)
    _warn(policy, policy.warnings)
    return policy


def _warn(policy: Policy, warnings: tuple[str, ...]) -> None:
    if policy.source.startswith("profile:"):
        return
    for warning in warnings:
        click.echo(f"syswarden: warning: {escape_text(warning)}", err=True)


def _compile(path: Path, arches: tuple[str, ...], acting: str) -> CompiledFilter:
    policy = _load(path, acting)
    compiled = compile_policy(policy, [_arch(a) for a in arches] or None)
    _warn(policy, compiled.warnings)
    return compiled


def _c_source(compiled: CompiledFilter, source: str) -> str:
    """A C array of ``struct sock_filter`` with the disassembly as comments."""
    safe = escape_text(source).replace("*/", "* /")
    arches = ", ".join(a.value for a in compiled.arches)
    out = [(f"/* seccomp filter compiled by syswarden from {safe} for {arches}; "
            f"{len(compiled.program)} instructions */"),
           "#include <linux/filter.h>", "", "static struct sock_filter syswarden_filter[] = {"]
    for line, ins in zip(lines(compiled.program), compiled.program):
        out.append(f"\t{{ 0x{ins.code:02x}, 0x{ins.jt:02x}, 0x{ins.jf:02x}, 0x{ins.k:08x} }}, "
                   f"/* {line.strip()[6:].split('  ', 1)[-1]} */")
    out += ["};", "", "static struct sock_fprog syswarden_prog = {",
            f"\t.len = {len(compiled.program)},", "\t.filter = syswarden_filter,", "};", ""]
    return "\n".join(out)


def _json(compiled: CompiledFilter) -> str:
    doc = {"arches": [a.value for a in compiled.arches],
           "instructions": [{"code": i.code, "jt": i.jt, "jf": i.jf, "k": i.k} for i in compiled.program],
           "warnings": list(compiled.warnings)}
    return json.dumps(doc, indent=1) + "\n"


def _write(data: bytes, output: Path | None) -> None:
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    try:
        output.write_bytes(data)
    except OSError as exc:
        raise InputError(f"cannot write {escape_text(str(output))!r}: {exc.strerror}") from exc


@click.command("compile")
@click.argument("policy", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--arch", "arches", multiple=True, metavar="ARCH",
              help="Compile for this arch (repeatable; default: the policy's arches).")
@click.option("--format", "fmt", type=click.Choice(["raw", "asm", "c", "json"]), default="asm", show_default=True,
              help="raw = the kernel's 8-byte sock_filter records; asm = annotated listing.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here (default stdout).")
def compile_cmd(policy: Path, arches: tuple[str, ...], fmt: str, output: Path | None) -> None:
    """Compile the seccomp POLICY (native YAML, Docker/OCI JSON, go-seccomp-bpf, or profile:NAME for a
    built-in profile) to classic BPF.

    \b
    Examples:
      syswarden compile profile:docker-default --format asm
      syswarden compile policy.yaml --arch x86_64 --format raw -o filter.bpf
    """
    compiled = _compile(policy, arches, "compiling")
    if fmt == "raw":
        if output is None and sys.stdout.isatty():
            raise click.UsageError("refusing to write binary BPF to a terminal; use -o FILE or a pipe")
        data = compiled.to_bytes()
    elif fmt == "asm":
        data = disassemble(compiled.program).encode()
    elif fmt == "c":
        data = _c_source(compiled, str(policy)).encode()
    else:
        data = _json(compiled).encode()
    _write(data, output)
    click.echo(f"syswarden: {len(compiled.program)} instructions for "
               f"{', '.join(a.value for a in compiled.arches)}", err=True)


@click.command("disasm")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--arch", default=None, metavar="ARCH",
              help="Arch for syscall names where the filter does not say (default: this machine).")
def disasm_cmd(file: Path, arch: str | None) -> None:
    """Disassemble a compiled seccomp filter FILE (raw sock_filter records, as `compile --format raw` writes)."""
    # a filter has at most BPF_MAXINSNS 8-byte records: a larger file, a FIFO or a device is refused unread
    data = read_regular(file, InputError, what="seccomp filter",
                        max_bytes=BPF_MAXINSNS * SOCK_FILTER_BYTES)
    program = Program.from_bytes(data, name=escape_text(str(file)))
    try:
        check_program(program)        # what the kernel would refuse is no filter to read back
    except CompileError as exc:
        raise InputError(f"{escape_text(str(file))} is not a seccomp filter: {exc.message}") from exc
    click.echo(disassemble(program, _arch(arch) if arch else None), nl=False)


def _parse_arg(text: str) -> tuple[int, int]:
    index_text, sep, value_text = text.partition("=")
    try:
        index, value = int(index_text), int(value_text, 0)
    except ValueError:
        index, value = -1, -1
    if not sep or not 0 <= index <= 5 or not 0 <= value < 1 << 64:
        raise click.BadParameter(f"expected N=VALUE with N in 0..5 and an unsigned 64-bit VALUE, got "
                                 f"{escape_text(text)!r}", param_hint="--arg")
    return index, value


@click.command("check")
@click.argument("policy", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("syscall")
@click.option("--arch", default=None, metavar="ARCH", help="The ABI of the call (default: this machine).")
@click.option("--arg", "arg_texts", multiple=True, metavar="N=VALUE", help="Argument N (0-5); repeatable.")
@click.option("--no-path", is_flag=True, help="Do not print the instructions executed.")
def check_cmd(policy: Path, syscall: str, arch: str | None, arg_texts: tuple[str, ...], no_path: bool) -> None:
    """Show what POLICY does with one SYSCALL (name or number): the action, the rule and the path.

    \b
    Examples:
      syswarden check profile:docker-default unshare
      syswarden check docker-default.json socket --arg 0=40
      syswarden check policy.yaml ioctl --arg 1=0x100005412 --arch x86_64
    """
    call_arch = _arch(arch) if arch else Arch.native()
    args = [0] * 6
    for text in arg_texts:
        index, value = _parse_arg(text)
        args[index] = value
    syscall_number(call_arch, syscall)            # a bad name is reported before any compiling
    compiled = _compile(policy, (), "checking")
    result = explain(compiled, call_arch, syscall, args)
    for line in result.render(compiled, show_path=not no_path).splitlines():
        click.echo(escape_text(line))
