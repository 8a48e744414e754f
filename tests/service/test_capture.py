"""The capture pipelines (service/capture.py) below the CLI: what they read, count and leave behind."""
from __future__ import annotations

from pathlib import Path

import pytest

from syswarden.errors import InputError
from syswarden.service.capture import read_capture, record
from tests.sources.scap.scap_oracle import capture_path


def test_read_capture_limits_and_filters() -> None:
    """-n N prints N lines (0 prints none); a filter keeps only its events, with the sysdig-style line."""
    path = str(capture_path("falco_cat_write.scap"))
    assert list(read_capture(path, "", "%evt.num", limit=0)) == []
    assert list(read_capture(path, "", "*%evt.num", limit=3)) == ["131", "132", "133"]
    assert set(read_capture(path, "evt.type=open", "*%evt.type")) == {"open"}


def test_record_leaves_no_file_when_the_source_cannot_start(tmp_path: Path) -> None:
    """A recording whose source fails to start is not left behind half-made (a file that was there is kept)."""
    out = tmp_path / "never.scap"
    with pytest.raises(InputError, match="unknown source"):
        record(str(out), ["true"], "no-such-source")
    assert not out.exists()
    kept = tmp_path / "kept.jsonl"
    kept.write_text("old\n")
    with pytest.raises(InputError):
        record(str(kept), ["true"], "no-such-source")
    assert kept.exists()
