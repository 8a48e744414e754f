"""A per-user cache of compiled seccomp filters for ``syswarden run``, so a repeated launch skips parsing,
resolving and compiling its policies (about 60 ms for Docker's profile, plus the imports they need).

Threat model (also in ``docs/sandbox.md``): whoever can write a cache entry chooses the filter the next
``syswarden run`` installs. An entry is therefore used only when all of these hold, else it is ignored and
rebuilt:

- the cache directory is a real directory (not a symlink) owned by the effective user and not writable by
  group or others, so nobody else can add, rename or replace entries in it;
- it is reached without re-resolving its path between check and use: the path is walked from ``/`` one
  component at a time with ``openat(O_NOFOLLOW | O_DIRECTORY)`` (a symbolic link is followed only when the
  directory holding it is root's or ours and nobody else can write it, so nobody else can swap it), the final
  directory fd is checked with ``fstat``, and every later operation (open, create, rename) is relative to that
  fd. A component renamed or replaced by a symlink meanwhile cannot redirect root's writes: they go into the
  directory that was checked, or nowhere (``XDG_CACHE_HOME`` may name a tree others can write);
- the entry is a regular file opened without following symlinks, owned by the effective user, mode 0600
  (nothing readable or writable by group or others);
- the entry names the key it was written for, so an entry of ours copied or hard-linked under another key's
  name (same owner, same mode) is refused;
- its content parses completely (magic line, counts, hex images that are whole BPF instructions).

The key is a SHA-256 over everything compilation depends on: the policy source bytes (profile data file or
``--policy`` file), the options that change the filters (``--drop``, ``--allow``, ``--default-action``,
``--errno``, ``--log``), the machine and kernel release (native arch, Docker ``minKernel``), the syswarden
version, and the name, size and modification time of every file of the policy, seccomp, syscalls and sandbox
packages (code and tables), so any code change invalidates every entry. Writes are atomic (a temporary file created
``O_EXCL`` in the same directory fd, then ``renameat`` within it). Caching is best effort: an unwritable cache only
costs the compile.

This module is on the cached launch path: plain classes and the built-in SHA-256, no dataclasses or hashlib.
"""
from __future__ import annotations

import errno
import os
import stat

TYPE_CHECKING = False   # typing.TYPE_CHECKING, without importing typing on the launch path
if TYPE_CHECKING:
    from collections.abc import Iterable
    from hashlib import sha256      # the same interface as the C module's (which typeshed has no stub for)
    from typing import Any
else:
    try:
        from _sha256 import sha256   # the interpreter's own: hashlib would load OpenSSL at every launch
    except ImportError:  # pragma: no cover - interpreters built without it
        from hashlib import sha256

MAGIC = "syswarden-filter-cache 1"
_PACKAGES = ("policy", "seccomp", "syscalls", "sandbox")
_INSN_SIZE = 8          # struct sock_filter
_MAX_INSNS = 4096       # BPF_MAXINSNS
_MAX_SYMLINKS = 40      # as the kernel's path walk
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_code_digest: bytes | None = None


class CachedFilter:
    """One installed filter: its BPF image, its seccomp() flags and which policy (by position) it enforces."""

    __slots__ = ("image", "flags", "policy_index")

    def __init__(self, image: bytes, flags: int, policy_index: int) -> None:
        self.image, self.flags, self.policy_index = image, flags, policy_index

    def _key(self) -> tuple[bytes, int, int]:
        return self.image, self.flags, self.policy_index

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, CachedFilter) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"CachedFilter({len(self.image) // _INSN_SIZE} insns, flags={self.flags}, policy={self.policy_index})"


class Entry:
    """What a launch needs from its policies when they are not loaded: the filters and the warnings to print."""

    __slots__ = ("filters", "notices")

    def __init__(self, filters: tuple[CachedFilter, ...], notices: tuple[str, ...] = ()) -> None:
        self.filters, self.notices = tuple(filters), tuple(notices)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Entry) and (self.filters, self.notices) == (other.filters, other.notices)

    def __hash__(self) -> int:
        return hash((self.filters, self.notices))

    def __repr__(self) -> str:
        return f"Entry({self.filters!r}, {self.notices!r})"


