"""What a new user gets back for a typo or a Falco habit (issue 13 §6, rules and config items), run as a user
runs syswarden (a subprocess)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FALCO = Path("/work/shared/anchors/falco") if Path("/work/shared/anchors/falco").is_dir() else \
    ROOT.parent / "shared" / "anchors" / "falco"
CAPTURE = FALCO / "captures" / "falco_cat_write.scap"
SINGLE_RULE = FALCO / "tests" / "rules" / "single_rule.yaml"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "syswarden", *args], capture_output=True, text=True, timeout=120)


def test_misspelled_config_key_gets_did_you_mean(tmp_path: Path) -> None:
    """A typo in falco.yaml (top level or in a section) names the key it probably meant, and -q, which quiets
    the summary, still shows what is wrong with the user's config."""
    conf = tmp_path / "falco.yaml"
    conf.write_text("json_ouptut: true\nfile_output:\n  enabeld: true\n")
    res = run("monitor", "-q", "-c", str(conf), "--replay", str(CAPTURE), "-r", str(SINGLE_RULE))
    assert res.returncode == 0, res.stderr
    assert f"{conf}:1:1: 'json_ouptut' is not a Falco setting; ignored, did you mean 'json_output'?" in res.stderr
    assert f"{conf}:3:3: 'file_output.enabeld' is not a Falco setting; ignored, did you mean 'enabled'?" \
        in res.stderr
    assert "events" not in res.stderr            # the summary is what -q hides


def test_disable_and_enable_tags_together_is_a_usage_error() -> None:
    """Falco refuses -D/-T with -t ("You can not specify both disabled (-D/-T) and enabled (-t) rules")."""
    for flags in (("-T", "a", "-t", "a"), ("-D", "open.*", "-t", "a")):
        res = run("monitor", "--replay", str(CAPTURE), "-r", str(SINGLE_RULE), *flags)
        assert res.returncode == 2, res.stderr
        assert "You can not specify both disabled (-D/-T) and enabled (-t) rules" in res.stderr


def test_rules_list_takes_files_as_arguments() -> None:
    """``rules list FILE`` reads FILE as ``rules validate FILE`` does (and -r still works)."""
    positional = run("rules", "list", str(SINGLE_RULE))
    flagged = run("rules", "list", "-r", str(SINGLE_RULE))
    assert positional.returncode == 0, positional.stderr
    assert positional.stdout == flagged.stdout
    assert positional.stdout.splitlines()[1].split()[0] == "open_from_cat"


def test_typos_in_fields_event_types_and_syscalls_get_suggestions() -> None:
    fmt = run("capture", "-r", str(CAPTURE), "-p", "%fd.nam")
    assert fmt.returncode == 2 and "invalid formatting token fd.nam, did you mean 'fd.name'" in fmt.stderr
    evt = run("capture", "-r", str(CAPTURE), "--filter", "evt.type=opneat")
    assert evt.returncode == 2 and "unknown event type opneat, did you mean 'openat'" in evt.stderr
    sys_ = run("syscalls", "ptrac")
    assert sys_.returncode == 2 and "unknown syscall 'ptrac': no supported architecture has it, did you mean " \
        "'ptrace'?" in sys_.stderr


def test_unclosed_quote_in_config_points_where_it_opened(tmp_path: Path) -> None:
    conf = tmp_path / "falco.yaml"
    conf.write_text('priority: "warning\njson_output: true\n')
    res = run("monitor", "-c", str(conf), "--replay", str(CAPTURE))
    assert res.returncode == 2
    assert f"{conf}:1:11: malformed YAML: the quoted string opened here is never closed" in res.stderr
