"""Landlock scopes (ABI 6): ``--scope signal|abstract-unix-socket`` and ``landlock: scope:`` keep signals and
abstract unix socket connections inside the sandbox."""
from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from syswarden.errors import InputError, PolicySyntaxError
from syswarden.kernel import landlock_abi
from syswarden.policy import landlock as pl
from syswarden.sandbox import landlock as ll
from syswarden.policy.load import load_policy_file as load_run_policy

from .conftest import syswarden

PYTHON = os.path.realpath(sys.executable)  # the interpreter itself, not a wrapper script that forks helpers


def _need_scopes() -> None:
    if landlock_abi.abi_version() < landlock_abi.SCOPE_MIN_ABI:
        pytest.skip("Landlock scopes need ABI 6 (Linux 6.12)")


def test_scope_flags_accept_repeats_and_comma_lists() -> None:
    spec = pl.spec_from_flags(scopes=("signal", "abstract-unix-socket,signal"))
    assert spec.scopes == ("abstract-unix-socket", "signal") and not spec.empty


def test_unknown_scope_is_an_input_error_naming_it() -> None:
    with pytest.raises(InputError, match="unknown Landlock scope 'ipc'"):
        pl.spec_from_flags(scopes=("signal,ipc",))


def test_scopes_degrade_below_abi_6_and_require_fails() -> None:
    """ABI 5 cannot scope: the report says so in the NOT enforced style, and --require-landlock turns it into an
    error; ABI 6 scopes both."""
    spec = pl.spec_from_flags(scopes=("signal",))
    old = ll.plan(spec, 5)
    assert not old.enforced
    assert old.not_enforced == (("scope signal (needs Landlock ABI 6, Linux 6.12; have 5): IPC out of the sandbox "
                                 "stays allowed"),)
    assert "landlock: NOT enforced: scope signal" in old.lines()[1]
    with pytest.raises(Exception, match="Landlock cannot enforce: scope signal"):
        ll.require(old, 5)
    new = ll.plan(pl.spec_from_flags(scopes=("signal", "abstract-unix-socket")), 6)
    assert new.scoped == landlock_abi.Scope.SIGNAL | landlock_abi.Scope.ABSTRACT_UNIX_SOCKET
    assert new.not_enforced == () and "scope signal" in new.lines()[0]


def test_policy_file_scope_list(tmp_path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("default: allow\nlandlock:\n  scope: [signal, abstract-unix-socket]\n")
    _, spec = load_run_policy(str(path))
    assert spec is not None and spec.scopes == ("abstract-unix-socket", "signal")


def test_policy_file_unknown_scope_points_at_it(tmp_path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("default: allow\nlandlock:\n  scope: [signal, ptrace]\n")
    with pytest.raises(PolicySyntaxError) as err:
        load_run_policy(str(path))
    assert "unknown landlock scope 'ptrace'" in str(err.value) and ":3:19" in str(err.value)


@pytest.fixture
def sleeper():
    proc = subprocess.Popen(["sleep", "60"])
    yield proc
    proc.kill()
    proc.wait()


def _kill(pid: int, *scope: str) -> subprocess.CompletedProcess[str]:
    return syswarden("run", "--fs-read", "/", *scope, "--", PYTHON, "-c", f"import os; os.kill({pid}, 15)")


@pytest.mark.kernel
def test_signal_scope_blocks_killing_a_process_outside(sleeper) -> None:
    """With --scope signal CMD cannot signal the test's sleep (EPERM); without it, it kills it."""
    _need_scopes()
    denied = _kill(sleeper.pid, "--scope", "signal")
    assert denied.returncode == 1 and "PermissionError" in denied.stderr, denied.stderr
    assert sleeper.poll() is None
    allowed = _kill(sleeper.pid)
    assert allowed.returncode == 0, allowed.stderr
    assert sleeper.wait(timeout=5) == -15


@pytest.mark.kernel
def test_signal_scope_from_a_policy_file_and_the_filter_cache(tmp_path, sleeper) -> None:
    """A policy file's scope: list is enforced; so is --scope on a run whose seccomp filter came from the
    filter cache (the second identical run)."""
    _need_scopes()
    policy = tmp_path / "p.yaml"
    policy.write_text("default: allow\nlandlock:\n  scope: [signal]\n")
    result = syswarden("run", "--policy", str(policy), "--", PYTHON, "-c", f"import os; os.kill({sleeper.pid}, 15)")
    assert result.returncode == 1 and "PermissionError" in result.stderr, result.stderr
    for _ in range(2):
        cached = _kill(sleeper.pid, "--profile", "docker-default", "--scope", "signal")
        assert cached.returncode == 1 and "PermissionError" in cached.stderr, cached.stderr
    assert sleeper.poll() is None


@pytest.mark.kernel
def test_abstract_unix_socket_scope_blocks_connecting_outside() -> None:
    """The test listens on an abstract socket: CMD cannot connect with the scope, can without."""
    _need_scopes()
    name = f"\0syswarden-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(name)
        server.listen(4)
        code = f"import socket; s = socket.socket(socket.AF_UNIX); s.connect({name!r}); print('connected')"
        denied = syswarden("run", "--fs-read", "/", "--scope", "abstract-unix-socket", "--", PYTHON, "-c", code)
        assert denied.returncode == 1 and "PermissionError" in denied.stderr, denied.stderr
        allowed = syswarden("run", "--fs-read", "/", "--", PYTHON, "-c", code)
        assert allowed.returncode == 0 and allowed.stdout == "connected\n", allowed.stderr


@pytest.mark.kernel
def test_scope_denials_are_explained(sleeper) -> None:
    """With ABI 7 the signal denial is named: who, whom, and the flag that scoped it."""
    _need_scopes()
    if landlock_abi.abi_version() < landlock_abi.AUDIT_MIN_ABI:
        pytest.skip("Landlock denials are logged from ABI 7")
    result = _kill(sleeper.pid, "--scope", "signal", "--landlock-audit")
    wanted = f"was denied scope.signal to pid {sleeper.pid} (sleep) outside its domain by Landlock (--scope signal)"
    assert any(line.endswith(wanted) for line in result.stderr.splitlines()), result.stderr
