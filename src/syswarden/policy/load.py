"""The one entry point that reads a policy in any format: ``load_policy(path_or_text)``.

The format is detected from the document (unless given): JSON text is parsed with positions; a mapping with
``defaultAction`` is a Docker/OCI profile (so is an OCI runtime ``config.json``: its ``linux.seccomp`` is
read), one with ``seccomp`` is go-seccomp-bpf's, anything else is syswarden's native YAML. Docker profiles are resolved for a host (native arch, capabilities, kernel), which
callers may override.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from syswarden import doctree
from syswarden.errors import PolicyError
from syswarden.policy.formats import docker, go_seccomp, native_yaml, tree
from syswarden.policy.model import Policy
from syswarden.syscalls.arch import Arch

FORMATS: tuple[str, ...] = ("yaml", "docker", "go-seccomp")
_ALIASES = {"yaml": "yaml", "native": "yaml", "yml": "yaml", "docker": "docker", "oci": "docker",
            "json": "docker", "go": "go-seccomp", "go-seccomp": "go-seccomp", "go-seccomp-bpf": "go-seccomp"}

# Format name -> dump function (the formats ``convert --to`` can write).
DUMPERS: dict[str, Callable[[Policy], str]] = {
    "yaml": native_yaml.dump,
    "docker": docker.dump,
    "go-seccomp": go_seccomp.dump,
}


def format_name(text: str) -> str:
    """Canonical format name for a user's spelling (``oci`` -> ``docker``)."""
    key = text.strip().lower()
    if key not in _ALIASES:
        raise PolicyError(f"unknown policy format {text!r} (expected one of: {', '.join(FORMATS)})")
    return _ALIASES[key]


def _looks_like_text(value: str) -> bool:
    """A string is policy text when it has a newline, starts with a brace, or is ``key: value`` and no file."""
    if "\n" in value or value.lstrip().startswith("{"):
        return True
    return ": " in value and not Path(value).exists()


def read_source(path_or_text: str | os.PathLike[str]) -> tuple[str, str]:
    """(text, filename): a path is read; a string that looks like a policy is taken as the policy itself."""
    if isinstance(path_or_text, str) and _looks_like_text(path_or_text):
        return path_or_text, "<policy>"
    source = doctree.read_source(path_or_text, PolicyError, what="policy file")
    return source.text, source.name


def parse(text: str, filename: str) -> tree.Doc:
    """JSON documents are parsed as JSON (for exact error positions), everything else as YAML."""
    if text.lstrip().startswith(("{", "[")):
        return tree.parse_json(text, filename)
    return tree.parse_yaml(text, filename)


def oci_seccomp(doc: tree.Doc) -> tree.Doc | None:
    """The ``linux.seccomp`` section of an OCI runtime ``config.json``, as its own document."""
    root = doc.root.value
    linux = root.get("linux") if isinstance(root, dict) and "ociVersion" in root else None
    section = linux.value.get("seccomp") if linux is not None and isinstance(linux.value, dict) else None
    if section is None or not isinstance(section.value, dict):
        return None
    return tree.Doc(section, doc.source)


def detect(doc: tree.Doc) -> str:
    """Which format a parsed document is written in."""
    root = doc.root.value
    if isinstance(root, dict):
        if "defaultAction" in root or oci_seccomp(doc) is not None:
            return "docker"
        if "seccomp" in root:
            return "go-seccomp"
    return "yaml"


def load_policy(path_or_text: str | os.PathLike[str], *, fmt: str | None = None, native_arch: Arch | None = None,
                caps: Iterable[str] | None = None, kernel: tuple[int, int] | str | None = None) -> Policy:
    """Read a policy file (or text) in any supported format into a checked ``Policy``.

    Args:
        path_or_text: a file path, or the policy text itself.
        fmt: ``yaml``, ``docker`` or ``go-seccomp`` (aliases: native, oci, json, go); detected if None.
        native_arch: the arch Docker ``archMap``/``includes`` and native defaults resolve against.
        caps: the capability bounding set for Docker ``includes``/``excludes`` (default: Docker's).
        kernel: the kernel version for Docker ``minKernel`` (default: the running kernel).

    Raises:
        PolicyError (and its subclasses PolicySyntaxError, UnknownSyscallError), carrying file:line:col.
    """
    text, filename = read_source(path_or_text)
    doc = parse(text, filename)
    name = format_name(fmt) if fmt else detect(doc)
    if name == "docker":
        return docker.load_doc(oci_seccomp(doc) or doc, host=docker.make_host(native_arch, caps, kernel))
    if name == "go-seccomp":
        return go_seccomp.load_doc(doc, native_arch=native_arch)
    return native_yaml.load_doc(doc, native_arch=native_arch)


def dump_policy(policy: Policy, fmt: str) -> str:
    """Write ``policy`` in format ``fmt`` (PolicyError if the format cannot express it)."""
    return DUMPERS[format_name(fmt)](policy)
