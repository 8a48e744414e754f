"""The light launch path of `syswarden run` (issue 13 §7): for every command line it accepts it reads the same
values click does, everything else is left to click (help, errors, the other options), and a cached launch
imports neither click nor the compiler while behaving as the full command."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from syswarden.cli import fast_run
from syswarden.cli.run_cmd import run as click_run
from tests.cli.launches import launch, loaded_modules

PY = sys.executable

ACCEPTED = [
    ["--profile", "docker-default", "--", "true"],
    ["--profile=docker-default", "true", "-x"],
    ["--policy", "a.yaml", "--policy", "b.json", "--drop", "bind,connect", "--allow", "@basic-io", "--", "cmd"],
    ["--drop", "ptrace", "--errno", "EPERM", "--errno", "EACCES", "--default-action", "allow", "-q", "-v", "ls"],
    ["--exec", "--quiet", "--verbose", "--drop=ptrace", "--", "--looks-like-an-option"],
    ["--profile", "docker-default", "sh", "-c", "--drop x"],
    ["--drop", "ptrace", "-", "true"],
]
REFUSED = [
    ["--help"], ["-h"], ["--profile", "docker-default"], ["--profile", "docker-default", "--"], [],
    ["--log", "--drop", "bind", "--", "true"], ["--no-cache", "--profile", "x", "--", "true"],
    ["--fs-read", "/usr", "--", "true"], ["--net-bind", "80", "--", "true"], ["--scope", "signal", "--", "true"],
    ["--apparmor", "p", "--", "true"], ["--require-landlock", "3", "--", "true"], ["--landlock-audit", "true"],
    ["-qv", "--drop", "x", "--", "true"], ["--drop", "--", "true"], ["--dorp", "x", "--", "true"],
    ["--drop", "-x", "--", "true"],
]
FIELDS = ("policy_files", "profile_names", "drop", "allow", "default_action", "errno_name", "in_place", "quiet",
          "verbose", "cmd")


@pytest.mark.parametrize("args", ACCEPTED, ids=" ".join)
def test_accepted_command_lines_read_as_click_reads_them(args: list[str]) -> None:
    parsed = fast_run.parse(args)
    assert parsed is not None
    params = click_run.make_context("run", list(args)).params
    for name in FIELDS:
        ours = getattr(parsed, name)
        assert (tuple(ours) if isinstance(ours, list) else ours) == params[name], name
    assert not params["dry_run"] and not params["no_cache"] and params["require_landlock"] is None


@pytest.mark.parametrize("args", REFUSED, ids=lambda a: " ".join(a) or "empty")
def test_everything_else_is_left_to_click(args: list[str]) -> None:
    assert fast_run.parse(args) is None


def _sw(cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    return subprocess.run([PY, "-m", "syswarden", *args], capture_output=True, text=True, timeout=60, env=env)


def test_help_and_usage_errors_are_clicks(tmp_path: Path) -> None:
    helped = _sw(tmp_path, "run", "--help")
    assert helped.returncode == 0 and "Usage: syswarden run [OPTIONS] -- CMD [ARGS]..." in helped.stdout
    assert "--profile NAME" in helped.stdout and "--landlock-audit" in helped.stdout
    missing = _sw(tmp_path, "run", "--profile", "docker-default")
    assert missing.returncode == 2 and "Missing argument" in missing.stderr
    typo = _sw(tmp_path, "run", "--porfile", "docker-default", "--", "true")
    assert typo.returncode == 2 and "No such option: --porfile" in typo.stderr


def test_cached_launch_imports_no_click_and_behaves_the_same(tmp_path: Path) -> None:
    """The second run hits the cache: exit status, kill explanation and warnings as on the first (full) run."""
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    args = ["run", "--drop", "bind", "--", PY, "-c", "import socket; socket.socket().bind(('127.0.0.1', 0))"]
    first, second = launch(args, env), launch(args, env)
    assert first.returncode == second.returncode == -31, (first.stderr, second.stderr)

    def lines(result: subprocess.CompletedProcess[str]) -> list[str]:
        return [line.split("(pid")[0] + line.split(")", 1)[1] for line in result.stderr.splitlines()
                if line.startswith("syswarden:")]
    assert lines(first) == lines(second) and lines(first), first.stderr
    # a process killed by a signal runs no atexit hook: the modules are listed by runs that exit
    heavy = {"click", "syswarden.seccomp.compiler", "syswarden.policy.load", "yaml", "dataclasses", "typing",
             "hashlib"}
    quiet = ["run", "-q", "--drop", "bind", "--", "true"]
    full, cached = launch(quiet, env), launch(quiet, env)
    assert full.returncode == cached.returncode == 0
    loaded = loaded_modules(cached)
    assert not loaded & heavy, sorted(loaded & heavy)
