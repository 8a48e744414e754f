"""Helpers for the service tests: a rules file, a JSONL recording with many events, a live monitor process."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

SYSWARDEN = [sys.executable, "-m", "syswarden"]


def rules_file(path: Path, prefix: str, *, rule: str = "Test file opened", marker: str = "") -> Path:
    path.write_text(f"""
- rule: {rule}
  desc: a file under the test's directory was opened
  condition: evt.type in (open, openat) and fd.name startswith "{prefix}"
  output: {marker}opened %fd.name by %proc.name
  priority: WARNING
""")
    return path


def recording(path: Path, events: int, *, every: int = 10, host: str = "rec-host") -> Path:
    """``events`` openat events by one cat; every ``every``-th opens /tmp/hit/N (the rule's prefix)."""
    lines = [json.dumps({"syswarden_replay": 1, "hostname": host}),
             json.dumps({"kind": "thread", "tid": 700, "pid": 700, "ptid": 1, "comm": "cat",
                         "exepath": "/usr/bin/cat", "args": ["x"]})]
    for i in range(events):
        name = f"/tmp/hit/{i}" if i % every == 0 else f"/usr/lib/miss/{i}"
        lines.append(json.dumps({"kind": "event", "num": i + 1, "ts": 1_700_000_000_000_000_000 + i * 1000,
                                 "tid": 700, "type": "openat", "params": {"fd": 3, "dirfd": -100, "name": name,
                                                                          "flags": 0, "mode": 0}, "res": 3}))
    path.write_text("\n".join(lines) + "\n")
    return path


def start_monitor(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([*SYSWARDEN, "monitor", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "TZ": "UTC", **(env or {})})


def stop_monitor(proc: subprocess.Popen[str]) -> None:
    """SIGTERM, as systemd stops the service; read what it still prints on stdout and wait for it to exit (its
    stderr is the caller's, often read by a thread)."""
    proc.send_signal(signal.SIGTERM)
    assert proc.stdout is not None
    proc.stdout.read()
    proc.wait(timeout=60)


def kill_if_running(proc: subprocess.Popen[str]) -> None:
    """The cleanup of a test that failed before its monitor stopped: no monitor outlives its test."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def wait_for_lines(path: Path, count: int, timeout: float = 30) -> list[str]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= count:
            return lines
        time.sleep(0.05)
    raise AssertionError(f"{path} has fewer than {count} lines")


def link_ids(pid: int) -> set[int]:
    """The BPF links process ``pid`` holds (from its fds' fdinfo)."""
    ids = set()
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            text = Path(f"/proc/{pid}/fdinfo/{fd}").read_text()
        except OSError:
            continue
        match = re.search(r"^link_id:\s+(\d+)", text, re.M)
        if match:
            ids.add(int(match.group(1)))
    return ids


def live_link_ids() -> set[int]:
    out = subprocess.run(["bpftool", "-j", "link", "show"], capture_output=True, text=True, check=True).stdout
    return {int(link["id"]) for link in json.loads(out or "[]")}


def summary_number(stderr: str, label: str) -> int:
    match = re.search(rf"^{label}:\s+(\d+)", stderr, re.M)
    assert match, f"no {label!r} in the summary:\n{stderr}"
    return int(match.group(1))


def output_row(stderr: str, name_start: str) -> dict[str, int]:
    """A row of the summary's outputs table as {delivered, failed, dropped, rejected, undelivered}."""
    for line in stderr.splitlines():
        cells = line.split()
        if cells and cells[0].startswith(name_start) and len(cells) >= 7 and "/" in cells[1]:
            return dict(zip(("delivered", "failed", "dropped", "rejected", "undelivered"), map(int, cells[2:7])))
    raise AssertionError(f"no output row {name_start!r} in:\n{stderr}")
