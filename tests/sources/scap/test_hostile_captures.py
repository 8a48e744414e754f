"""Hostile capture files: damaged gzip streams, decompression bombs, lying length fields, files that are not
files. Each gives a clean CaptureError (after every event before the damage), in bounded time and memory."""
from __future__ import annotations

import gzip
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from syswarden.errors import CaptureError
from tests.peak import PEAK_KB_EXPR
from syswarden.sources.base import SourceConfig
from syswarden.sources.scap import blocks as B
from syswarden.sources.scap.reader import ScapSource
from syswarden.sources.scap.stream import load_bytes

from .scap_oracle import capture_path


def _events(path: Path, **options: str) -> tuple[list[tuple], ScapSource]:
    src = ScapSource(SourceConfig(path=str(path), options=dict(options)))
    return [(e.num, e.type, e.dir, e.params) for e in src.events()], src


def _flipped(packed: bytes) -> tuple[bytes, int]:
    """``packed`` with one byte of its deflate data flipped where zlib notices within a few KB (not only at the
    end, by the checksum): the first such position after a third of the stream, scanning deterministically."""
    for at in range(len(packed) // 3, len(packed) - 8):
        damaged = packed[:at] + bytes([packed[at] ^ 0xFF]) + packed[at + 1:]
        try:
            zlib.decompressobj(wbits=31).decompress(damaged[:at + 4096])
        except zlib.error:
            return damaged, at
    raise AssertionError("no byte flip made zlib fail")


def test_flipped_gzip_byte_keeps_the_events_before_it(tmp_path: Path) -> None:
    """A flipped byte in a .scap.gz: every event inflated before the damage is delivered, the damage is counted
    as one skipped record and named (gzip, compressed offset, how far the capture was read); no zlib.error."""
    raw = load_bytes(str(capture_path("sysdig-inspect_502Error.scap")))
    packed = gzip.compress(raw)
    damaged, at = _flipped(packed)
    path = tmp_path / "flip.scap.gz"
    path.write_bytes(damaged)
    plain = tmp_path / "full.scap"
    plain.write_bytes(raw)
    full, _ = _events(plain)
    got, src = _events(path, on_error="stop")
    assert got and got == full[:len(got)] and len(got) < len(full)
    assert src.stats.skipped == 1 and src.error is not None
    message = str(src.error)
    # the damage is named where the reader stopped: at the end of the good data, or at the first block zlib's
    # output before it noticed made corrupt
    assert "damaged gzip data" in message and "byte offset" in message
    near = int(message.split("compressed byte offset ")[1].split(")")[0])
    assert at - 64 <= near <= at + 4096
    with pytest.raises(CaptureError, match="gzip"):      # without on_error=stop: raised after the events
        _events(path)


def test_concatenated_gzip_members_read_as_one(tmp_path: Path) -> None:
    """A capture gzipped in two members (cat a.gz b.gz) reads as the whole capture, as gzip -d gives it."""
    raw = load_bytes(str(capture_path("falco_cat_write.scap")))
    half = len(raw) // 2
    path = tmp_path / "two.scap.gz"
    path.write_bytes(gzip.compress(raw[:half]) + gzip.compress(raw[half:]) + b"\0" * 8)
    plain = tmp_path / "plain.scap"
    plain.write_bytes(raw)
    got, src = _events(path)
    assert got == _events(plain)[0] and src.stats.skipped == 0


def test_trailing_garbage_after_gzip_is_damage(tmp_path: Path) -> None:
    """Bytes after the gzip stream that are no gzip member: the events are all delivered, then the damage."""
    raw = load_bytes(str(capture_path("falco_cat_write.scap")))
    path = tmp_path / "tail.scap.gz"
    path.write_bytes(gzip.compress(raw) + b"garbage!")
    got, src = _events(path, on_error="stop")
    assert len([e for e in got if e[0]]) == 345 and src.stats.skipped == 1
    assert "trailing data after the gzip stream" in str(src.error)


def _peak_mb_of(code: str) -> tuple[int, str]:
    """Run ``code`` in a child Python; (its peak RSS in MB, its stderr)."""
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys\n"
                          f"print({PEAK_KB_EXPR} // 1024, file=sys.stderr)"],
                         capture_output=True, text=True, timeout=120)
    lines = out.stderr.strip().splitlines()
    return int(lines[-1]), "\n".join(lines[:-1])


