"""The one entry point that reads a policy file in any format: ``load_policy_file(path_or_text)`` ->
``(Policy, LandlockSpec | None)``, over one registry of formats (``FORMATS``: how each is detected, loaded and
dumped). ``load_policy`` is the same without the Landlock part.

The format is detected from the document (unless given): JSON text is parsed with positions; a mapping with
``defaultAction`` is a Docker/OCI profile (so is an OCI runtime ``config.json``: its ``linux.seccomp`` is
read), one with ``seccomp`` is go-seccomp-bpf's, anything else is syswarden's native YAML. A top-level
``landlock:`` section (``policy/landlock.py``) is taken off the parsed tree before the seccomp part is handed to
its format, in every format, so each error still points at ``file:line:col`` of the user's file. Docker profiles
are resolved for a host (native arch, capabilities, kernel), which callers may override.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from syswarden import doctree
from syswarden.errors import PolicyError
from syswarden.policy import landlock
from syswarden.policy.formats import docker, go_seccomp, native_yaml, tree
from syswarden.policy.landlock import LandlockSpec
from syswarden.policy.model import Policy
from syswarden.policy.source_text import looks_like_text
from syswarden.syscalls.arch import Arch


@dataclass(frozen=True, slots=True)
class Host:
    """What a profile is resolved against: native arch, Docker capability set, kernel version (None: this
    machine, Docker's default capabilities)."""

    native_arch: Arch | None = None
    caps: Iterable[str] | None = None
    kernel: tuple[int, int] | str | None = None


@dataclass(frozen=True, slots=True)
class PolicyFormat:
    """One policy format: its name and spellings, how a parsed document is recognised (the first format in
    ``FORMATS`` whose ``detect`` says yes wins), loaded, and written."""

    name: str
    aliases: tuple[str, ...]
    detect: Callable[[tree.Doc], bool]
    load: Callable[[tree.Doc, Host], Policy]
    dump: Callable[[Policy], str]


def oci_seccomp(doc: tree.Doc) -> tree.Doc | None:
    """The ``linux.seccomp`` section of an OCI runtime ``config.json``, as its own document."""
    root = doc.root.value
    linux = root.get("linux") if isinstance(root, dict) and "ociVersion" in root else None
    section = linux.value.get("seccomp") if linux is not None and isinstance(linux.value, dict) else None
    if section is None or not isinstance(section.value, dict):
        return None
    return tree.Doc(section, doc.source)


def _has_key(key: str) -> Callable[[tree.Doc], bool]:
    return lambda doc: isinstance(doc.root.value, dict) and key in doc.root.value


def _load_docker(doc: tree.Doc, host: Host) -> Policy:
    return docker.load_doc(oci_seccomp(doc) or doc, host=docker.make_host(host.native_arch, host.caps, host.kernel))


FORMATS: tuple[PolicyFormat, ...] = (
    PolicyFormat("docker", ("docker", "oci", "json"),
                 lambda doc: _has_key("defaultAction")(doc) or oci_seccomp(doc) is not None, _load_docker,
                 docker.dump),
    PolicyFormat("go-seccomp", ("go-seccomp", "go", "go-seccomp-bpf"), _has_key("seccomp"),
                 lambda doc, host: go_seccomp.load_doc(doc, native_arch=host.native_arch), go_seccomp.dump),
    PolicyFormat("yaml", ("yaml", "native", "yml"), lambda doc: True,
                 lambda doc, host: native_yaml.load_doc(doc, native_arch=host.native_arch), native_yaml.dump),
)
FORMAT_NAMES: tuple[str, ...] = ("yaml", "docker", "go-seccomp")
_BY_NAME = {f.name: f for f in FORMATS}
_ALIASES = {alias: f.name for f in FORMATS for alias in f.aliases}


def format_name(text: str) -> str:
    """Canonical format name for a user's spelling (``oci`` -> ``docker``)."""
    key = text.strip().lower()
    if key not in _ALIASES:
        raise PolicyError(f"unknown policy format {text!r} (expected one of: {', '.join(FORMAT_NAMES)})")
    return _ALIASES[key]


def read_source(path_or_text: str | os.PathLike[str]) -> tuple[str, str]:
    """(text, filename): a path is read; a string that looks like a policy is taken as the policy itself."""
    if isinstance(path_or_text, str) and looks_like_text(path_or_text):
        return path_or_text, "<policy>"
    source = doctree.read_source(path_or_text, PolicyError, what="policy file")
    return source.text, source.name


def parse(text: str, filename: str) -> tree.Doc:
    """JSON documents are parsed as JSON (for exact error positions), everything else as YAML."""
    if text.lstrip().startswith(("{", "[")):
        return tree.parse_json(text, filename)
    return tree.parse_yaml(text, filename)


def detect(doc: tree.Doc) -> str:
    """Which format a parsed document is written in."""
    return next(f.name for f in FORMATS if f.detect(doc))


def split_landlock(doc: tree.Doc) -> tuple[tree.Doc, LandlockSpec | None]:
    """The document without its top-level ``landlock:`` section, and that section checked (None without one)."""
    root = doc.root
    if not isinstance(root.value, dict) or landlock.SECTION not in root.value:
        return doc, None
    spec = landlock.parse_section(tree.Reader(doc), root.value[landlock.SECTION])
    rest = {k: v for k, v in root.value.items() if k != landlock.SECTION}
    spans = {k: s for k, s in root.key_spans.items() if k != landlock.SECTION}
    return tree.Doc(tree.Node(rest, root.span, spans), doc.source), spec


def load_policy_file(path_or_text: str | os.PathLike[str], *, fmt: str | None = None,
                     native_arch: Arch | None = None, caps: Iterable[str] | None = None,
                     kernel: tuple[int, int] | str | None = None,
                     text: str | None = None) -> tuple[Policy, LandlockSpec | None]:
    """Read a policy file (or text) in any supported format: its checked seccomp ``Policy`` and its Landlock
    section, if it has one.

    Args:
        path_or_text: a file path, or the policy text itself.
        fmt: ``yaml``, ``docker`` or ``go-seccomp`` (aliases: native, oci, json, go); detected if None.
        native_arch: the arch Docker ``archMap``/``includes`` and native defaults resolve against.
        caps: the capability bounding set for Docker ``includes``/``excludes`` (default: Docker's).
        kernel: the kernel version for Docker ``minKernel`` (default: the running kernel).
        text: the file's content when the caller has read it already (``run``'s filter cache keys on exactly
            those bytes); ``path_or_text`` then only names it.

    Raises:
        PolicyError (and its subclasses PolicySyntaxError, UnknownSyscallError), carrying file:line:col.
    """
    source, filename = read_source(path_or_text) if text is None else (text, str(Path(path_or_text)))
    doc, spec = split_landlock(parse(source, filename))
    chosen = _BY_NAME[format_name(fmt)] if fmt else _BY_NAME[detect(doc)]
    return chosen.load(doc, Host(native_arch, caps, kernel)), spec


def load_policy(path_or_text: str | os.PathLike[str], *, fmt: str | None = None, native_arch: Arch | None = None,
                caps: Iterable[str] | None = None, kernel: tuple[int, int] | str | None = None) -> Policy:
    """``load_policy_file`` without the Landlock section (which is still checked)."""
    return load_policy_file(path_or_text, fmt=fmt, native_arch=native_arch, caps=caps, kernel=kernel)[0]


def dump_policy(policy: Policy, fmt: str, landlock_spec: LandlockSpec | None = None) -> str:
    """Write ``policy`` in format ``fmt`` (PolicyError if the format cannot express it). A Landlock spec is
    written as the native format's ``landlock:`` section; the other formats have no place for it."""
    name = format_name(fmt)
    text = _BY_NAME[name].dump(policy)
    if landlock_spec is None or landlock_spec.empty:
        return text
    if name != "yaml":
        raise PolicyError(f"the {name} format has no place for a landlock: section (convert to yaml to keep it)")
    return text + native_yaml.dump_section(landlock.SECTION, landlock.dump_section(landlock_spec))
