"""The filter cache of `syswarden run`: a hit installs exactly what a fresh compile gives, anything that changes
the filters changes the key, and an entry someone else could have written is never installed.

Every run is a real `syswarden run` child under the real kernel, with XDG_CACHE_HOME in tmp_path."""
from __future__ import annotations

import os
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from syswarden.policy import profiles
from syswarden.sandbox import filter_cache, launcher

from .conftest import SYSWARDEN

pytestmark = pytest.mark.kernel

PY = sys.executable
BIND = "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print('bound')"
UNSHARE = ["unshare", "--user", "true"]
ALLOW_ALL = struct.pack("<HBBI", 0x06, 0, 0, 0x7FFF0000)  # ret SECCOMP_RET_ALLOW
NOBODY = 65534
# Modules a cache hit must not load (the point of the cache), and ones `run` never needs.
COMPILE_PATH = ("syswarden.seccomp.compiler", "syswarden.policy.formats.docker", "syswarden.policy.load", "yaml",
                "syswarden.policy.model", "syswarden.sandbox.landlock", "importlib.resources")
NEVER = ("syswarden.rules", "syswarden.sources", "syswarden.state", "syswarden.seccomp.disasm")


def run(cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    return subprocess.run([*SYSWARDEN, "run", *args], capture_output=True, text=True, timeout=60, env=env)


def entries(cache: Path) -> list[Path]:
    directory = cache / "syswarden"
    return sorted(p for p in directory.iterdir() if not p.name.startswith(".")) if directory.exists() else []


def only_entry(cache: Path) -> Path:
    (entry,) = entries(cache)
    return entry


def loaded_modules(cache: Path, *args: str) -> tuple[int, set[str]]:
    """Exit code of `syswarden run ARGS` in a child, and the syswarden/yaml modules it had imported at exit."""
    code = textwrap.dedent(f"""
        import atexit, sys
        atexit.register(lambda: print("\\n".join(sys.modules), file=sys.stderr))
        sys.argv = ["syswarden", "run", *{list(args)!r}]
        from syswarden.cli.main import main
        main()
    """)
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    result = subprocess.run([PY, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    return result.returncode, set(result.stderr.split())


def fresh_images(*names: str) -> list[bytes]:
    launch = launcher.prepare(["true"], [profiles.load(n) for n in names])
    return [f.image for f in launch.filters]


def test_hit_installs_the_bytes_of_a_fresh_compile(tmp_path: Path) -> None:
    """The stored image is what compiling docker-default gives, and the second run uses it (no compiler loaded)."""
    code, first = loaded_modules(tmp_path, "-q", "--profile", "docker-default", "--", "true")
    assert code == 0 and "syswarden.seccomp.compiler" in first
    entry = filter_cache.load(only_entry(tmp_path).name, str(tmp_path / "syswarden"))
    assert entry is not None
    assert [f.image for f in entry.filters] == fresh_images("docker-default")
    code, second = loaded_modules(tmp_path, "-q", "--profile", "docker-default", "--", "true")
    assert code == 0
    assert not second & set(COMPILE_PATH), sorted(second & set(COMPILE_PATH))


def test_run_never_imports_the_auditing_side(tmp_path: Path) -> None:
    """Neither a miss nor a hit loads the rules engine, sources or state."""
    for _ in range(2):
        code, modules = loaded_modules(tmp_path, "-q", "--profile", "docker-default", "--", "true")
        assert code == 0
        assert not {m for m in modules if m.startswith(NEVER)}, sorted(m for m in modules if m.startswith(NEVER))


def test_entry_and_directory_are_private(tmp_path: Path) -> None:
    """The directory is 0700 and entries 0600, owned by us; no temporary file is left behind."""
    assert run(tmp_path, "--profile", "docker-default", "--", "true").returncode == 0
    directory = tmp_path / "syswarden"
    assert directory.stat().st_mode & 0o777 == 0o700
    entry = only_entry(tmp_path)
    assert entry.stat().st_mode & 0o777 == 0o600 and entry.stat().st_uid == os.geteuid()
    assert [p.name for p in directory.iterdir()] == [entry.name]


def test_blocked_syscall_stays_blocked_on_a_hit(tmp_path: Path) -> None:
    """docker-default denies unshare(CLONE_NEWUSER) with EPERM, from a fresh compile and from the cache."""
    for _ in range(2):
        result = run(tmp_path, "-q", "--profile", "docker-default", "--", *UNSHARE)
        assert result.returncode == 1 and "Operation not permitted" in result.stderr, result.stderr
    assert len(entries(tmp_path)) == 1


def test_exit_code_passes_through_on_a_hit(tmp_path: Path) -> None:
    for _ in range(2):
        assert run(tmp_path, "-q", "--profile", "docker-default", "--", "sh", "-c", "exit 7").returncode == 7


def test_kill_is_explained_on_a_hit(tmp_path: Path) -> None:
    """A kill under a cached filter is still explained: the policies are rebuilt for the explanation."""
    for _ in range(2):
        result = run(tmp_path, "--drop", "bind", "--", PY, "-c", BIND)
        assert result.returncode == -31 and "bound" not in result.stdout
        assert "is denied by the --drop/--allow flags, rule 1 '--drop'" in result.stderr, result.stderr
    assert len(entries(tmp_path)) == 1


def test_an_option_changes_the_key(tmp_path: Path) -> None:
    """--errno changes the filter: it gets its own entry and its own behaviour."""
    assert run(tmp_path, "--drop", "bind", "--", PY, "-c", BIND).returncode == -31
    result = run(tmp_path, "--drop", "bind", "--errno", "EPERM", "--", PY, "-c",
                 f"try:\n    {BIND}\nexcept PermissionError:\n    print('eperm')")
    assert result.returncode == 0 and result.stdout.strip() == "eperm", result.stderr
    assert len(entries(tmp_path)) == 2


def test_a_changed_policy_file_is_recompiled(tmp_path: Path) -> None:
    """Editing the --policy file gives a new key, so the new content is enforced."""
    cache, policy = tmp_path / "cache", tmp_path / "p.yaml"
    policy.write_text("default: allow\nrules:\n  - syscalls: [getppid]\n    action: kill_process\n")
    assert run(cache, "--policy", str(policy), "--", PY, "-c", BIND).returncode == 0
    assert run(cache, "--policy", str(policy), "--", PY, "-c", BIND).returncode == 0
    policy.write_text("default: allow\nrules:\n  - syscalls: [bind]\n    action: kill_process\n")
    result = run(cache, "--policy", str(policy), "--", PY, "-c", BIND)
    assert result.returncode == -31 and "bound" not in result.stdout
    assert f"rule 1 at {policy}:3:5" in result.stderr, result.stderr
    assert len(entries(cache)) == 2


def test_no_cache_neither_reads_nor_writes(tmp_path: Path) -> None:
    assert run(tmp_path, "--no-cache", "--profile", "docker-default", "--", "true").returncode == 0
    assert entries(tmp_path) == []


def _swap_in_allow_all(entry: Path) -> None:
    """Rewrite ``entry`` as a well-formed entry for its own key whose filter allows everything."""
    parsed = filter_cache.load(entry.name, str(entry.parent))
    assert parsed is not None
    swapped = filter_cache.Entry((filter_cache.CachedFilter(ALLOW_ALL, 0, 0),))
    entry.write_bytes(filter_cache.dump(swapped, entry.name))


def test_own_entry_is_trusted(tmp_path: Path) -> None:
    """Control for the tests below: an entry owned by us, 0600, under its key, is what gets installed."""
    assert run(tmp_path, "-q", "--profile", "docker-default", "--", "true").returncode == 0
    entry = only_entry(tmp_path)
    _swap_in_allow_all(entry)
    os.chmod(entry, 0o600)
    assert run(tmp_path, "-q", "--profile", "docker-default", "--", *UNSHARE).returncode == 0


@pytest.mark.parametrize("tamper", ["foreign owner", "group writable", "world readable", "garbage",
                                    "other key", "symlink", "shared directory"])
def test_untrusted_entry_is_recompiled(tmp_path: Path, tamper: str) -> None:
    """An allow-all filter planted where it could have come from someone else is ignored: unshare stays denied,
    and the entry is rebuilt from the policy (owner, mode 0600, docker-default's image)."""
    if os.geteuid() != 0 and tamper == "foreign owner":
        pytest.skip("chown to another user needs root")
    assert run(tmp_path, "-q", "--profile", "docker-default", "--", "true").returncode == 0
    entry = only_entry(tmp_path)
    key = entry.name
    _swap_in_allow_all(entry)
    if tamper == "foreign owner":
        os.chown(entry, NOBODY, NOBODY)
    elif tamper == "group writable":
        os.chmod(entry, 0o620)
    elif tamper == "world readable":
        os.chmod(entry, 0o604)
    elif tamper == "garbage":
        entry.write_bytes(b"syswarden-filter-cache 1\nkey " + key.encode() + b"\nfilters 1\nfilter 0 0 zz\nend")
    elif tamper == "other key":
        other = filter_cache.Entry((filter_cache.CachedFilter(ALLOW_ALL, 0, 0),))
        entry.write_bytes(filter_cache.dump(other, "0" * 64))
    elif tamper == "symlink":
        planted = tmp_path / "planted"
        entry.rename(planted)
        entry.symlink_to(planted)
    elif tamper == "shared directory":
        os.chmod(entry.parent, 0o777)
    result = run(tmp_path, "-q", "--profile", "docker-default", "--", *UNSHARE)
    assert result.returncode == 1 and "Operation not permitted" in result.stderr, (tamper, result.stderr)
    if tamper == "shared directory":
        return  # nothing is stored in a directory others can write
    rebuilt = Path(tmp_path / "syswarden" / key)
    assert not rebuilt.is_symlink() and rebuilt.stat().st_uid == os.geteuid()
    assert rebuilt.stat().st_mode & 0o777 == 0o600
    fresh = filter_cache.load(key, str(rebuilt.parent))
    assert fresh is not None and [f.image for f in fresh.filters] == fresh_images("docker-default")


def test_parse_refuses_malformed_entries() -> None:
    """Round trip, and every damaged variant gives None rather than a filter."""
    good = filter_cache.Entry((filter_cache.CachedFilter(ALLOW_ALL * 2, 2, 0),), ("a warning: \u00e9",))
    key = "ab" * 32
    data = filter_cache.dump(good, key)
    assert filter_cache.parse(data, key) == good
    damaged = [
        data[:-4],                                          # truncated: no end line
        data.replace(b"filters 1", b"filters 2"),           # count disagrees
        data.replace(ALLOW_ALL.hex().encode(), b"00"),      # not whole instructions
        data.replace(b"syswarden-filter-cache 1", b"syswarden-filter-cache 0"),
        data.replace(b"notice ", b"nothing "),
        b"\xff" + data,
    ]
    for bad in damaged:
        assert filter_cache.parse(bad, key) is None, bad
    assert filter_cache.parse(data, "cd" * 32) is None
    too_big = filter_cache.Entry((filter_cache.CachedFilter(ALLOW_ALL * 4097, 0, 0),))
    assert filter_cache.parse(filter_cache.dump(too_big, key), key) is None


def test_policy_warnings_are_printed_on_a_hit(tmp_path: Path) -> None:
    """A --policy file's warnings come from the entry when the policy is not loaded (and -q still hides them)."""
    cache, policy = tmp_path / "cache", tmp_path / "docker.json"
    policy.write_text('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["nosuchcall_xyz", "bind"], '
                      '"action": "SCMP_ACT_KILL_PROCESS"}]}')
    outputs = [run(cache, "--policy", str(policy), "--", "true") for _ in range(2)]
    assert [r.returncode for r in outputs] == [0, 0]
    assert "unknown syscall 'nosuchcall_xyz'" in outputs[0].stderr
    assert outputs[1].stderr == outputs[0].stderr
    assert len(entries(cache)) == 1
    assert run(cache, "-q", "--policy", str(policy), "--", "true").stderr == ""
