"""Helpers for the scap tests: where the real captures are, and sysdig 0.29 as an oracle with an on-disk cache."""
from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

CAPTURES = Path(__file__).resolve().parents[3] / ".." / "shared" / "anchors" / "falco" / "captures"
# libs_curl_google_comments.scap is the same events as libs_curl_google.scap; sysdig 0.29 cannot open it
ALL_CAPTURES = sorted(p.name for p in CAPTURES.glob("*.scap")) if CAPTURES.is_dir() else []


def capture_path(name: str) -> Path:
    path = CAPTURES / name
    if not path.is_file():
        pytest.skip(f"capture {name} not available at {CAPTURES}")
    return path


class Sysdig:
    """Runs ``sysdig -r`` and caches each answer on disk for the session."""

    def __init__(self, cache: Path) -> None:
        self.cache = cache

    def lines(self, capture: Path, fmt: str, filt: str = "") -> list[str]:
        key = hashlib.sha256(f"{capture}\0{fmt}\0{filt}".encode()).hexdigest()[:24]
        hit = self.cache / key
        if hit.exists():
            return hit.read_text().splitlines()
        cmd = ["sysdig", "-r", str(capture), "-p", fmt] + ([filt] if filt else [])
        proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"sysdig failed ({proc.returncode}): {proc.stderr.strip()[:300]}")
        out = [line for line in proc.stdout.splitlines() if line.strip()]
        hit.write_text("\n".join(out) + ("\n" if out else ""))
        return out