def cache_dir() -> str:
    """``$XDG_CACHE_HOME/syswarden``, else ``/var/cache/syswarden`` for root, else ``~/.cache/syswarden``."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):
        return os.path.join(xdg, "syswarden")
    if os.geteuid() == 0:
        return "/var/cache/syswarden"
    return os.path.join(os.path.expanduser("~"), ".cache", "syswarden")


def code_digest() -> bytes:
    """SHA-256 of the syswarden version and of the name, size and modification time of every file of the
    packages that load, resolve and compile policies: any edit, upgrade or checkout of that code gives new keys.
    Stat data rather than contents, as Python's own bytecode cache checks its sources: reading and hashing
    every file cost more than the rest of a cached launch (``scandir``: one stat per file, names in order)."""
    global _code_digest
    if _code_digest is None:
        from syswarden import __version__
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        parts: list[str] = []
        for package in _PACKAGES:
            _stat_tree(os.path.join(root, package), package + "/", parts)
        digest = sha256(__version__.encode())
        digest.update("".join(parts).encode("utf-8", "surrogateescape"))
        _code_digest = digest.digest()
    return _code_digest


def _stat_tree(path: str, relative: str, parts: list[str]) -> None:
    """``\0NAME\0SIZE\0MTIME`` for every file under ``path`` (``__pycache__`` left out), depth first by name."""
    with os.scandir(path) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            if entry.name != "__pycache__":
                _stat_tree(entry.path, relative + entry.name + "/", parts)
        else:
            st = entry.stat()
            parts.append(f"\0{relative}{entry.name}\0{st.st_size}\0{st.st_mtime_ns}")


def make_key(parts: Iterable[bytes | str]) -> str:
    """The entry name for these compilation inputs (length-prefixed, so no two part lists collide)."""
    digest = sha256(MAGIC.encode())
    digest.update(code_digest())
    uname = os.uname()
    for part in (uname.machine, uname.release, *parts):
        data = part.encode("utf-8", "surrogateescape") if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def _trusted(st: os.stat_result) -> bool:
    """A directory nobody but us can add, rename or replace entries in."""
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and not st.st_mode & 0o022


def _holds_safe_links(st: os.stat_result) -> bool:
    """A directory whose symbolic links nobody else can swap: root's or ours, not writable by others."""
    return st.st_uid in (0, os.geteuid()) and not st.st_mode & 0o022


def open_dir(path: str, create: bool = False) -> int | None:
    """An fd on directory ``path``, walked from ``/`` without re-resolution (see the module docstring), or None.
    With ``create``, missing components are made (mode 0700) and opened by the same walk. The caller checks
    the result with ``fstat`` and closes it."""
    if not os.path.isabs(path):
        return None
    pending = [c for c in path.split("/") if c]
    links = 0
    fd = os.open("/", _DIR_FLAGS)
    try:
        while pending:
            name = pending.pop(0)
            if name == ".":
                continue
            nxt: int | None
            if name == "..":
                nxt = os.open("..", _DIR_FLAGS, dir_fd=fd)
            else:
                nxt = _open_component(fd, name, create)
                if nxt is None:                         # a symbolic link: follow it only from a safe directory
                    links += 1
                    if links > _MAX_SYMLINKS or not _holds_safe_links(os.fstat(fd)):
                        return None
                    target = os.readlink(name, dir_fd=fd)
                    pending = [c for c in target.split("/") if c] + pending
                    if target.startswith("/"):
                        os.close(fd)
                        fd = os.open("/", _DIR_FLAGS)
                    continue
            os.close(fd)
            fd = nxt
        result, fd = fd, -1
        return result
    except OSError:
        return None
    finally:
        if fd >= 0:
            os.close(fd)


def _open_component(fd: int, name: str, create: bool) -> int | None:
    """``name`` inside ``fd`` as a directory fd; None when it is a symbolic link. Raises OSError otherwise."""
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=fd)
    except FileNotFoundError:
        if not create:
            raise
        try:
            os.mkdir(name, 0o700, dir_fd=fd)
        except FileExistsError:
            pass                                         # made meanwhile: opened (and checked) like any other
        return os.open(name, _DIR_FLAGS, dir_fd=fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR) and stat.S_ISLNK(os.lstat(name, dir_fd=fd).st_mode):
            return None                                  # O_NOFOLLOW met a symbolic link
        raise


def _trusted_dir_fd(directory: str, create: bool) -> int | None:
    fd = open_dir(directory, create)
    if fd is None:
        return None
    try:
        if _trusted(os.fstat(fd)):
            return fd
    except OSError:
        pass
    os.close(fd)
    return None


def load(key: str, directory: str | None = None) -> Entry | None:
    """The entry for ``key``, or None when it is missing, untrusted (owner, mode, key) or malformed."""
    dir_fd = _trusted_dir_fd(directory or cache_dir(), create=False)
    if dir_fd is None:
        return None
    try:
        fd = os.open(key, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=dir_fd)
    except OSError:
        return None
    finally:
        os.close(dir_fd)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o077:
            return None
        data = os.read(fd, 1 << 20)
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
    dir_fd = _trusted_dir_fd(directory or cache_dir(), create=True)
    if dir_fd is None:
        return False
    try:
        tmp = f".tmp-{os.getpid()}-{os.urandom(6).hex()}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                         dir_fd=dir_fd)
        except OSError:
            return False
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(dump(entry, key))
            os.replace(tmp, key, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            return True
        except OSError:
            try:
                os.unlink(tmp, dir_fd=dir_fd)
            except OSError:
                pass
            return False
    finally:
        os.close(dir_fd)
