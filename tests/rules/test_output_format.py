"""Output strings: %field substitution with greedy back-off, arguments, <NA>, typed JSON values."""
from __future__ import annotations

import pytest

from syswarden.rules.output_format import OutputFormat, OutputFormatError
from syswarden.testing import event, file_fd, thread


@pytest.fixture()
def ev():
    """cat (child of bash, child of sshd) opening /etc/shadow for reading."""
    sshd = thread(10, comm="sshd", exepath="/usr/sbin/sshd")
    bash = thread(20, comm="bash", exepath="/usr/bin/bash", parent=sshd)
    cat = thread(30, comm="cat", exepath="/usr/bin/cat", args=["/etc/shadow"], parent=bash)
    return event("openat", cat, params={"fd": 3, "dirfd": -100, "name": "/etc/shadow", "flags": 1, "mode": 0},
                 res=3, fd=file_fd(3, "/etc/shadow", flags=1))


def test_plain_fields(ev) -> None:
    """Fields are substituted in place; literal text around them is kept."""
    text, fields = OutputFormat("open by %proc.name (cmd=%proc.cmdline) file=%fd.name").render(ev)
    assert text == "open by cat (cmd=cat /etc/shadow) file=/etc/shadow"
    assert fields == {"proc.name": "cat", "proc.cmdline": "cat /etc/shadow", "fd.name": "/etc/shadow"}


def test_greedy_back_off(ev) -> None:
    """A field followed by punctuation or a trailing dot still resolves to the longest known field."""
    text, _ = OutputFormat('"%fd.name" (%proc.name). %proc.pname.').render(ev)
    assert text == '"/etc/shadow" (cat). bash.'


def test_field_arguments(ev) -> None:
    """%proc.aname[N] picks one ancestor and keys output_fields with the argument."""
    text, fields = OutputFormat("gp=%proc.aname[2] p=%proc.aname[1]").render(ev)
    assert text == "gp=sshd p=bash"
    assert set(fields) == {"proc.aname[2]", "proc.aname[1]"}


def test_missing_value_is_na(ev) -> None:
    """A field with no value prints <NA> and is null in JSON."""
    text, fields = OutputFormat("ggp=%proc.aname[7] sport=%fd.sport").render(ev)
    assert text == "ggp=<NA> sport=<NA>"
    assert fields == {"proc.aname[7]": None, "fd.sport": None}


def test_typed_json_values(ev) -> None:
    """Numbers stay numbers in output_fields."""
    _, fields = OutputFormat("%fd.num %evt.rawres %user.uid").render(ev)
    assert fields == {"fd.num": 3, "evt.rawres": 3, "user.uid": 0}


def test_unknown_field_is_rejected() -> None:
    """An unknown %token fails with Falco's message."""
    with pytest.raises(OutputFormatError, match=r"^invalid formatting token not_a_real_field$"):
        OutputFormat("Some output %not_a_real_field")


def test_trailing_percent_is_rejected() -> None:
    """A format cannot end with %."""
    with pytest.raises(OutputFormatError, match="formatting cannot end with a %"):
        OutputFormat("ratio 100%")


SYSDIG_FORMAT = ("%evt.num %evt.type user_loginuid=%user.loginuid process=%proc.name parent=%proc.pname "
                 "command=%proc.cmdline terminal=%proc.tty gparent=%proc.aname[2] file=%fd.name (%fd.name) "
                 "flags=%evt.arg.flags. rport=%fd.rport proto=%fd.l4proto res=%evt.res")


@pytest.mark.parametrize("capture,condition", [
    ("falco_cat_write.scap", "evt.type in (open, openat, execve) and evt.dir = <"),
    ("falco_open-multiple-files.scap", "evt.type in (open, openat) and evt.dir = <"),
])
def test_rendering_matches_sysdig(capture: str, condition: str) -> None:
    """On real captures, our %field rendering prints exactly what sysdig -p prints, line for line."""
    import shutil
    import subprocess
    from pathlib import Path

    from syswarden.rules.compiler import compile_condition
    from syswarden.rules.filter.parser import parse
    from syswarden.sources.base import SourceConfig, open_source
    from syswarden.state import State

    path = Path(__file__).resolve().parents[3] / "shared" / "anchors" / "falco" / "captures" / capture
    if not path.exists():
        path = Path("/work/shared/anchors/falco/captures") / capture
    if shutil.which("sysdig") is None or not path.exists():
        pytest.skip("sysdig or the shared captures are not available")
    peer = subprocess.run(["sysdig", "-r", str(path), "-p", "*" + SYSDIG_FORMAT, condition], capture_output=True,
                          text=True, timeout=120, check=True).stdout.splitlines()
    source = open_source("scap", SourceConfig(path=str(path)))
    state, fmt = State(), OutputFormat(SYSDIG_FORMAT)
    match = compile_condition(parse(condition)).predicate
    state.seed(source.initial_threads())
    ours = [fmt.render(ev)[0] for ev in map(state.apply, source.events()) if not ev.state_only and match(ev)]
    source.close()
    assert len(peer) > 3
    assert ours == peer
