"""A per-user cache of compiled seccomp filters for ``syswarden run``, so a repeated launch skips parsing,
resolving and compiling its policies (about 60 ms for Docker's profile, plus the imports they need).

Threat model (also in ``docs/sandbox.md``): whoever can write a cache entry chooses the filter the next
``syswarden run`` installs. An entry is therefore used only when all of these hold, else it is ignored and
rebuilt:

- the cache directory is a real directory (not a symlink) owned by the effective user and not writable by
  group or others, so nobody else can add, rename or replace entries in it;
- the entry is a regular file opened without following symlinks, owned by the effective user, mode 0600
  (nothing readable or writable by group or others);
- the entry names the key it was written for, so an entry of ours copied or hard-linked under another key's
  name (same owner, same mode) is refused;
- its content parses completely (magic line, counts, hex images that are whole BPF instructions).

The key is a SHA-256 over everything compilation depends on: the policy source bytes (profile data file or
``--policy`` file), the options that change the filters (``--drop``, ``--allow``, ``--default-action``,
``--errno``, ``--log``), the machine and kernel release (native arch, Docker ``minKernel``), the syswarden
version, and the bytes of the policy, seccomp, syscalls and sandbox packages (code and tables), so any code
change invalidates every entry. Writes are atomic (temporary file in the same directory, then rename).
Caching is best effort: an unwritable cache only costs the compile.
"""
from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass

MAGIC = "syswarden-filter-cache 1"
_PACKAGES = ("policy", "seccomp", "syscalls", "sandbox")
_INSN_SIZE = 8          # struct sock_filter
_MAX_INSNS = 4096       # BPF_MAXINSNS
_code_digest: bytes | None = None


@dataclass(frozen=True, slots=True)
class CachedFilter:
    """One installed filter: its BPF image, its seccomp() flags and which policy (by position) it enforces."""

    image: bytes
    flags: int
    policy_index: int


@dataclass(frozen=True, slots=True)
class Entry:
    """What a launch needs from its policies when they are not loaded: the filters and the warnings to print."""

    filters: tuple[CachedFilter, ...]
    notices: tuple[str, ...] = ()


def cache_dir() -> str:
    """``$XDG_CACHE_HOME/syswarden``, else ``/var/cache/syswarden`` for root, else ``~/.cache/syswarden``."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):
        return os.path.join(xdg, "syswarden")
    if os.geteuid() == 0:
        return "/var/cache/syswarden"
    return os.path.join(os.path.expanduser("~"), ".cache", "syswarden")


def code_digest() -> bytes:
    """SHA-256 of the syswarden version and the files of the packages that load, resolve and compile policies."""
    global _code_digest
    if _code_digest is None:
        from syswarden import __version__
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        digest = hashlib.sha256(__version__.encode())
        for package in _PACKAGES:
            for dirpath, dirnames, filenames in os.walk(os.path.join(root, package)):
                dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
                for name in sorted(filenames):
                    path = os.path.join(dirpath, name)
                    digest.update(f"\0{os.path.relpath(path, root)}\0".encode())
                    with open(path, "rb") as fh:
                        digest.update(fh.read())
        _code_digest = digest.digest()
    return _code_digest


def make_key(parts: Iterable[bytes | str]) -> str:
    """The entry name for these compilation inputs (length-prefixed, so no two part lists collide)."""
    digest = hashlib.sha256(MAGIC.encode())
    digest.update(code_digest())
    uname = os.uname()
    for part in (uname.machine, uname.release, *parts):
        data = part.encode("utf-8", "surrogateescape") if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def _trusted_dir(path: str) -> bool:
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and not st.st_mode & 0o022


def load(key: str, directory: str | None = None) -> Entry | None:
    """The entry for ``key``, or None when it is missing, untrusted (owner, mode, key) or malformed."""
    directory = directory or cache_dir()
    if not _trusted_dir(directory):
        return None
    try:
        fd = os.open(os.path.join(directory, key), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o077:
            return None
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(1 << 20)
    except OSError:
        return None
    finally:
        os.close(fd)
    return parse(data, key)


def parse(data: bytes, key: str) -> Entry | None:
    """Decode an entry written by ``dump`` for ``key``; anything unexpected gives None."""
    try:
        lines = data.decode("ascii").split("\n")
        if lines[0] != MAGIC or lines[1] != f"key {key}" or lines[-1] != "end":
            return None
        count = int(lines[2].removeprefix("filters "))
        filters = tuple(_parse_filter(line) for line in lines[3:3 + count])
        notices = tuple(bytes.fromhex(line.removeprefix("notice ")).decode("utf-8")
                        for line in lines[3 + count:-1])
    except (ValueError, IndexError, UnicodeDecodeError):
        return None
    if not filters or None in filters or not all(line.startswith("notice ") for line in lines[3 + count:-1]):
        return None
    return Entry(filters, notices)  # type: ignore[arg-type]  # None was excluded above


def _parse_filter(line: str) -> CachedFilter | None:
    word, index, flags, image_hex = line.split(" ")
    image = bytes.fromhex(image_hex)
    if word != "filter" or not image or len(image) % _INSN_SIZE or len(image) > _MAX_INSNS * _INSN_SIZE:
        return None
    return CachedFilter(image, int(flags), int(index))


def dump(entry: Entry, key: str) -> bytes:
    """The file content for ``entry`` under ``key`` (ASCII lines; images and notices in hex)."""
    lines = [MAGIC, f"key {key}", f"filters {len(entry.filters)}"]
    lines += [f"filter {f.policy_index} {f.flags} {f.image.hex()}" for f in entry.filters]
    lines += [f"notice {n.encode('utf-8').hex()}" for n in entry.notices]
    lines.append("end")
    return "\n".join(lines).encode("ascii")


def store(key: str, entry: Entry, directory: str | None = None) -> bool:
    """Write ``entry`` atomically, mode 0600; False (and nothing written) when the cache is unusable."""
    directory = directory or cache_dir()
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    except OSError:
        return False
    if not _trusted_dir(directory):
        return False
    import tempfile  # only when writing: a cache hit should not pay for it
    try:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)  # created 0600, O_EXCL
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(dump(entry, key))
        os.replace(tmp, os.path.join(directory, key))
        return True
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return False
