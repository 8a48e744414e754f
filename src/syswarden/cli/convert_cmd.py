"""``syswarden convert``: read a policy in any format and write it as native YAML, Docker/OCI JSON or
go-seccomp-bpf YAML (Docker profiles are resolved for the given host first). A ``landlock:`` section is kept
when writing native YAML; the other formats have no place for it, and a note says it was left out."""
from __future__ import annotations

from pathlib import Path

import click

from syswarden.cli.options import parse_arch
from syswarden.errors import PolicyError
from syswarden.escaping import escape_text
from syswarden.policy.formats import docker
from syswarden.policy.load import FORMAT_NAMES, dump_policy, format_name, load_policy_file


@click.command("convert")
@click.argument("source", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option("--to", "to_fmt", required=True, type=click.Choice(list(FORMAT_NAMES)), help="Format to write.")
@click.option("--from", "from_fmt", type=click.Choice(list(FORMAT_NAMES)),
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
    policy, spec = load_policy_file(where, fmt=from_fmt, native_arch=parse_arch(arch), caps=host_caps,
                                    kernel=kernel)
    for warning in policy.warnings:
        click.echo(f"syswarden: warning: {escape_text(warning)}", err=True)
    target = format_name(to_fmt)
    if spec is not None and target != "yaml":
        click.echo(f"syswarden: note: converting the seccomp part only: the {target} format has no place for the "
                   f"landlock: section (--to yaml keeps it)", err=True)
        spec = None
    write_policy_text(dump_policy(policy, target, spec), output)


def write_policy_text(text: str, output: Path | None) -> None:
    """Write a policy to ``output``, or to stdout when it is None (also used by ``record``)."""
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"cannot write {escape_text(str(output))!r}: {exc.strerror}") from exc
