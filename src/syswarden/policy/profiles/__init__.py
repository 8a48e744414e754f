"""Built-in profiles: seccomp policies shipped as data files in ``data/`` (provenance in ``data/SOURCE.md``),
registered by name in one explicit dict, loaded through ``policy.load`` like any user file.

Docker's and Podman's profiles are kept verbatim and resolved the way the engines resolve them: for the native
arch (``archMap``), Docker's default capability set (``includes``/``excludes`` ``caps``) and the running
kernel (``minKernel``), unless the caller passes other values.
"""
from __future__ import annotations

import os

TYPE_CHECKING = False   # typing.TYPE_CHECKING, without importing typing on run's cached launch path
if TYPE_CHECKING:
    from collections.abc import Iterable

    from syswarden.policy.model import Policy
    from syswarden.syscalls.arch import Arch

# The loaders (YAML, JSON, the formats) are imported by ``load`` only: naming a profile and reading its bytes
# (what ``syswarden run``'s filter cache needs) must stay cheap, so this module imports nothing of syswarden's
# at start-up and ``Profile`` is a plain class.


class Profile:
    """A built-in profile: its data file, format, one-line summary and where it comes from."""

    __slots__ = ("name", "file", "fmt", "summary", "origin")

    def __init__(self, name: str, file: str, fmt: str, summary: str, origin: str) -> None:
        self.name, self.file, self.fmt, self.summary, self.origin = name, file, fmt, summary, origin

    def __repr__(self) -> str:
        return f"Profile({self.name!r}, {self.file!r}, {self.fmt!r})"


PROFILES: dict[str, Profile] = {}


def register(profile: Profile) -> None:
    """Add a profile to the registry; a name registered twice is a programming error."""
    if profile.name in PROFILES:
        raise ValueError(f"profile {profile.name!r} registered twice")
    PROFILES[profile.name] = profile


for _p in (
    Profile("docker-default", "docker-default.json", "docker", "Docker's default container profile (allow list)",
            "moby/profiles seccomp/default.json @cd3bed80"),
    Profile("podman-default", "podman-default.json", "docker", "Podman's default profile (allow list, ENOSYS)",
            "containers/container-libs common/pkg/seccomp/seccomp.json @f0ddf1a7"),
    Profile("beats", "beats.yaml", "yaml", "Elastic Beats' self-applied allow list (amd64)",
            "elastic/beats libbeat/common/seccomp/policy_linux_amd64.go @7017a79c"),
    Profile("firejail-default", "firejail-default.yaml", "yaml", "firejail's default drop list (EPERM)",
            "netblue30/firejail src/lib/syscall.c @19550fad"),
    Profile("strict-like", "strict-like.yaml", "yaml", "strict mode as a filter: read, write, exit only",
            "seccomp(2) SECCOMP_SET_MODE_STRICT"),
    Profile("no-network", "no-network.yaml", "yaml", "no non-AF_UNIX sockets; bind/listen/accept kill",
            "syswarden (after systemd RestrictAddressFamilies)"),
    Profile("no-exec", "no-exec.yaml", "yaml", "fork, vfork, execve, execveat fail with EACCES",
            "Elasticsearch SystemCallFilter"),
):
    register(_p)


def get(name: str) -> Profile:
    """The profile called ``name``; an unknown name is a PolicyError suggesting close names."""
    if name in PROFILES:
        return PROFILES[name]
    import difflib
    close = difflib.get_close_matches(name, list(PROFILES), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    from syswarden.errors import PolicyError
    from syswarden.spans import Span
    raise PolicyError(f"unknown profile {name!r} (expected one of: {', '.join(PROFILES)}){hint}",
                      span=Span("--profile", 1, 1))


def text(name: str) -> str:
    """The profile's data file, as shipped."""
    from importlib import resources
    return resources.files(__name__).joinpath("data", get(name).file).read_text(encoding="utf-8")


def source_bytes(name: str) -> bytes:
    """The profile's data file as bytes (from the package directory when it is one: no importlib.resources)."""
    path = os.path.join(os.path.dirname(__file__), "data", get(name).file)
    if os.path.isfile(path):
        with open(path, "rb") as fh:
            return fh.read()
    return text(name).encode("utf-8")


def load(name: str, *, native_arch: Arch | None = None, caps: Iterable[str] | None = None,
         kernel: tuple[int, int] | str | None = None) -> Policy:
    """Load and resolve a built-in profile; its ``source`` is ``profile:NAME`` so denials can name it."""
    from dataclasses import replace
    from importlib import resources

    from syswarden.policy.load import load_policy
    profile = get(name)
    path = resources.files(__name__).joinpath("data", profile.file)
    with resources.as_file(path) as real:
        policy = load_policy(str(real), fmt=profile.fmt, native_arch=native_arch, caps=caps, kernel=kernel)
    return replace(policy, name=profile.name, source=f"profile:{profile.name}")
