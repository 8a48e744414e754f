"""``syswarden convert``: read a policy in any format and write it as native YAML, Docker/OCI JSON or
go-seccomp-bpf YAML (Docker profiles are resolved for the given host first)."""
from __future__ import annotations

from pathlib import Path

import click

from syswarden.errors import PolicyError
from syswarden.policy.formats import docker
from syswarden.policy.load import dump_policy, format_name, load_policy
from syswarden.syscalls.arch import Arch


def printable(text: str) -> str:
    """Escape control characters so a hostile file name cannot rewrite the terminal."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def parse_arch(value: str | None) -> Arch | None:
    if value is None:
        return None
    try:
        return Arch.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--arch") from exc


@click.command("convert")
@click.argument("source", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option("--to", "to_fmt", required=True, type=click.Choice(["yaml", "docker", "go-seccomp"]),
              help="Format to write.")
@click.option("--from", "from_fmt", type=click.Choice(["yaml", "docker", "go-seccomp"]),
              help="Format to read (detected when omitted).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here (default stdout).")
@click.option("--arch", help="Native arch Docker profiles resolve against (default: this machine).")
@click.option("--cap", "caps", multiple=True, help="Add a capability to Docker's default set (repeatable).")
@click.option("--kernel", help="Kernel version MAJOR.MINOR for Docker minKernel (default: running kernel).")
def convert(source: Path, to_fmt: str, from_fmt: str | None, output: Path | None, arch: str | None,
            caps: tuple[str, ...], kernel: str | None) -> None:
    """Convert the policy SOURCE (a file, or - for stdin) to another format.

    \b
    Examples:
      syswarden convert docker-default.json --to yaml
      syswarden convert docker-default.json --to yaml --arch arm64 --cap SYS_ADMIN --kernel 5.4
      syswarden convert policy.yaml --to docker -o profile.json
    """
    host_caps = [*docker.DEFAULT_CAPS, *caps] if caps else None
    where: Path | str = source
    if str(source) == "-":
        where = click.get_text_stream("stdin").read() + "\n"   # the newline marks it as text, not a path
    policy = load_policy(where, fmt=from_fmt, native_arch=parse_arch(arch), caps=host_caps, kernel=kernel)
    for warning in policy.warnings:
        click.echo(f"syswarden: warning: {printable(warning)}", err=True)
    write_policy_text(dump_policy(policy, format_name(to_fmt)), output)


def write_policy_text(text: str, output: Path | None) -> None:
    """Write a policy to ``output``, or to stdout when it is None (also used by ``record``)."""
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"cannot write {printable(str(output))!r}: {exc.strerror}") from exc
