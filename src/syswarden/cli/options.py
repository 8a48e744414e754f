"""Option values several commands parse the same way (one place, so ``--arch`` means the same everywhere)."""
from __future__ import annotations

import click

from syswarden.syscalls.arch import Arch


def parse_arch(value: str | None, hint: str = "--arch") -> Arch | None:
    """An ``--arch`` value in any common spelling (x86_64, amd64, SCMP_ARCH_X86_64...), or None when not given;
    a bad one is a usage error naming the option."""
    if value is None:
        return None
    try:
        return Arch.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=hint) from exc