@pytest.mark.parametrize("name", ["zeros.scap.gz", "zeros.txt"])
def test_gzip_of_zeros_is_refused_without_inflating_it(tmp_path: Path, name: str) -> None:
    """3 MB of gzip that inflates to 3 GB of zeros: refused at byte 0 in bounded memory (it took 6.3 GB), by
    capture -r and by monitor --replay, whatever the suffix."""
    co = zlib.compressobj(9, zlib.DEFLATED, 31)
    path = tmp_path / name
    with path.open("wb") as fh:
        for _ in range(48):
            fh.write(co.compress(bytes(64 << 20)))
        fh.write(co.flush())
    assert path.stat().st_size > 3_000_000
    code = ("from syswarden.cli.main import main\nimport sys\n"
            f"try:\n    main(['capture', '-r', {str(path)!r}])\nexcept SystemExit as e:\n"
            "    print('exit', e.code, file=sys.stderr)")
    peak, err = _peak_mb_of(code)
    assert "exit 2" in err and ("not a scap capture" in err or "cannot tell the format" in err)
    assert "Traceback" not in err
    assert peak < 200, peak
    res = subprocess.run([sys.executable, "-m", "syswarden", "monitor", "--replay", str(path)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "Traceback" not in res.stderr


def _capture(*blocks: tuple[int, bytes]) -> bytes:
    out = b""
    for btype, body in ((B.BlockType.SHB, struct.pack("<IHHq", B.SHB_MAGIC, 1, 2, -1)), *blocks):
        pad = b"\0" * (-len(body) % 4)
        total = 12 + len(body) + len(pad)
        out += struct.pack("<II", btype, total) + body + pad + struct.pack("<I", total)
    return out


@pytest.mark.parametrize("btype,limit", [(B.BlockType.PL_V9, B.MAX_BLOCK),
                                         (B.BlockType.EV_V2_LARGE, B.MAX_EVENT_BLOCK)])
def test_a_length_field_over_the_limit_is_refused_before_reading(tmp_path: Path, btype: int, limit: int) -> None:
    """A block header claiming more than a block may hold is an error at its offset, naming the limit, before
    anything of the block is read or waited for (a gzip stream of zeros behind it is never inflated)."""
    header = _capture()[: 28] + struct.pack("<II", btype, (limit + 4 + 0xFFF) & ~3)
    path = tmp_path / "liar.scap.gz"
    co = zlib.compressobj(9, zlib.DEFLATED, 31)
    path.write_bytes(co.compress(header) + co.compress(bytes(8 << 20)) + co.flush())
    with pytest.raises(CaptureError, match=rf"byte offset 28: length \d+ is over the {limit} bytes"):
        list(ScapSource(SourceConfig(path=str(path))).events())


def test_blocks_longer_than_a_window_are_read_whole(tmp_path: Path) -> None:
    """A metadata block larger than the reading window (a big process list) is read across windows."""
    from syswarden.sources.scap import stream

    raw = load_bytes(str(capture_path("falco_cat_write.scap")))
    path = tmp_path / "c.scap"
    path.write_bytes(raw)
    whole, _ = _events(path)
    saved = stream.WINDOW
    stream.WINDOW = 64          # every block straddles windows
    try:
        assert _events(path)[0] == whole
    finally:
        stream.WINDOW = saved


def test_non_regular_files_are_refused(tmp_path: Path) -> None:
    """A FIFO (which would hang a reader) and a device (which never ends) are refused by name, at once."""
    fifo = tmp_path / "pipe.scap"
    os.mkfifo(fifo)
    for path, kind in ((fifo, "a FIFO"), (Path("/dev/zero"), "a character device"), (tmp_path, "a directory")):
        with pytest.raises(CaptureError, match=f"{kind}, not a regular file"):
            ScapSource(SourceConfig(path=str(path)))
    res = subprocess.run([sys.executable, "-m", "syswarden", "monitor", "--replay", str(fifo), "--source",
                          "replay"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "FIFO, not a regular file" in res.stderr


def test_renamed_capture_is_read_by_its_content(tmp_path: Path) -> None:
    """capture -r renamed.txt reads a scap capture by its magic (gzipped or not) as its .scap name would."""
    src = capture_path("falco_cat_write.scap")
    renamed = tmp_path / "renamed.txt"
    renamed.write_bytes(src.read_bytes())
    plain = tmp_path / "plain.log"
    plain.write_bytes(load_bytes(str(src)))
    runs = [subprocess.run([sys.executable, "-m", "syswarden", "capture", "-r", str(p), "-p", "*%evt.num %evt.type",
                            "evt.type=open"], capture_output=True, text=True, timeout=60)
            for p in (src, renamed, plain)]
    assert all(r.returncode == 0 for r in runs), [r.stderr for r in runs]
    assert runs[0].stdout and runs[0].stdout == runs[1].stdout == runs[2].stdout


def test_peak_memory_helper_measures_the_child() -> None:
    """The peak-memory measure above sees a 100 MB allocation of the child (so a small peak means something)."""
    peak, _ = _peak_mb_of("x = bytearray(100 << 20)\nx[::4096] = b'1' * len(x[::4096])")
    assert 100 <= peak < 400
